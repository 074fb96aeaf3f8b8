import { tf, Rng, blockMask, blockMaskBatch, maskedImageModelingLoss, maskedPredictionLoss } from '@mmzoo/core';
import { useBackend } from '../../helpers/fixtures';

const nll = (logits: number[], label: number) => Math.log(logits.reduce((a, v) => a + Math.exp(v), 0)) - logits[label];

describe('masked prediction losses (core, shared by BEiT-3 and VLMo)', () => {
  beforeAll(() => useBackend('cpu'));

  test('maskedPredictionLoss: mean cross-entropy of the head at the flat positions', () => {
    const f = [[[0, 1], [2, -1], [0.5, 0.5]], [[3, 0], [1, 1], [-2, 4]]];
    const feats = tf.tensor3d(f);
    const before = tf.memory().numTensors;
    const loss = maskedPredictionLoss(feats, [1, 5, 3], [0, 1, 0], (x) => x.mul(2));
    const expected = (nll([4, -2], 0) + nll([-4, 8], 1) + nll([6, 0], 0)) / 3;
    expect(loss.dataSync()[0]).toBeCloseTo(expected, 5);
    loss.dispose();
    const none = maskedPredictionLoss(feats, [], [], (x) => x);
    expect(none.dataSync()[0]).toBe(0);
    none.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => maskedPredictionLoss(feats, [1], [], (x) => x)).toThrow('maskedPredictionLoss: 1 positions but 0 labels');
    feats.dispose();
  });

  test('maskedImageModelingLoss: patch p of image r sits at token offset + p; its target is targets[r * patches + p]', () => {
    // 2 images, 2 patches, a class token first: tokens [cls, p0, p1]
    const feats = tf.tensor3d([[[9, 9], [1, 0], [0, 1]], [[9, 9], [2, 0], [0, 3]]]);
    const targets = Int32Array.from([1, 0, 0, 1]);
    const loss = maskedImageModelingLoss(feats, [[0], [0, 1]], targets, 2, (x) => x);
    const expected = (nll([1, 0], 1) + nll([2, 0], 0) + nll([0, 3], 1)) / 3;
    expect(loss.dataSync()[0]).toBeCloseTo(expected, 5);
    tf.dispose([loss, feats]);
  });

  test('blockMaskBatch: row r is blockMask with rng.fork(r); exactly round(ratio * patches) per image', () => {
    const grid: [number, number] = [4, 4];
    const { mask, rows } = blockMaskBatch(grid, 3, 0.4, new Rng(5).fork('x'), { minBlock: 16 });
    expect(mask.length).toBe(48);
    for (let r = 0; r < 3; r++) {
      const single = blockMask(grid, 6, new Rng(5).fork('x').fork(r), { minBlock: 16 });
      expect(Array.from(mask.subarray(r * 16, r * 16 + 16))).toEqual(Array.from(single));
      expect(rows[r]).toEqual(Array.from(single).flatMap((v, p) => (v ? [p] : [])));
      expect(rows[r].length).toBe(6);
    }
  });
});
