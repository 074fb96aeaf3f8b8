/**
 * Builds the embedded Fashion-MNIST data under data/fashion-mnist/ from the full set.
 *
 *   npx tsx scripts/make-fmnist-subset.ts [sourceDir] [perClass]
 *
 * sourceDir defaults to /usr/share/datasets/fashion-mnist (Debian package dataset-fashion-mnist);
 * perClass defaults to 1600. The test split is copied byte for byte. The training subset keeps, in the
 * original order, every training image whose class has not yet reached `perClass` images, i.e. the first
 * `perClass` images of each class (10 * perClass images, class-balanced), written as gzipped IDX files.
 * The output is deterministic (same input, same bytes).
 */
import * as fs from 'fs';
import * as path from 'path';
import { readIdx, writeIdx } from '../packages/train/src/data/idx';

const source = process.argv[2] ?? '/usr/share/datasets/fashion-mnist';
const perClass = Number(process.argv[3] ?? 1600);
const target = path.resolve(__dirname, '..', 'data', 'fashion-mnist');
if (!Number.isInteger(perClass) || perClass <= 0) throw new Error(`perClass must be a positive integer, got ${process.argv[3]}`);

fs.mkdirSync(target, { recursive: true });
for (const name of ['t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz']) {
  fs.copyFileSync(path.join(source, name), path.join(target, name));
}

const images = readIdx(path.join(source, 'train-images-idx3-ubyte.gz'));
const labels = readIdx(path.join(source, 'train-labels-idx1-ubyte.gz'));
const [count, height, width] = images.dims;
if (labels.dims[0] !== count) throw new Error(`image count ${count} != label count ${labels.dims[0]}`);
const pixels = height * width;

const taken = new Array<number>(10).fill(0);
const keep: number[] = [];
for (let i = 0; i < count && keep.length < 10 * perClass; i++) {
  const label = labels.data[i];
  if (taken[label] < perClass) {
    taken[label]++;
    keep.push(i);
  }
}
if (taken.some((t) => t < perClass)) throw new Error(`not enough images per class: ${taken.join(', ')}`);

const outImages = new Uint8Array(keep.length * pixels);
const outLabels = new Uint8Array(keep.length);
keep.forEach((src, dst) => {
  outImages.set(images.data.subarray(src * pixels, (src + 1) * pixels), dst * pixels);
  outLabels[dst] = labels.data[src];
});
writeIdx(path.join(target, 'train-images-idx3-ubyte.gz'), { dims: [keep.length, height, width], data: outImages });
writeIdx(path.join(target, 'train-labels-idx1-ubyte.gz'), { dims: [keep.length], data: outLabels });
console.log(
  `wrote ${keep.length} training images (${perClass} per class, source indices 0..${keep[keep.length - 1]}) ` +
    `and the 10,000 test images to ${target}`,
);
