import { Rng } from './rng';

/** Options of {@link maskTokens}. */
export interface TokenMaskingOptions {
  /** probability that an eligible token is selected (BERT: 0.15; BEiT-3 image-text pairs: 0.5) */
  probability: number;
  /** id written over 80% of the selected tokens (`[MASK]`) */
  maskId: number;
  /** vocabulary size V: 10% of the selected tokens become a uniform random id in [firstRandomId, V) */
  vocabSize: number;
  /** ids that are never selected (padding, start and end of text) */
  special: readonly number[];
  /** lowest id drawn as a random replacement (default 0; e.g. the first word id to avoid specials) */
  firstRandomId?: number;
  /** select at least one token per row that has an eligible token (default true), so a loss never sees an empty row */
  atLeastOne?: boolean;
}

/** Result of {@link maskTokens}. */
export interface MaskedTokens {
  /** int32 row-major [B, L]: the corrupted ids */
  ids: Int32Array;
  /** int32 [B, L]: the original id where selected, -100 elsewhere (the cross-entropy ignore index) */
  labels: Int32Array;
  /** number of selected tokens */
  count: number;
}

/**
 * Masked language modelling corruption (BERT, Devlin et al. 2019, section 3.1 "Task #1"): each eligible token is
 * selected with `probability`; a selected token becomes `[MASK]` with probability 0.8, a random id with 0.1 and
 * stays unchanged with 0.1. Pure function of the ids and the generator's state (the caller forks the Rng from
 * its batch seed and index so that resumed runs draw the same masks).
 * @param ids int32 row-major [B, L]
 * @throws RangeError when probability is outside [0, 1] or the shape does not match
 */
export function maskTokens(ids: Int32Array, shape: [number, number], rng: Rng, opts: TokenMaskingOptions): MaskedTokens {
  const [b, l] = shape;
  if (ids.length !== b * l) throw new RangeError(`maskTokens: ${ids.length} ids do not fill [${b}, ${l}]`);
  if (!(opts.probability >= 0 && opts.probability <= 1)) throw new RangeError(`maskTokens: probability ${opts.probability} is outside [0, 1]`);
  const special = new Set(opts.special);
  const out = Int32Array.from(ids);
  const labels = new Int32Array(b * l).fill(-100);
  const lo = opts.firstRandomId ?? 0;
  let count = 0;
  for (let r = 0; r < b; r++) {
    const eligible: number[] = [];
    for (let c = 0; c < l; c++) if (!special.has(ids[r * l + c])) eligible.push(r * l + c);
    const chosen = eligible.filter(() => rng.next() < opts.probability);
    if (chosen.length === 0 && eligible.length > 0 && (opts.atLeastOne ?? true) && opts.probability > 0) chosen.push(rng.choice(eligible));
    for (const k of chosen) {
      labels[k] = ids[k];
      const u = rng.next();
      if (u < 0.8) out[k] = opts.maskId;
      else if (u < 0.9) out[k] = lo + rng.int(opts.vocabSize - lo);
      count += 1;
    }
  }
  return { ids: out, labels, count };
}

/**
 * The special ids of a masked-language-modelling text config (core's `textTokenIdsShape`) with the end id resolved
 * (the config's, else the tokenizer's).
 */
export interface TextTokenIds {
  padId: number;
  startId: number;
  endId: number;
  maskId: number;
  /** lowest id drawn as a random replacement (the first word id) */
  firstWordId: number;
}

/**
 * BERT's masking of the words of a text (Devlin et al. 2019, section 3.1; VLMo section 3.2, BEiT-3 section 2.2):
 * {@link maskTokens} with padding, start and end never selected and random replacements drawn from
 * `min(firstWordId, vocabSize - 1)` upwards; a row with eligible tokens always gets at least one.
 * @param ids int32 row-major [B, L]
 * @param opts.probability selection probability; opts.vocabSize V; opts.tokens the text config's special ids
 * @throws RangeError as {@link maskTokens}
 */
export function maskTextTokens(ids: Int32Array, shape: [number, number], rng: Rng, opts: { probability: number; vocabSize: number; tokens: TextTokenIds }): MaskedTokens {
  const t = opts.tokens;
  return maskTokens(ids, shape, rng, {
    probability: opts.probability, maskId: t.maskId, vocabSize: opts.vocabSize, special: [t.padId, t.startId, t.endId],
    firstRandomId: Math.min(t.firstWordId, opts.vocabSize - 1),
  });
}
