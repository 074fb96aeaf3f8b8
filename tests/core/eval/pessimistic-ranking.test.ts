import {
  itmRerankedRecall, pessimisticRank, retrievalRecall, retrievalRecallFromScores, top1Accuracy, zeroShotAccuracy,
} from '@mmzoo/train';
import { tf } from '@mmzoo/core';

// Issue 14: a metric is never computed in the model's favour from ties or NaN. Before the fix, NaN weights gave
// retrieval R@1 = 1.000 both ways (NaN > best is false, so no non-hit ranked above the hit) and zero-shot top-1 = 1.
describe('pessimisticRank', () => {
  test('counts competitors at or above the answer; NaN never helps', () => {
    expect(pessimisticRank(0.9, [0.1, 0.5])).toBe(0);
    expect(pessimisticRank(0.5, [0.1, 0.5, 0.7])).toBe(2); // the tie counts against
    expect(pessimisticRank(0.9, [NaN, 0.1])).toBe(1); // a NaN competitor counts as above
    expect(pessimisticRank(NaN, [0.1])).toBe(Infinity); // a NaN answer is a miss at every k
    expect(pessimisticRank(NaN, [])).toBe(Infinity);
    expect(pessimisticRank(0, [])).toBe(0);
  });
});

describe('retrieval recall with ties and NaN', () => {
  const keys = ['a', 'b', 'c'];

  test('a normal case is unchanged', () => {
    // image i best matches text i, except image 2 which prefers text 0 (0.8 > 0.7)
    const s = [
      0.9, 0.1, 0.2,
      0.3, 0.8, 0.1,
      0.8, 0.2, 0.7,
    ];
    const r = retrievalRecallFromScores(s, keys);
    expect(r.imageToText.r1).toBeCloseTo(2 / 3, 12);
    expect(r.imageToText.r5).toBe(1);
    // columns: text 0 is scored 0.9 by its image and 0.8 by image 2: a hit; text 1 0.8 vs 0.2; text 2 0.7 vs 0.2
    expect(r.textToImage.r1).toBe(1);
    expect(r.imageToText.chance.r1).toBeCloseTo(1 / 3, 12);
  });

  test('all-equal scores: R@1 = 0 when the gallery has non-hits (ties count against)', () => {
    const r = retrievalRecallFromScores(new Array(9).fill(0.5), keys);
    expect(r.imageToText).toEqual({ r1: 0, r5: 1, r10: 1, chance: r.imageToText.chance });
    expect(r.textToImage.r1).toBe(0);
    // rank 2 of 3: a hit at k = 5 and 10, not at 1
    expect(r.textToImage.r5).toBe(1);
  });

  test('all-equal scores on a gallery of one key: every query is a hit (nothing to tie with)', () => {
    const r = retrievalRecallFromScores(new Array(4).fill(0), ['x', 'x']);
    expect(r.imageToText.r1).toBe(1);
  });

  test('NaN scores give 0 at every k', () => {
    const r = retrievalRecallFromScores(new Array(9).fill(NaN), keys);
    expect([r.imageToText.r1, r.imageToText.r5, r.imageToText.r10]).toEqual([0, 0, 0]);
    expect([r.textToImage.r1, r.textToImage.r5, r.textToImage.r10]).toEqual([0, 0, 0]);
  });

  test('NaN embeddings (NaN weights) give R@1 = 0, not 1', () => {
    const img = tf.fill([4, 2], NaN);
    const txt = tf.fill([4, 2], NaN);
    const r = retrievalRecall(img, txt, ['a', 'b', 'c', 'd']);
    expect(r.imageToText.r1).toBe(0);
    expect(r.textToImage.r1).toBe(0);
    tf.dispose([img, txt]);
  });

  test('one NaN non-hit counts above the hit; a NaN hit is ignored when another hit is valid', () => {
    // image 0: hit 0.9, non-hits NaN and 0.1 -> rank 1; image 1: hit NaN -> miss; image 2: 0.9 vs 0.1, 0.2 -> hit
    const s = [
      0.9, NaN, 0.1,
      0.3, NaN, 0.1,
      0.1, 0.2, 0.9,
    ];
    const r = retrievalRecallFromScores(s, keys);
    expect(r.imageToText.r1).toBeCloseTo(1 / 3, 12);
    expect(r.imageToText.r5).toBeCloseTo(2 / 3, 12);
    // keys a, a, b: image 0's hits are texts 0 (NaN) and 1 (0.8); the non-hit scores 0.5 -> a hit
    const dup = retrievalRecallFromScores([NaN, 0.8, 0.5, 0.1, 0.9, 0.2, 0.1, 0.1, 0.9], ['a', 'a', 'b']);
    expect(dup.imageToText.r1).toBe(1);
  });
});

