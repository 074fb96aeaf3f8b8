import { tf, Tensor } from '../tf';
import { KVCache } from '../nn/kv-cache';
import { argmax } from './logits';

/** Outputs of {@link CausalLM.forward} (a type alias, so that `tf.tidy(() => model.forward(ids))` type-checks). */
export type CausalLmOutput = {
  /** float32 [B, T, V] next-token logits of every new position */
  logits: Tensor;
  /** float32 [B, T, D] the final norm's output (the output projection's input) */
  hidden: Tensor;
};

/** Options of {@link CausalLM.forward}. */
export interface CausalLmForwardOptions {
  /** keys and values of earlier steps; the new positions are appended and committed (see nn/kv-cache.ts) */
  cache?: KVCache;
  /**
   * float32 or int32 [B, S] over cached plus new positions (HF `attention_mask`), 1 = real token, 0 = padding:
   * padded keys are masked and positions count real tokens only (`cumsum - 1`), so a left-padded row computes what
   * its prompt alone would. None: no padding, positions continue from the cache.
   */
  attentionMask?: Tensor;
}

/** A decoder-only language model as the generation loop sees it (the LLaMA, GPT-2 and OPT models implement it). */
export interface CausalLM {
  /** the most positions (cached plus new) a forward pass may hold */
  readonly maxSeqLen: number;
  /**
   * @param ids int32 [B, T] the new tokens
   * @throws Error when cached plus new positions exceed maxSeqLen
   */
  forward(ids: Tensor, opts?: CausalLmForwardOptions): CausalLmOutput;
  /** an empty cache for this model's layers (the caller disposes it) */
  newCache(): KVCache;
}

/** True when `model` implements {@link CausalLM} (a `forward` over ids and a `newCache`): what the perplexity task scores. */
export function isCausalLM(model: object): model is CausalLM {
  return 'forward' in model && typeof model.forward === 'function' && 'newCache' in model && typeof model.newCache === 'function'
    && 'maxSeqLen' in model && typeof model.maxSeqLen === 'number';
}

/** Options of {@link greedyGenerate}. */
export interface GreedyGenerateOptions {
  /** tokens generated after each prompt, >= 1 */
  maxNewTokens: number;
  /** true (default): run each new token alone against the KV cache; false: re-run the whole sequence every step (the reference loops) */
  useCache?: boolean;
  /** the id left padding is filled with (default 0; its embedding never reaches a real position) */
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
 * Greedy decoding of a batch of prompts of different lengths with one forward pass per step: the prompts are
 * left-padded to the longest, the padding masked and positions taken from the mask, so each row generates what its
 * prompt alone would. With the cache (llama2.c `run.c`'s loop) the prompts are run once, then each step feeds only
 * the new tokens.
 * @param prompts token ids, one non-empty row per sequence
 * @returns the sequences and every step's logits
 * @throws Error for an empty prompt list or prompt, maxNewTokens < 1, or when the longest prompt plus
 *   maxNewTokens exceeds the model's context (maxSeqLen)
 */
export function greedyGenerate(model: CausalLM, prompts: number[][], opts: GreedyGenerateOptions): GreedyGenerateResult {
  const { maxNewTokens } = opts;
  if (prompts.length === 0 || prompts.some((p) => p.length === 0)) throw new Error('greedyGenerate: every prompt needs at least one token');
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) throw new Error(`greedyGenerate: maxNewTokens must be an integer >= 1, got ${maxNewTokens}`);
  const longest = Math.max(...prompts.map((p) => p.length));
  if (longest + maxNewTokens > model.maxSeqLen) {
    throw new Error(`greedyGenerate: a prompt of ${longest} tokens plus ${maxNewTokens} new tokens exceeds the context length ${model.maxSeqLen}`);
  }
  const pad = opts.padId ?? 0;
  const rows = prompts.map((p) => [...new Array<number>(longest - p.length).fill(pad), ...p]);
  const valid = prompts.map((p) => [...new Array<number>(longest - p.length).fill(0), ...p.map(() => 1)]);
  const ids = prompts.map((p) => [...p]);
  const stepLogits: Float32Array[][] = prompts.map(() => []);
  const cache = opts.useCache === false ? undefined : model.newCache();
  try {
    let feed = rows;
    for (let s = 0; s < maxNewTokens; s++) {
      const last = tf.tidy(() => {
        const { logits } = model.forward(tf.tensor2d(feed, undefined, 'int32'), { cache, attentionMask: tf.tensor2d(valid, undefined, 'int32') });
        const [b, t, v] = logits.shape;
        return logits.slice([0, t - 1, 0], [b, 1, v]).reshape([b, v]);
      });
      const data = last.dataSync() as Float32Array;
      const v = data.length / prompts.length;
      const next = prompts.map((_, r) => {
        const row = data.slice(r * v, (r + 1) * v);
        stepLogits[r].push(row);
        return argmax(row);
      });
      last.dispose();
      next.forEach((tok, r) => {
        ids[r].push(tok);
        rows[r].push(tok);
        valid[r].push(1);
      });
      feed = cache ? next.map((tok) => [tok]) : rows;
    }
  } finally {
    cache?.dispose();
  }
  return { ids, stepLogits };
}
