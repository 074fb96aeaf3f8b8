import {
  itmRerankedRecall, retrievalRecall, retrievalRecallFromScores, scorePairs, EMBEDDED_FASHION_MNIST_ROOT,
  loadFashionMnist, swappedSceneCaptions, buildScenes, canonicalDescription,
} from '@mmzoo/train';
import { ItmScorer, itmLogOdds, tf } from '@mmzoo/core';

describe('ITM re-ranked retrieval (ALBEF section 4.1)', () => {
  const keys = ['a', 'b', 'c', 'd'];
  // ITC ranks the right text second for images 0 and 1 (swapped), first for 2 and 3
  const itc = [
    0.5, 0.9, 0.1, 0.0,
    0.9, 0.5, 0.1, 0.0,
    0.1, 0.0, 0.9, 0.2,
    0.0, 0.1, 0.2, 0.9,
  ];
  const oracle = (ii: Int32Array, ti: Int32Array) => Float32Array.from(ii, (i, p) => (i === ti[p] ? 5 : -5));

  test('recall from scores equals recall from embeddings', () => {
    const img = tf.tensor2d([[1, 0], [0, 1], [0.6, 0.8]]);
    const txt = tf.tensor2d([[0.8, 0.6], [0, 1], [1, 0]]);
    const sims = tf.matMul(img, txt.transpose()).dataSync();
    expect(retrievalRecallFromScores(sims, ['x', 'y', 'z'])).toEqual(retrievalRecall(img, txt, ['x', 'y', 'z']));
  });

  test('an oracle ITM fixes ITC mistakes inside the top k, never outside it', () => {
    const base = retrievalRecallFromScores(itc, keys);
    expect(base.imageToText.r1).toBe(0.5);
    const k2 = itmRerankedRecall(itc, keys, 2, oracle);
    expect(k2.imageToText.r1).toBe(1);
    expect(k2.textToImage.r1).toBe(1);
    expect(k2.k).toBe(2);
    // k = 1: only the ITC top-1 is re-scored; the right text of images 0 and 1 stays outside
    expect(itmRerankedRecall(itc, keys, 1, oracle).imageToText.r1).toBe(0.5);
    // every pair scored once per direction: N * k each
    let calls = 0;
    itmRerankedRecall(itc, keys, 3, (ii, ti) => {
      calls = ii.length;
      return oracle(ii, ti);
    });
    expect(calls).toBe(2 * 4 * 3);
  });

  test('addItc ranks by ITM + ITC', () => {
    const flat = (ii: Int32Array) => new Float32Array(ii.length); // ITM without opinion
    const r = itmRerankedRecall(itc, keys, 4, flat, { addItc: true });
    expect(r.imageToText).toEqual(retrievalRecallFromScores(itc, keys).imageToText);
  });

  test('scorePairs gathers cached features in batches', () => {
    const scorer: ItmScorer = {
      itmImageFeatures: (x) => x,
      itmTextFeatures: (x) => [x],
      itmScore: (image, text) => image.mul(text[0]).sum(1),
    };
    const img = tf.tensor2d([[1, 0], [0, 2], [3, 3]]);
    const txt = tf.tensor2d([[1, 1], [2, 0], [0, 1]]);
    const s = scorePairs(scorer, img, [txt], [0, 1, 2, 2], [0, 2, 1, 2], 3);
    expect(Array.from(s)).toEqual([1, 2, 6, 3]);
  });
});

describe('swapped-position hard negatives of the gallery scenes', () => {
  test('each differs from the gallery caption and describes another layout of the same items', () => {
    const test = loadFashionMnist(EMBEDDED_FASHION_MNIST_ROOT, 'test');
    const n = 40;
    const neg = swappedSceneCaptions(test, n);
    const scenes = buildScenes(test, n, 20240601);
    let found = 0;
    neg.forEach((c, i) => {
      if (c === null) return;
      found++;
      const original = scenes.scenes[i].captions[0];
      expect(c).not.toBe(original);
      // same words apart from position and relation words
      expect(c.split(' ').length).toBeGreaterThan(3);
      expect(canonicalDescription(scenes.scenes[i].items)).toBeTruthy();
    });
    expect(found).toBeGreaterThan(n * 0.9);
  });
});

describe('itmLogOdds', () => {
  test('is logit(match) - logit(no match) per pair, and rejects other shapes', () => {
    const out = itmLogOdds(tf.tensor2d([[0.5, 2], [3, -1], [0, 0]]));
    expect(Array.from(out.dataSync())).toEqual([1.5, -4, 0]);
    expect(() => itmLogOdds(tf.zeros([3, 3]))).toThrow(/expected logits \[K, 2\], got \[3,3\]/);
  });
});
