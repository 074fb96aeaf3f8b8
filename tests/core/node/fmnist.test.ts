import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  EMBEDDED_FASHION_MNIST_ROOT,
  FULL_FASHION_MNIST_ROOT,
  loadFashionMnist,
} from '../../../packages/train/src/data/fmnist';
import { writeIdx } from '../../../packages/train/src/data/idx';
import { buildScenes } from '../../../packages/train/src/data/scenes';
import { ImageSet, imageBytes } from '../../../packages/train/src/data/types';

function classCounts(set: ImageSet): number[] {
  const counts = new Array(10).fill(0);
  set.labels?.forEach((l) => counts[l]++);
  return counts;
}

describe('embedded Fashion-MNIST', () => {
  const test = loadFashionMnist(EMBEDDED_FASHION_MNIST_ROOT, 'test');
  const train = loadFashionMnist(EMBEDDED_FASHION_MNIST_ROOT, 'train');

  it('is found from the package', () => {
    expect(EMBEDDED_FASHION_MNIST_ROOT).toBe(path.resolve(__dirname, '..', '..', '..', 'data', 'fashion-mnist'));
  });

  it('holds the whole test split: 10,000 images of 28x28, 1,000 per class', () => {
    expect(test).toMatchObject({ count: 10000, channels: 1, height: 28, width: 28 });
    expect(test.images).toHaveLength(10000 * 28 * 28);
    expect(classCounts(test)).toEqual(new Array(10).fill(1000));
    expect(test.labels?.[0]).toBe(9); // the first test image is an ankle boot
    expect(Math.max(...test.images.subarray(0, 784))).toBeGreaterThan(200); // real pixels, not zeros
  });

  it('holds the class-balanced training subset: 16,000 images, 1,600 per class', () => {
    expect(train).toMatchObject({ count: 16000, channels: 1, height: 28, width: 28 });
    expect(classCounts(train)).toEqual(new Array(10).fill(1600));
    expect(train.labels?.[0]).toBe(9);
    const data = fs.readdirSync(EMBEDDED_FASHION_MNIST_ROOT).map((f) => fs.statSync(path.join(EMBEDDED_FASHION_MNIST_ROOT, f)).size);
    expect(data.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(12_000_000);
  });

  (fs.existsSync(FULL_FASHION_MNIST_ROOT) ? it : it.skip)('equals the first images of each class of the full set', () => {
    const full = loadFashionMnist(FULL_FASHION_MNIST_ROOT, 'train');
    expect(full.count).toBe(60000);
    const seen = new Array(10).fill(0);
    let k = 0;
    for (let i = 0; k < train.count; i++) {
      const label = full.labels?.[i] ?? -1;
      if (seen[label]++ >= 1600) continue;
      expect(train.labels?.[k]).toBe(label);
      if (k % 997 === 0) expect(imageBytes(train, k)).toEqual(imageBytes(full, i));
      k++;
    }
  });

  it('builds scenes from real test images, pixel for pixel', () => {
    const scenes = buildScenes(test, 3, 1);
    expect(scenes.images).toMatchObject({ count: 3, height: 56, width: 56 });
    const it0 = scenes.scenes[0].items[0];
    const canvas = imageBytes(scenes.images, 0);
    const src = imageBytes(test, it0.sourceIndex);
    for (let y = 0; y < 28; y++) {
      const row = canvas.subarray((it0.row * 28 + y) * 56 + it0.col * 28, (it0.row * 28 + y) * 56 + it0.col * 28 + 28);
      expect(row).toEqual(src.subarray(y * 28, y * 28 + 28));
    }
  });
});

describe('loadFashionMnist errors and formats', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmzoo-fmnist-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('names the folder and the missing file', () => {
    expect(() => loadFashionMnist(dir, 'train')).toThrow(
      `Fashion-MNIST train split: missing train-images-idx3-ubyte.gz (or train-images-idx3-ubyte) in folder ${dir}`,
    );
    writeIdx(path.join(dir, 't10k-images-idx3-ubyte'), { dims: [2, 2, 2], data: new Uint8Array(8) });
    expect(() => loadFashionMnist(dir, 'test')).toThrow(
      `Fashion-MNIST test split: missing t10k-labels-idx1-ubyte.gz (or t10k-labels-idx1-ubyte) in folder ${dir}`,
    );
  });

  it('reads uncompressed files and checks labels against images', () => {
    writeIdx(path.join(dir, 't10k-images-idx3-ubyte'), { dims: [2, 2, 2], data: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]) });
    const labels = path.join(dir, 't10k-labels-idx1-ubyte');
    writeIdx(labels, { dims: [2], data: Uint8Array.from([3, 7]) });
    const set = loadFashionMnist(dir, 'test');
    expect(set).toEqual({
      images: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]), count: 2, channels: 1, height: 2, width: 2, labels: Int32Array.from([3, 7]),
    });
    writeIdx(labels, { dims: [3], data: Uint8Array.from([3, 7, 1]) });
    expect(() => loadFashionMnist(dir, 'test')).toThrow(
      `${labels}: expected 2 labels (one per image in ${path.join(dir, 't10k-images-idx3-ubyte')}), found 3`,
    );
    writeIdx(labels, { dims: [2], data: Uint8Array.from([3, 10]) });
    expect(() => loadFashionMnist(dir, 'test')).toThrow(`${labels}: label 10 at index 1 is outside 0-9`);
  });
});
