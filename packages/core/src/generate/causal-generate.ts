/**
 * The KV-cached decoding engine of decoder-only language models ({@link CausalLM}: LLaMA, GPT-2, OPT): batched
 * prompts of different lengths, greedy / beam search / sampling through core's one {@link TokenSearch}.
 */
import { tf, Tensor } from '../tf';
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
  /**
   * per prompt, a prefix LM's prefix in real tokens (CausalLmForwardOptions `prefixLength`: GLM, VisualGLM's stand-in),
   * given to every forward pass; the prompt's length makes the whole prompt the prefix; default: causal
   */
  prefixLength?: readonly number[];
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
  return decodePrompts(model, prompts, opts, 'generateCausal');
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
  const out = decodePrompts(model, prompts, { ...opts, strategy: 'greedy', keepLogits: true }, 'greedyGenerate');
  return { ids: out.sequences, stepLogits: out.stepLogits! };
}

/** Options of {@link generateFromEmbeds}: those of {@link generateCausal}, and the ids the sequences start with. */
export interface EmbedsGenerateOptions extends CausalGenerateOptions {
  /**
   * per row, ids counted as the sequence so far but never fed (the context stands for them): the repetition penalty
   * sees them and each returned sequence starts with them (default: none). transformers 4.30 starts MiniGPT-4's
   * `input_ids` as [bos] beside `inputs_embeds`; 4.33 starts InstructBLIP's empty.
   */
  startIds?: number[][];
}

/** A context of input embeddings for {@link generateFromEmbeds}. */
export interface EmbedsContext {
  /** float32 [B, S, D]: each row's context (e.g. a visual soft prompt spliced into an embedded prompt); the caller keeps it */
  embeds: Tensor;
  /**
   * [B][S] 0/1, 1 = a real position (default all 1): padding may sit anywhere (e.g. between a visual soft prompt and a
   * left-padded text prompt, as in InstructBLIP's generate); positions count real positions (`cumsum - 1`)
   */
  mask?: number[][];
}

/**
 * Generates continuations of contexts given as input embeddings (HF `generate(inputs_embeds=...)` of a decoder-only
 * LM, what BLIP-2, InstructBLIP and MiniGPT-4 caption and answer with): the first forward pass feeds the whole
 * context with positions from its mask (`cumsum(mask) - 1`); each later step feeds the new tokens' ids against the
 * KV cache, or, with `useCache: false`, the context again followed by the embedded generated tokens. Greedy, beam
 * search (the cache's and the context's rows follow the beams) and sampling, as {@link generateCausal}, whose loop
 * this is; a context equal to `embedTokens` of left-padded prompts, with `startIds` those prompts, gives what
 * generateCausal gives. Tensors are freed as it goes; `context.embeds` is the caller's.
 * @returns per row: `sequences` (startIds followed by the generated tokens), `tokens`, `scores` (and step logits with `keepLogits`)
 * @throws Error `generateFromEmbeds: ...` when embeds is not float32 [B, S, model.embedDim] with B, S >= 1, the mask
 *   is not [B][S] of 0/1 with a real position per row, startIds is not B lists of ids, or S plus maxNewTokens
 *   exceeds the model's context; RangeError for a bad option ({@link checkSearchSettings})
 */
export function generateFromEmbeds(model: CausalLM, context: EmbedsContext, opts: EmbedsGenerateOptions): CausalGenerateResult {
  const who = 'generateFromEmbeds';
  const { embeds } = context;
  const [b, s, d] = embeds.shape;
  if (embeds.rank !== 3 || embeds.dtype !== 'float32' || !(b >= 1 && s >= 1) || d !== model.embedDim) {
    throw new Error(`${who}: context.embeds must be float32 [B, S, ${model.embedDim}] with B, S >= 1, got ${embeds.dtype} [${embeds.shape}]`);
  }
  const mask = context.mask ?? Array.from({ length: b }, () => new Array<number>(s).fill(1));
  if (mask.length !== b) throw new Error(`${who}: context.mask has ${mask.length} rows for the ${b} rows of context.embeds`);
  const bad = mask.findIndex((row) => !Array.isArray(row) || row.length !== s || !row.every((v) => v === 0 || v === 1) || !row.includes(1));
  if (bad >= 0) throw new Error(`${who}: context.mask row ${bad} must be ${s} zeros and ones with at least one 1, got ${JSON.stringify(mask[bad])}`);
  const starts = opts.startIds ?? mask.map(() => []);
  if (starts.length !== b || !starts.every((ids) => Array.isArray(ids) && ids.every((id) => Number.isInteger(id) && id >= 0))) {
    throw new Error(`${who}: startIds must be ${b} lists of integer ids >= 0 (one per context row), got ${JSON.stringify(starts)}`);
  }
  const input = (sources: number[], generated: number[][]) => tf.tidy(() => {
    const rows = tf.gather(embeds, sources);
    if (generated[0].length === 0) return rows;
    return tf.concat([rows, model.embedTokens(tf.tensor2d(generated, undefined, 'int32'))], 1);
  });
  return decodeCausal(model, { noun: 'context', mask, input }, starts, opts, who);
}

/**
 * What the decode loop feeds a model: each source's context (the first step with the cache, every step without)
 * and its mask; generated tokens come after it.
 */
