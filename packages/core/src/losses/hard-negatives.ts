import { Rng } from '../data/rng';

/** Options of {@link hardNegativeWeights} and {@link sampleHardNegatives}. */
export interface HardNegativeOptions {
  /**
   * constant added to every softmax probability before the exclusions (default 0: sampling exactly in proportion
   * to the softmax, as ALBEF's paper and torchmultimodal; BLIP's code adds 1e-4) so that no valid candidate has
   * probability 0 even when the softmax underflows
   */
  eps?: number;
}

/**
 * Hard-negative sampling weights (ALBEF, Li et al. 2021, section 3.2 "ITM": "we sample one hard negative text
 * for each image in a mini-batch, where texts that are more similar to the image have a higher chance to be
 * sampled"): row i is `softmax(sim[i, :]) + eps`, with 0 wherever candidate j shares query i's id (the positive
 * itself and every other caption of the same image). Rows are not renormalised (as in the reference code).
 * @param sim row-major [N, M] similarities (logits: cosine / temperature) of N queries against M candidates
 * @param queryIds the N query ids (image ids)
 * @param candidateIds the M candidate ids (default queryIds: a query's own batch)
 * @returns float32 row-major [N, M] weights, each >= 0
 * @throws RangeError when the lengths do not match
 */
export function hardNegativeWeights(
  sim: ArrayLike<number>, queryIds: ArrayLike<number>, candidateIds: ArrayLike<number> = queryIds, opts: HardNegativeOptions = {},
): Float32Array {
  const n = queryIds.length;
  const m = candidateIds.length;
  if (sim.length !== n * m) throw new RangeError(`hardNegativeWeights: ${sim.length} similarities for ${n} queries x ${m} candidates`);
  const eps = opts.eps ?? 0;
  const out = new Float32Array(n * m);
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let j = 0; j < m; j++) max = Math.max(max, sim[i * m + j]);
    let z = 0;
    for (let j = 0; j < m; j++) z += Math.exp(sim[i * m + j] - max);
    for (let j = 0; j < m; j++) {
      out[i * m + j] = candidateIds[j] === queryIds[i] ? 0 : Math.exp(sim[i * m + j] - max) / z + eps;
    }
  }
  return out;
}

/**
 * Throws when a similarity is NaN or infinite: the softmax weights of its row would be NaN and the draw would
 * silently fall back to uniform, hiding a diverged model.
 * @param sim row-major [N, M] similarities
 * @param where the message's prefix, e.g. `sampleItmPairs: ITC text-to-image similarity`
 * @throws Error naming the first row and the value, e.g. "... row 3 holds NaN; the model's embeddings are not finite ..."
 */
function checkFinite(sim: ArrayLike<number>, n: number, m: number, where: string): void {
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      const v = sim[i * m + j];
      if (!Number.isFinite(v)) {
        throw new Error(
          `${where} row ${i} holds ${v} (column ${j}); the model's embeddings are not finite ` +
            '(check the learning rate, or resume from an earlier checkpoint)',
        );
      }
    }
  }
}

/**
 * Draws one hard negative per query in proportion to {@link hardNegativeWeights} (torch.multinomial in the
 * reference code), never the positive and never a candidate with the query's id.
 *
 * Defined behaviour when no valid negative exists (a batch of 1, or every candidate shares the query's id): the
 * query gets -1, meaning "no negative"; models then leave that negative pair out of ITM, so the loss stays finite
 * and is computed over the remaining pairs. A row whose valid weights all underflow to 0 (possible only with
 * eps = 0) falls back to a uniform draw over its valid candidates.
 * @param sim row-major [N, M] similarities (logits)
 * @param rng the generator (forked from the batch seed and index, so resumed runs draw the same negatives);
 *   one draw per query that has a valid candidate
 * @returns int32 [N]: the chosen candidate index per query, or -1
 * @throws RangeError when the lengths do not match; Error naming the row when a similarity is NaN or infinite
 *   (a diverged model; never a silent uniform draw)
 */
export function sampleHardNegatives(
  sim: ArrayLike<number>, queryIds: ArrayLike<number>, rng: Rng, candidateIds: ArrayLike<number> = queryIds, opts: HardNegativeOptions = {},
): Int32Array {
  const n = queryIds.length;
  const m = candidateIds.length;
  if (sim.length === n * m) checkFinite(sim, n, m, 'sampleHardNegatives: ITC similarity');
  const w = hardNegativeWeights(sim, queryIds, candidateIds, opts);
  const out = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    const valid: number[] = [];
    let total = 0;
    for (let j = 0; j < m; j++) {
      if (candidateIds[j] !== queryIds[i]) valid.push(j);
      total += w[i * m + j];
    }
    if (valid.length === 0) continue;
    if (!(total > 0)) {
      out[i] = valid[rng.int(valid.length)];
      continue;
    }
    let u = rng.next() * total;
    let pick = valid[valid.length - 1];
    for (let j = 0; j < m; j++) {
      const wj = w[i * m + j];
      if (wj <= 0) continue;
      if (u < wj) {
        pick = j;
        break;
      }
      u -= wj;
    }
    // rounding can leave u just above the last weight: take the last candidate with weight > 0
    if (w[i * m + pick] <= 0) for (let j = m - 1; j >= 0; j--) if (w[i * m + j] > 0) { pick = j; break; }
    out[i] = pick;
  }
  return out;
}

