/** Scores of a filter that removes noisy samples, against known noise flags (browser-safe). */

/** Precision and recall of a noise filter ({@link filterPrecisionRecall}). */
export interface FilterScores {
  /** samples scored */
  total: number;
  /** samples the filter removed */
  removed: number;
  /** samples that are noisy (corrupted) */
  noisy: number;
  /** removed samples that are noisy */
  truePositives: number;
  /** truePositives / removed: how many removals were right; null when nothing was removed */
  precision: number | null;
  /** truePositives / noisy: how much of the noise was removed; null when nothing is noisy */
  recall: number | null;
}

/**
 * Precision and recall of a filter at removing noisy samples: precision = noisy among removed, recall = removed
 * among noisy (e.g. BLIP's CapFilt filter, Li et al. 2022 section 3.3, scored on a copy with known corrupted
 * captions). A ratio with an empty denominator is null, never 0 or NaN.
 * @param removed per sample, whether the filter removed it
 * @param noisy per sample, whether it is noisy (the ground truth)
 * @throws RangeError when the two lists differ in length
 */
export function filterPrecisionRecall(removed: ArrayLike<boolean>, noisy: ArrayLike<boolean>): FilterScores {
  if (removed.length !== noisy.length) throw new RangeError(`filterPrecisionRecall: ${removed.length} removal flags but ${noisy.length} noise flags`);
  let r = 0;
  let nz = 0;
  let tp = 0;
  for (let i = 0; i < removed.length; i++) {
    if (removed[i]) r++;
    if (noisy[i]) nz++;
    if (removed[i] && noisy[i]) tp++;
  }
  return { total: removed.length, removed: r, noisy: nz, truePositives: tp, precision: r > 0 ? tp / r : null, recall: nz > 0 ? tp / nz : null };
}