describe('ITM re-ranked recall with ties and NaN', () => {
  const keys = ['a', 'b', 'c', 'd'];
  const itc = [
    0.9, 0.1, 0.0, 0.0,
    0.1, 0.9, 0.0, 0.0,
    0.0, 0.0, 0.9, 0.1,
    0.0, 0.0, 0.1, 0.9,
  ];

  test('a NaN ITM score never re-ranks a query into a hit', () => {
    const r = itmRerankedRecall(itc, keys, 2, (ii) => new Float32Array(ii.length).fill(NaN));
    expect([r.imageToText.r1, r.textToImage.r1, r.imageToText.r10]).toEqual([0, 0, 0]);
  });

  test('NaN ITC similarities give 0', () => {
    const r = itmRerankedRecall(new Array(16).fill(NaN), keys, 2, (ii) => new Float32Array(ii.length).fill(1));
    // every re-scored candidate ties at 1 and every other cell is NaN: no query wins
    expect(r.imageToText.r1).toBe(0);
    expect(r.textToImage.r1).toBe(0);
  });

  test('an ITM head without opinion (equal scores) gets R@1 = 0, not 1', () => {
    const r = itmRerankedRecall(itc, keys, 2, (ii) => new Float32Array(ii.length));
    expect(r.imageToText.r1).toBe(0);
    expect(r.imageToText.r5).toBe(1); // rank 1 (one tied candidate) < 5
  });
});

describe('zero-shot accuracy with ties and NaN', () => {
  const classes = tf.tensor2d([[1, 0], [0, 1], [-1, 0]]);
  const labels = [0, 1, 2];

  test('a normal case is unchanged', () => {
    const img = tf.tensor2d([[1, 0], [0, 1], [0.6, 0.8]]);
    // image 2 (label 2) scores 0.6, 0.8, -0.6: rank 2 of 3
    expect(zeroShotAccuracy(img, classes, labels, [1, 2, 3])).toEqual({ top1: 2 / 3, top2: 2 / 3, top3: 1 });
    img.dispose();
  });

  test('all-equal scores count as wrong at top-1', () => {
    const img = tf.zeros([3, 2]);
    expect(zeroShotAccuracy(img, classes, labels, [1, 3])).toEqual({ top1: 0, top3: 1 });
    img.dispose();
  });

  test('NaN image embeddings give 0 at every k', () => {
    const img = tf.fill([3, 2], NaN);
    expect(zeroShotAccuracy(img, classes, labels, [1, 5])).toEqual({ top1: 0, top5: 0 });
    img.dispose();
  });
});

describe('linear probe top-1 with ties and NaN', () => {
  test('argmax rules: strict winner only', () => {
    // rows: correct; tie between the true class and another; NaN rival; NaN own; correct
    const logits = [
      2, 1, 0,
      1, 1, 0,
      3, NaN, 0,
      NaN, 1, 0,
      0, 0, 5,
    ];
    expect(top1Accuracy(logits, [0, 0, 0, 0, 2], 3)).toBeCloseTo(2 / 5, 12);
    expect(top1Accuracy(new Float32Array(6).fill(NaN), [0, 1], 3)).toBe(0);
    expect(top1Accuracy([], [], 3)).toBe(0);
  });
});
