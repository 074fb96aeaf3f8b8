/**
 * The KV-cached decoding engine of decoder-only language models ({@link CausalLM}: LLaMA, GPT-2, OPT): batched
 * prompts of different lengths, greedy / beam search / sampling through core's one {@link TokenSearch}.
 */
import { tf } from '../tf';
import type { KVCache } from '../nn/kv-cache';
import type { CausalLM } from './causal-lm';
import { checkSearchSettings, OnToken, SearchResult, SearchStrategy, TokenSearch } from './search';

/** Options of {@link generateCausal}; lengths count generated tokens, the prompt excluded. */
export interface CausalGenerateOptions {
  /** default 'greedy' */
  strategy?: SearchStrategy;
  /** most tokens generated per prompt (a stop token included), >= 1 */
  maxNewTokens: number;
  /** the stop ids are suppressed until this many tokens have been generated (default 0) */
  minNewTokens?: number;
  /** generating any of these ends a row (the token is kept; e.g. the end-of-text id); default none */
  stopIds?: readonly number[];
  /** ids never generated (default none) */
  suppressIds?: readonly number[];
  /** CTRL repetition penalty over the row so far, prompt included (default 1: none) */
  repetitionPenalty?: number;
  /** beam search: hypotheses kept per prompt (default 4) */
  numBeams?: number;
  /** beam search: finished hypotheses score `sum log p / length^lengthPenalty` (default 1) */
  lengthPenalty?: number;
  /** sampling: logits are divided by this (default 1) */
  temperature?: number;
  /** sampling: draw among the k most probable tokens only (default 0: no limit) */
  topK?: number;
  /** sampling: draw within the nucleus of this mass (default 1: no limit) */
  topP?: number;
  /**
   * sampling: a number (default 0): row i draws from `new Rng(seed).fork(i)`; one per prompt: row i draws what the
   * prompt alone would with that seed
   */
  seed?: number | readonly number[];
  /** true (default): each step feeds only the new tokens against the KV cache; false: re-run the whole sequences every step */
  useCache?: boolean;
  /** the id left padding is filled with (default 0; its embedding never reaches a real position) */
  padId?: number;
  /** streaming: called with each row's new token as it is chosen; returning true ends that row (stop strings) */
  onToken?: OnToken;
  /** greedy and sampling: keep every step's raw logits in {@link CausalGenerateResult.stepLogits} */
  keepLogits?: boolean;
}

/** Output of {@link generateCausal}, one entry per prompt. */
export interface CausalGenerateResult extends SearchResult {
  /**
   * with `keepLogits` (greedy and sampling): the float32 [V] logits each step chose from, `stepLogits[row][s]` the
   * last-position logits of prompt + s tokens, before any processing
   */
  stepLogits?: Float32Array[][];
}

/**
 * Generates continuations of a batch of prompts of different lengths with one forward pass per step (llama2.c
 * `run.c`'s loop; HF `generate`): the prompts are left-padded to the longest, the padding masked and positions
 * taken from the mask (`cumsum - 1`), so each row computes what its prompt alone would. With the cache the prompts
 * run once, then each step feeds only the new token of each row; rows that stop are dropped from the batch and, in
 * beam search, the cache's rows follow the re-selected beams ({@link KVCache.select}). Token choice, stop ids, min
 * and max new tokens and the streaming callback are {@link TokenSearch}'s. Tensors are freed as it goes.
 * @param prompts token ids, one non-empty row per prompt
 * @returns sequences, generated tokens and scores per prompt (and step logits with `keepLogits`)
 * @throws Error `generateCausal: ...` for an empty prompt list or prompt, or when the longest prompt plus
 *   maxNewTokens exceeds the model's context (maxSeqLen); RangeError for a bad option ({@link checkSearchSettings})
 */
export function generateCausal(model: CausalLM, prompts: number[][], opts: CausalGenerateOptions): CausalGenerateResult {
  return decodeCausal(model, prompts, opts, 'generateCausal');
}

/** Options of {@link greedyGenerate}. */
export interface GreedyGenerateOptions {
  /** tokens generated after each prompt, >= 1 */
  maxNewTokens: number;
  /** true (default): run each new token alone against the KV cache; false: re-run the whole sequence every step (the reference loops) */
  useCache?: boolean;
  /** the id left padding is filled with (default 0) */
  padId?: number;
}

/** Output of {@link greedyGenerate}, one entry per prompt. */
export interface GreedyGenerateResult {
  /** the prompt followed by the generated tokens */
  ids: number[][];
  /** float32 [V] logits each step chose from: `stepLogits[row][s]` are the last-position logits of prompt + s tokens */
  stepLogits: Float32Array[][];
}

