import { checkSearchSettings, SearchResult, TokenSearch } from './search';

/**
 * What a generative model offers the decoders: the next-token logits of a set of prefixes.
 * @param prefixes token ids so far, one row per hypothesis; in one call every row has the same length
 * @param sources for each row, the index of the source (e.g. image) it continues: rows of one source share its
 *   conditioning; beam search sends several rows per source
 * @returns one float32 [V] array of unnormalised logits per row, in order
 */
export type NextTokenLogits = (prefixes: number[][], sources: number[]) => Float32Array[];

/** Decoding strategies of {@link generate}. */
export type DecodeStrategy = 'greedy' | 'beam' | 'nucleus';

/** Options of {@link generate}; lengths count generated tokens, the prompt excluded. */
export interface GenerateOptions {
  /** default 'greedy' */
  strategy?: DecodeStrategy;
  /** most tokens to generate per source (the end token included) */
  maxLength: number;
  /** the end token is suppressed until this many tokens have been generated (default 0) */
  minLength?: number;
  /** end-of-text id: a hypothesis ends after generating it; without one every hypothesis runs to maxLength */
  endId?: number;
  /** ids never generated (e.g. padding, start, unknown) */
  suppressIds?: number[];
  /** CTRL repetition penalty over the tokens of the sequence so far, prompt included (default 1: none) */
  repetitionPenalty?: number;
  /** beam search: hypotheses kept per source (default 4) */
  beamSize?: number;
  /**
   * beam search: a finished hypothesis scores `sum log p / length^lengthPenalty`, length = generated tokens
   * (default 1: mean log-probability; 0: plain sum, which favours short hypotheses)
   */
  lengthPenalty?: number;
  /** nucleus sampling: probability mass kept (default 0.9) */
  topP?: number;
  /** nucleus sampling: logits are divided by this before the softmax (default 1) */
  temperature?: number;
  /** nucleus sampling: seed; source i draws from `new Rng(seed).fork(i)` (default 0) */
  seed?: number;
}

/** Output of {@link generate}, one entry per source (the shared search's result; beam scores are length-normalised). */
export type GenerateResult = SearchResult;

/**
 * Autoregressive decoding for any model that gives next-token logits ({@link NextTokenLogits}): every generative
 * model in mmzoo (CoCa, BLIP, ...) captions through this one function. Strategies:
 * - `greedy`: the most probable token at each step;
 * - `beam`: beam search (Graves 2012; Sutskever et al. 2014, section 3.1) with `beamSize` hypotheses per source
 *   and a length penalty on finished hypotheses (`sum log p / length^lengthPenalty`); a source stops when it has
 *   `beamSize` finished hypotheses and no running one can still beat the worst of them;
 * - `nucleus`: top-p sampling (Holtzman et al. 2020, section 3.1) at `temperature`, seeded with core's Rng.
 * At each step, before choosing, the logits are processed in this order: repetition penalty (CTRL, Keskar et al.
 * 2019), suppression of `suppressIds`, suppression of `endId` while fewer than `minLength` tokens were generated.
 * The choosing is core's one {@link TokenSearch} (./search.ts), which the KV-cached `generateCausal` drives too;
 * here every step re-scores whole prefixes, sent to `next` in groups of equal length.
 * Host-side and synchronous: `next` owns the tensors (if any) and returns plain arrays.
 *
 * @param next the model's next-token logits
 * @param prompts one prompt (e.g. `[startId]`) per source, each non-empty
 * @returns sequences, generated tokens and scores per source
 * @throws RangeError on invalid options (maxLength < 1, minLength > maxLength, beamSize < 1, topP outside (0, 1],
 *   temperature <= 0, repetitionPenalty <= 0) or an empty prompt; Error when `next` returns the wrong number of rows
 */
export function generate(next: NextTokenLogits, prompts: number[][], opts: GenerateOptions): GenerateResult {
  const strategy = opts.strategy ?? 'greedy';
  if (!['greedy', 'beam', 'nucleus'].includes(strategy)) throw new RangeError(`generate: unknown strategy '${strategy}'; valid: greedy, beam, nucleus`);
  const settings = checkSearchSettings({
    strategy: strategy === 'nucleus' ? 'sample' : strategy, maxNewTokens: opts.maxLength, minNewTokens: opts.minLength ?? 0,
    stopIds: opts.endId === undefined ? [] : [opts.endId], suppressIds: opts.suppressIds ?? [], repetitionPenalty: opts.repetitionPenalty ?? 1,
    numBeams: opts.beamSize ?? 4, lengthPenalty: opts.lengthPenalty ?? 1, temperature: opts.temperature ?? 1, topK: 0, topP: opts.topP ?? 0.9,
    seed: opts.seed ?? 0,
  }, 'generate', { maxNewTokens: 'maxLength', minNewTokens: 'minLength', numBeams: 'beamSize' }, prompts.length);
  if (prompts.some((p) => p.length === 0)) throw new RangeError('generate: every prompt needs at least one token');
  const search = new TokenSearch(prompts, settings);
  while (!search.done) {
    const rows = search.rows;
    // rows go to the model in groups of equal prefix length (prompts may differ in length), each tagged with its source
    const byLength = new Map<number, number[]>();
    rows.forEach((row, i) => byLength.set(row.seq.length, [...(byLength.get(row.seq.length) ?? []), i]));
    const logits: Float32Array[] = new Array(rows.length);
    for (const group of byLength.values()) {
      const out = next(group.map((i) => rows[i].seq as number[]), group.map((i) => rows[i].source));
      if (out.length !== group.length) throw new Error(`generate: nextTokenLogits returned ${out.length} rows for ${group.length} prefixes`);
      group.forEach((i, k) => (logits[i] = out[k]));
    }
    search.advance(logits);
  }
  return search.result();
}
