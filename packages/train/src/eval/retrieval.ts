import { tf, Tensor, Tensor2D, matMul2d } from '@mmzoo/core';

/** Recall@k of one direction, with the chance level of a random ranking beside each. */
export interface RecallAtK {
  r1: number;
  r5: number;
  r10: number;
  /** expected r1, r5, r10 of a uniformly random ranking on the same gallery */
  chance: { r1: number; r5: number; r10: number };
}

/**
 * Image-to-text and text-to-image retrieval recall@{1,5,10} (as in CLIP/ALBEF evaluation) where a retrieved item
 * counts as a hit when its key equals the query's key (scenes with equal canonical descriptions are
 * interchangeable, so identical scenes do not punish the model).
 * @param imageEmbeddings float32 [N, E] normalised
 * @param textEmbeddings float32 [N, E] normalised; text i describes image i
 * @param keys length N: the canonical key of item i (the same for image i and text i)
 * @param similarity the scores [N, N] of image and text embeddings (default: the cosine `image @ text^T`; a model's
 *   own, core `dualEncoderScores`)
 */
export function retrievalRecall(
  imageEmbeddings: Tensor, textEmbeddings: Tensor, keys: readonly string[],
  similarity: (image: Tensor, text: Tensor) => Tensor = (a, b) => matMul2d(a as Tensor2D, b.transpose() as Tensor2D),
): { imageToText: RecallAtK; textToImage: RecallAtK } {
  const sims = tf.tidy(() => similarity(imageEmbeddings, textEmbeddings).dataSync());
  return retrievalRecallFromScores(sims, keys);
}

/**
 * The pessimistic rank of a correct answer among competitors: how many competitors score at or above `own`
 * (ties count against the answer, so a model that scores everything alike ranks last, not first). A NaN never
 * helps: a NaN `own` gives Infinity (a miss at every k), and a NaN competitor counts as above.
 * @param own the correct answer's score (higher is better)
 * @param competitors the scores of the wrong answers
 * @returns 0 when `own` beats every competitor strictly; Infinity when `own` is NaN
 */
export function pessimisticRank(own: number, competitors: Iterable<number>): number {
  if (Number.isNaN(own)) return Infinity;
  let above = 0;
  for (const c of competitors) if (!(c < own)) above++; // c >= own, or c NaN
  return above;
}

/**
 * {@link retrievalRecall} from a precomputed score matrix (e.g. ITC similarities re-ranked by an ITM head,
 * ALBEF section 4.1), with the same rule: a query's rank is the number of non-hits scoring at or above its
 * best-scoring hit ({@link pessimisticRank}: ties count against the query). NaN never counts in a query's
 * favour: a NaN hit is ignored when choosing the best hit, a query whose hits are all NaN is a miss, and a NaN
 * non-hit counts as above the best hit.
 * @param scores row-major [N, N]: scores[i * N + j] is the score of image i with text j (higher is better)
 * @param keys length N: the canonical key of item i
 */
export function retrievalRecallFromScores(scores: ArrayLike<number>, keys: readonly string[]): { imageToText: RecallAtK; textToImage: RecallAtK } {
  const n = keys.length;
  const sims = scores;
  const matches = new Map<string, number>();
  for (const k of keys) matches.set(k, (matches.get(k) ?? 0) + 1);
  const direction = (score: (q: number, c: number) => number): RecallAtK => {
    const hits = [0, 0, 0];
    const chance = [0, 0, 0];
    for (let q = 0; q < n; q++) {
      // rank of the best-scoring hit = number of non-hits scoring at or above it
      let best = NaN;
      const others: number[] = [];
      for (let c = 0; c < n; c++) {
        const v = score(q, c);
        if (keys[c] !== keys[q]) others.push(v);
        else if (!Number.isNaN(v) && !(v <= best)) best = v; // NaN best: no valid hit yet
      }
      const above = pessimisticRank(best, others);
      const m = matches.get(keys[q])!;
      [1, 5, 10].forEach((k, j) => {
        if (above < k) hits[j]++;
        chance[j] += chanceAtK(n, m, k);
      });
    }
    return { r1: hits[0] / n, r5: hits[1] / n, r10: hits[2] / n, chance: { r1: chance[0] / n, r5: chance[1] / n, r10: chance[2] / n } };
  };
  return {
    imageToText: direction((q, c) => sims[q * n + c]),
    textToImage: direction((q, c) => sims[c * n + q]),
  };
}

/** Probability that a random ranking of n items with m hits has a hit in its top k: 1 - C(n-m, k) / C(n, k). */
export function chanceAtK(n: number, m: number, k: number): number {
  if (k >= n) return 1;
  let miss = 1;
  for (let i = 0; i < k; i++) miss *= (n - m - i) / (n - i);
  return 1 - Math.max(0, miss);
}
