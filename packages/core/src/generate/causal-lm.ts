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
  /**
   * int32 [B, T] or [1, T]: the positions of the new tokens (HF `position_ids`), in [0, maxSeqLen), overriding those
   * derived from the cache and the attention mask (the mask still masks padded keys). OPT adds its offset 2 on top,
   * as for derived positions (so HF OPT's own `cumsum(mask) * mask - 1`, -1 on padding, reads row 1 there, as HF's
   * does; the derived positions put padding at 0). What the bridge models' references train with: `arange(L)` on
   * rows whose mask has padding (LAVIS InstructBLIP, MiniGPT-4 on transformers 4.30). Values are not checked.
   */
  positionIds?: Tensor;
  /**
   * per row, a prefix LM (GLM, Du et al. 2022, section 2.1; ChatGLM-6B `get_masks`): the row's first prefixLength
   * real tokens (>= 1, counted from the start of the cache) attend bidirectionally among themselves, the rest
   * causally; 1 is the causal mask. The prefix must be fed in one call (cached keys were computed without the
   * later ones). A LLaMA with 2D RoPE also takes its block positions from it (see LlamaConfig `rope2d`).
   */
  prefixLength?: readonly number[];
}

/** A decoder-only language model as the generation loop sees it (the LLaMA, GPT-2 and OPT models implement it). */
export interface CausalLM {
  /** the most positions (cached plus new) a forward pass may hold */
  readonly maxSeqLen: number;
  /** D, the width of the token embeddings and of `forward`'s input embeddings */
  readonly embedDim: number;
  /**
   * @param input the new tokens: int32 [B, T] ids, or float32 [B, T, D] input embeddings (HF `inputs_embeds`; the rank
   *   decides), which replace the token lookup; positions, masks and the cache are as for ids
   * @throws Error when the input is neither, or cached plus new positions exceed maxSeqLen
   */
  forward(input: Tensor, opts?: CausalLmForwardOptions): CausalLmOutput;
  /**
   * The model's own token embedding, exactly what `forward` looks ids up in: no scaling, no positions.
   * @param ids int32 [B, T] in [0, V)
   * @returns float32 [B, T, D]
   * @throws Error when ids is not [B, T]
   */
  embedTokens(ids: Tensor): Tensor;
  /** an empty cache for this model's layers (the caller disposes it) */
  newCache(): KVCache;
}

/** True when `model` implements {@link CausalLM} (`forward`, `embedTokens`, `newCache`, `maxSeqLen`, `embedDim`): what the perplexity task scores. */
export function isCausalLM(model: object): model is CausalLM {
  return 'forward' in model && typeof model.forward === 'function' && 'newCache' in model && typeof model.newCache === 'function'
    && 'embedTokens' in model && typeof model.embedTokens === 'function'
    && 'maxSeqLen' in model && typeof model.maxSeqLen === 'number' && 'embedDim' in model && typeof model.embedDim === 'number';
}
