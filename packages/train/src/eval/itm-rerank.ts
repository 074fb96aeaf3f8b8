import { tf, Tensor, ItmScorer } from '@mmzoo/core';
import { RecallAtK, retrievalRecallFromScores } from './retrieval';

/**
 * Scores of K (image, text) gallery pairs with an {@link ItmScorer}, in batches, from cached features.
 * @param imageFeatures [N, ...] cached image features; @param textFeatures cached text tensors, each [N, ...]
 * @returns float32 scores, one per pair
 */
export function scorePairs(scorer: ItmScorer, imageFeatures: Tensor, textFeatures: Tensor[], imageIndex: ArrayLike<number>, textIndex: ArrayLike<number>, batchSize = 256): Float32Array {
  const k = imageIndex.length;
  const out = new Float32Array(k);
  for (let s = 0; s < k; s += batchSize) {
    const e = Math.min(k, s + batchSize);
    const scores = tf.tidy(() => {
      const ii = tf.tensor1d(Int32Array.from(imageIndex).subarray(s, e), 'int32');
      const ti = tf.tensor1d(Int32Array.from(textIndex).subarray(s, e), 'int32');
      return scorer.itmScore(tf.gather(imageFeatures, ii), textFeatures.map((t) => tf.gather(t, ti))).dataSync();
    });
    out.set(scores, s);
  }
  return out;
}

/** Indices of the k largest values of `row` (ties: lower index first; NaN below every number), best first. */
function topK(row: ArrayLike<number>, k: number): number[] {
  const idx = Array.from({ length: row.length }, (_, i) => i);
  const v = (i: number) => (Number.isNaN(row[i]) ? -Infinity : row[i]);
  idx.sort((a, b) => (v(b) > v(a) ? 1 : v(b) < v(a) ? -1 : a - b));
  return idx.slice(0, k);
}

/** Re-ranked retrieval recall of {@link itmRerankedRecall}. */
export interface RerankedRecall {
  imageToText: RecallAtK;
  textToImage: RecallAtK;
  /** candidates re-ranked per query */
  k: number;
}

/**
 * ALBEF's retrieval procedure (Li et al. 2021, section 4.1 and its evaluation code): for each query, the k
 * candidates of highest ITC similarity are re-scored by ITM and ranked by that score (optionally plus the ITC
 * similarity, as BLIP's evaluation does); every other candidate ranks below them in ITC order. Recall@{1,5,10} is
 * then computed as {@link retrievalRecallFromScores} does (hits by key; ties and NaN scores count against the
 * query, so a NaN ITM score or ITC similarity never turns into a hit).
 * @param itc row-major [N, N] ITC similarities, image i x text j
 * @param keys length N: item keys (a hit when equal)
 * @param k candidates per query (clamped to N)
 * @param score scores pairs (image index, text index) -> one score each (e.g. {@link scorePairs})
 * @param opts.addItc add the ITC similarity to the ITM score (BLIP) instead of ranking by ITM alone (ALBEF)
 */
export function itmRerankedRecall(
  itc: ArrayLike<number>, keys: readonly string[], k: number,
  score: (imageIndex: Int32Array, textIndex: Int32Array) => Float32Array, opts: { addItc?: boolean } = {},
): RerankedRecall {
  const n = keys.length;
  const kk = Math.min(k, n);
  const imgIdx: number[] = [];
  const txtIdx: number[] = [];
  const i2tCand: number[][] = [];
  const t2iCand: number[][] = [];
  for (let i = 0; i < n; i++) {
    const cand = topK(Array.from({ length: n }, (_, j) => itc[i * n + j]), kk);
    i2tCand.push(cand);
    for (const j of cand) {
      imgIdx.push(i);
      txtIdx.push(j);
    }
  }
  for (let j = 0; j < n; j++) {
    const cand = topK(Array.from({ length: n }, (_, i) => itc[i * n + j]), kk);
    t2iCand.push(cand);
    for (const i of cand) {
      imgIdx.push(i);
      txtIdx.push(j);
    }
  }
  const s = score(Int32Array.from(imgIdx), Int32Array.from(txtIdx));
  // outside the top k: below every re-scored candidate, in ITC order
  let lo = Infinity;
  let itcMax = -Infinity;
  // NaN scores are left out of these bounds; they stay NaN in the score matrices, where they count against
  // the query (retrievalRecallFromScores)
  for (let p = 0; p < s.length; p++) {
    const v = s[p] + (opts.addItc ? itc[imgIdx[p] * n + txtIdx[p]] : 0);
    if (v < lo) lo = v;
  }
  for (let p = 0; p < n * n; p++) if (itc[p] > itcMax) itcMax = itc[p];
  if (lo === Infinity) lo = 0;
  if (itcMax === -Infinity) itcMax = 0;
  const i2t = new Float64Array(n * n);
  const t2i = new Float64Array(n * n);
  for (let p = 0; p < n * n; p++) {
    i2t[p] = lo - 1 - (itcMax - itc[p]);
    t2i[p] = i2t[p];
  }
  for (let p = 0; p < s.length; p++) {
    const cell = imgIdx[p] * n + txtIdx[p];
    const v = s[p] + (opts.addItc ? itc[cell] : 0);
    if (p < n * kk) i2t[cell] = v;
    else t2i[cell] = v;
  }
  return {
    imageToText: retrievalRecallFromScores(i2t, keys).imageToText,
    textToImage: retrievalRecallFromScores(t2i, keys).textToImage,
    k: kk,
  };
}