interface DecodeContext {
  /** what a source's context is called in messages ('prompt', 'context') */
  noun: string;
  /** [sources][S] 0/1 */
  mask: number[][];
  /** the model input of the given sources' contexts followed by the given generated tokens (rows of equal length) */
  input: (sources: number[], generated: number[][]) => Tensor;
}

/** The left-padded prompts as a {@link DecodeContext} of ids (what generateCausal feeds). */
function promptContext(prompts: number[][], pad: number): DecodeContext {
  const longest = Math.max(...prompts.map((p) => p.length));
  const padded = prompts.map((p) => [...new Array<number>(longest - p.length).fill(pad), ...p]);
  return {
    noun: 'prompt',
    mask: prompts.map((p) => [...new Array<number>(longest - p.length).fill(0), ...p.map(() => 1)]),
    input: (sources, generated) => tf.tensor2d(sources.map((src, r) => [...padded[src], ...generated[r]]), undefined, 'int32'),
  };
}

/** {@link generateCausal}, its messages prefixed with `who`. */
function decodePrompts(model: CausalLM, prompts: number[][], opts: CausalGenerateOptions, who: string): CausalGenerateResult {
  if (prompts.length === 0 || prompts.some((p) => p.length === 0)) throw new Error(`${who}: every prompt needs at least one token`);
  return decodeCausal(model, promptContext(prompts, opts.padId ?? 0), prompts, opts, who);
}

/**
 * The decode loop of {@link generateCausal} and {@link generateFromEmbeds}: a {@link TokenSearch} over `starts`
 * (the sequences so far, one per source), fed from `context` with the cache or without.
 */
function decodeCausal(model: CausalLM, context: DecodeContext, starts: number[][], opts: CausalGenerateOptions, who: string): CausalGenerateResult {
  const { maxNewTokens } = opts;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) throw new Error(`${who}: maxNewTokens must be an integer >= 1, got ${maxNewTokens}`);
  const longest = context.mask[0].length;
  if (longest + maxNewTokens > model.maxSeqLen) {
    throw new Error(`${who}: a ${context.noun} of ${longest} tokens plus ${maxNewTokens} new tokens exceeds the context length ${model.maxSeqLen}`);
  }
  const settings = checkSearchSettings({
    strategy: opts.strategy ?? 'greedy', maxNewTokens, minNewTokens: opts.minNewTokens ?? 0, stopIds: opts.stopIds ?? [],
    suppressIds: opts.suppressIds ?? [], repetitionPenalty: opts.repetitionPenalty ?? 1, numBeams: opts.numBeams ?? 4,
    lengthPenalty: opts.lengthPenalty ?? 1, temperature: opts.temperature ?? 1, topK: opts.topK ?? 0, topP: opts.topP ?? 1, seed: opts.seed ?? 0,
  }, who, { maxNewTokens: 'maxNewTokens', minNewTokens: 'minNewTokens', numBeams: 'numBeams' }, starts.length);
  const prefix = opts.prefixLength;
  if (prefix && prefix.length !== starts.length) throw new Error(`${who}: prefixLength has ${prefix.length} entries for ${starts.length} ${context.noun}s`);
  const keep = opts.keepLogits === true && settings.strategy !== 'beam';
  const stepLogits: Float32Array[][] | undefined = keep ? starts.map(() => []) : undefined;
  const search = new TokenSearch(starts, settings, opts.onToken);
  const cache = opts.useCache === false ? undefined : model.newCache();
  try {
    while (!search.done) {
      const rows = search.rows;
      // each live hypothesis: its context row and the tokens generated after it
      const sources = rows.map((row) => row.source);
      const generated = rows.map((row) => row.seq.slice(starts[row.source].length));
      const mask = rows.map((row, r) => [...context.mask[row.source], ...generated[r].map(() => 1)]);
      const feed = cache && cache.length > 0
        ? () => tf.tensor2d(generated.map((g) => g.slice(cache.length - longest)), undefined, 'int32')
        : () => context.input(sources, generated);
      const logits = lastLogits(model, feed, { cache, mask, prefixLength: prefix && sources.map((src) => prefix[src]) });
      if (stepLogits) rows.forEach((row, r) => stepLogits[row.source].push(logits[r]));
      const parents = search.advance(logits);
      if (search.done) break;
      if (cache && (parents.length !== rows.length || parents.some((p, r) => p !== r))) cache.select(parents);
    }
  } finally {
    cache?.dispose();
  }
  return { ...search.result(), ...(stepLogits ? { stepLogits } : {}) };
}

/** One forward pass of `feed()` (made inside it) under `mask` [B][S]: the last position's float32 [V] logits of each row. */
function lastLogits(
  model: CausalLM, feed: () => Tensor, step: { cache?: KVCache; mask: number[][]; prefixLength?: readonly number[] },
): Float32Array[] {
  const { cache, mask, prefixLength } = step;
  const last = tf.tidy(() => {
    const { logits } = model.forward(feed(), { cache, attentionMask: tf.tensor2d(mask, undefined, 'int32'), prefixLength });
    const [b, t, v] = logits.shape;
    return logits.slice([0, t - 1, 0], [b, 1, v]).reshape([b, v]);
  });
  const data = last.dataSync() as Float32Array;
  last.dispose();
  const v = data.length / mask.length;
  return mask.map((_, r) => data.slice(r * v, (r + 1) * v));
}