/**
 * Greedy decoding of `maxNewTokens` tokens per prompt, no stop token: {@link generateCausal} with strategy
 * 'greedy', keeping the step logits (what the LM goldens record).
 * @throws Error `greedyGenerate: ...` as {@link generateCausal}
 */
export function greedyGenerate(model: CausalLM, prompts: number[][], opts: GreedyGenerateOptions): GreedyGenerateResult {
  const out = decodeCausal(model, prompts, { ...opts, strategy: 'greedy', keepLogits: true }, 'greedyGenerate');
  return { ids: out.sequences, stepLogits: out.stepLogits! };
}

/** {@link generateCausal}, its messages prefixed with `who`. */
function decodeCausal(model: CausalLM, prompts: number[][], opts: CausalGenerateOptions, who: string): CausalGenerateResult {
  const { maxNewTokens } = opts;
  if (prompts.length === 0 || prompts.some((p) => p.length === 0)) throw new Error(`${who}: every prompt needs at least one token`);
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) throw new Error(`${who}: maxNewTokens must be an integer >= 1, got ${maxNewTokens}`);
  const longest = Math.max(...prompts.map((p) => p.length));
  if (longest + maxNewTokens > model.maxSeqLen) {
    throw new Error(`${who}: a prompt of ${longest} tokens plus ${maxNewTokens} new tokens exceeds the context length ${model.maxSeqLen}`);
  }
  const settings = checkSearchSettings({
    strategy: opts.strategy ?? 'greedy', maxNewTokens, minNewTokens: opts.minNewTokens ?? 0, stopIds: opts.stopIds ?? [],
    suppressIds: opts.suppressIds ?? [], repetitionPenalty: opts.repetitionPenalty ?? 1, numBeams: opts.numBeams ?? 4,
    lengthPenalty: opts.lengthPenalty ?? 1, temperature: opts.temperature ?? 1, topK: opts.topK ?? 0, topP: opts.topP ?? 1, seed: opts.seed ?? 0,
  }, who, { maxNewTokens: 'maxNewTokens', minNewTokens: 'minNewTokens', numBeams: 'numBeams' }, prompts.length);
  const keep = opts.keepLogits === true && settings.strategy !== 'beam';
  const stepLogits: Float32Array[][] | undefined = keep ? prompts.map(() => []) : undefined;
  const pad = opts.padId ?? 0;
  // one row per live hypothesis: its ids left-padded to a common length, and the mask of its real tokens
  let ids = prompts.map((p) => [...new Array<number>(longest - p.length).fill(pad), ...p]);
  let mask = prompts.map((p) => [...new Array<number>(longest - p.length).fill(0), ...p.map(() => 1)]);
  const search = new TokenSearch(prompts, settings, opts.onToken);
  const cache = opts.useCache === false ? undefined : model.newCache();
  try {
    while (!search.done) {
      const rows = search.rows;
      const feed = cache ? ids.map((r) => r.slice(cache.length)) : ids;
      const logits = lastLogits(model, feed, mask, cache);
      if (stepLogits) rows.forEach((row, r) => stepLogits[row.source].push(logits[r]));
      const parents = search.advance(logits);
      if (search.done) break;
      const next = search.rows;
      ids = parents.map((p, r) => [...ids[p], next[r].seq[next[r].seq.length - 1]]);
      mask = parents.map((p) => [...mask[p], 1]);
      if (cache && (parents.length !== rows.length || parents.some((p, r) => p !== r))) cache.select(parents);
    }
  } finally {
    cache?.dispose();
  }
  return { ...search.result(), ...(stepLogits ? { stepLogits } : {}) };
}

/** One forward pass: the last position's float32 [V] logits of each row. */
function lastLogits(model: CausalLM, feed: number[][], mask: number[][], cache: KVCache | undefined): Float32Array[] {
  const last = tf.tidy(() => {
    const { logits } = model.forward(tf.tensor2d(feed, undefined, 'int32'), { cache, attentionMask: tf.tensor2d(mask, undefined, 'int32') });
    const [b, t, v] = logits.shape;
    return logits.slice([0, t - 1, 0], [b, 1, v]).reshape([b, v]);
  });
  const data = last.dataSync() as Float32Array;
  last.dispose();
  const v = data.length / feed.length;
  return feed.map((_, r) => data.slice(r * v, (r + 1) * v));
}
