import { tf } from '../../../packages/core/src/tf';
import { DataSchema } from '../../../packages/train/src/config/experiment';
import { loadImageTextData, makeImageTextBatch, scenePairs } from '../../../packages/train/src/data/image-text';
import { buildTokenizer } from '../../../packages/train/src/tokenizers/build';

// data.scenes.twins through the loader and the batch maker: twins have distinct image ids and share batches.

describe('data.scenes.twins', () => {
  it('defaults to off and reads true / false as the fractions 1 / 0', () => {
    expect(DataSchema.parse({ scenes: { train: 8 } }).scenes).toMatchObject({ train: 8, grid: 2, twins: 0 });
    expect(DataSchema.parse({}).scenes.twins).toBe(0);
    expect(DataSchema.parse({ scenes: { twins: true } }).scenes.twins).toBe(1);
    expect(DataSchema.parse({ scenes: { twins: false } }).scenes.twins).toBe(0);
    expect(DataSchema.parse({ scenes: { twins: 0.25 } }).scenes.twins).toBe(0.25);
    expect(() => DataSchema.parse({ scenes: { twins: 2 } })).toThrow();
  });

  it('loads layouts and twins with distinct ids and keeps each pair in one batch', async () => {
    const cfg = DataSchema.parse({ items: false, trainLimit: 200, scenes: { train: 16, twins: true } });
    const data = await loadImageTextData(cfg, [1, 28, 28], 3);
    expect(data.train.size).toBe(16);
    expect(Array.from(data.train.groups!)).toEqual([0, 2, 4, 6, 8, 10, 12, 14]);
    // scene ids start after the 200 training images
    const ids = Array.from({ length: 16 }, (_, i) => data.train.imageId(i));
    expect(ids).toEqual(Array.from({ length: 16 }, (_, i) => 200 + i));
    const tokenizer = buildTokenizer(data.train, 3);
    const before = tf.memory().numTensors;
    for (let index = 0; index < 8; index++) {
      const batch = makeImageTextBatch(data.train, tokenizer, index, 4, 28, 3);
      const sorted = Array.from(batch.imageIds).sort((a, b) => a - b);
      expect(sorted).toEqual([sorted[0], sorted[0] + 1, sorted[2], sorted[2] + 1]);
      expect(sorted[0] % 2).toBe(0);
      expect(new Set(sorted).size).toBe(4);
      // twins are different images of the same items: equal pixel sums, different pixels
      const px = tf.tidy(() => batch.image.reshape([4, -1]).arraySync()) as number[][];
      const at = (id: number) => px[Array.from(batch.imageIds).indexOf(id)];
      const sum = (v: number[]) => v.reduce((a, b) => a + b, 0);
      expect(sum(at(sorted[1]))).toBeCloseTo(sum(at(sorted[0])), 3);
      expect(at(sorted[1])).not.toEqual(at(sorted[0]));
      tf.dispose([batch.image, batch.text]);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('mixes twin pairs and single scenes into groups', async () => {
    const cfg = DataSchema.parse({ items: false, trainLimit: 200, scenes: { train: 12, twins: 0.5 } });
    const data = await loadImageTextData(cfg, [1, 28, 28], 3);
    const groups = Array.from(data.train.groups!);
    const sizes = groups.map((g, k) => (k + 1 < groups.length ? groups[k + 1] : 12) - g);
    expect(sizes.every((n) => n === 1 || n === 2)).toBe(true);
    expect(sizes).toContain(1);
    expect(sizes).toContain(2);
  });

  it('starts a group at every scene that is not the second of a twin pair', () => {
    // scene 0 has no twin (-1 must not read as "the twin of scene -1"); scenes 1 and 2 are twins
    const images = { images: new Uint8Array(4 * 4), count: 4, channels: 1, height: 2, width: 2 };
    const set = { images, scenes: [], rows: 2, cols: 2, twinOf: Int32Array.from([-1, 2, 1, -1]) };
    expect(Array.from(scenePairs(set, 2, 2).groups!)).toEqual([0, 1, 3]);
    expect(scenePairs({ ...set, twinOf: undefined }, 2, 2).groups).toBeUndefined();
  });
});
