import type { Tensor } from '../tf';
import type { KVCache } from '../nn/kv-cache';

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