/** The rows of an ITM batch built by {@link itmPairs}. */
export interface ItmPairs {
  /** text (caption) index of each pair, into the batch */
  textIndex: Int32Array;
  /** image index of each pair, into the batch */
  imageIndex: Int32Array;
  /** int32 label per pair: 1 = matched, 0 = not matched */
  labels: Int32Array;
}

/**
 * The image-text pairs ITM scores (ALBEF section 3.2; BLIP section 3.2), in the reference order: the B positive
 * pairs (i, i); then for each text b its negative image (b, negImageForText[b]); then for each image b its
 * negative text (negTextForImage[b], b). Negatives equal to -1 ({@link sampleHardNegatives}: none exists) are left
 * out, so a batch of 1 gives just its positive pair.
 * @param negImageForText int32 [B]: negative image index per text, or -1
 * @param negTextForImage int32 [B]: negative text index per image, or -1
 * @throws RangeError when the two lengths differ
 */
export function itmPairs(negImageForText: ArrayLike<number>, negTextForImage: ArrayLike<number>): ItmPairs {
  const b = negImageForText.length;
  if (negTextForImage.length !== b) throw new RangeError(`itmPairs: ${b} negative images but ${negTextForImage.length} negative texts`);
  const text: number[] = [];
  const image: number[] = [];
  const labels: number[] = [];
  for (let i = 0; i < b; i++) {
    text.push(i);
    image.push(i);
    labels.push(1);
  }
  for (let i = 0; i < b; i++) {
    if (negImageForText[i] < 0) continue;
    text.push(i);
    image.push(negImageForText[i]);
    labels.push(0);
  }
  for (let i = 0; i < b; i++) {
    if (negTextForImage[i] < 0) continue;
    text.push(negTextForImage[i]);
    image.push(i);
    labels.push(0);
  }
  return { textIndex: Int32Array.from(text), imageIndex: Int32Array.from(image), labels: Int32Array.from(labels) };
}

/** What {@link sampleItmPairs} drew: weights, choices and the resulting pairs. */
export interface SampledItmPairs extends ItmPairs {
  /** row-major [B, B] sampling weights, text -> image and image -> text */
  weightsT2i: Float32Array;
  weightsI2t: Float32Array;
  /** the negative image of each text and the negative text of each image (-1: none exists) */
  negImageForText: Int32Array;
  negTextForImage: Int32Array;
}

/**
 * The ITM batch of ALBEF (section 3.2) and BLIP (section 3.2) from the ITC similarities of the step: for each text a
 * negative image drawn from `simT2i[:, :B]`, then for each image a negative text from `simI2t[:, :B]` (the order of
 * the reference code), excluding same-id samples, then {@link itmPairs}.
 * @param simI2t float32 [B, B + Q] image-to-text similarities (the first B columns are the batch)
 * @param simT2i float32 [B, B + Q] text-to-image similarities
 * @param ids the B image ids
 * @param rng one draw per query with a valid candidate, texts first
 * @throws Error naming the matrix and row when a batch similarity is NaN or infinite (the model diverged)
 */
export function sampleItmPairs(
  simI2t: { dataSync(): ArrayLike<number>; shape: number[] }, simT2i: { dataSync(): ArrayLike<number>; shape: number[] },
  ids: ArrayLike<number>, rng: Rng, opts: HardNegativeOptions = {},
): SampledItmPairs {
  const b = ids.length;
  const batchBlock = (s: { dataSync(): ArrayLike<number>; shape: number[] }) => {
    const cols = s.shape[1];
    const all = s.dataSync();
    const out = new Float32Array(b * b);
    for (let i = 0; i < b; i++) for (let j = 0; j < b; j++) out[i * b + j] = all[i * cols + j];
    return out;
  };
  const t2i = batchBlock(simT2i);
  const i2t = batchBlock(simI2t);
  checkFinite(t2i, b, b, 'sampleItmPairs: ITC text-to-image similarity');
  checkFinite(i2t, b, b, 'sampleItmPairs: ITC image-to-text similarity');
  const negImageForText = sampleHardNegatives(t2i, ids, rng, ids, opts);
  const negTextForImage = sampleHardNegatives(i2t, ids, rng, ids, opts);
  return {
    ...itmPairs(negImageForText, negTextForImage),
    weightsT2i: hardNegativeWeights(t2i, ids, ids, opts), weightsI2t: hardNegativeWeights(i2t, ids, ids, opts),
    negImageForText, negTextForImage,
  };
}
