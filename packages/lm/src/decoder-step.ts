import { tf, Tensor, decoderMask, positionsFromMask } from '@mmzoo/core';
import type { CausalLmForwardOptions } from '@mmzoo/core';

/** What one forward call of a decoder LM attends over: its sizes, the new tokens' positions and the additive mask. */
export interface DecoderStep {
  /** batch rows B */
  b: number;
  /** new positions T */
  t: number;
  /** cached positions before this call */
  past: number;
  /** int32 [B, T] (from the attention mask) or [1, T]: each new token's position, counting real tokens only */
  positions: Tensor;
  /** additive float32 mask broadcastable to [B, H, T, past + T] (core `decoderMask`) */
  mask: Tensor;
}

/**
 * Checks one forward call of a decoder LM (LLaMA, GPT-2, OPT) and gives its positions and mask; call it inside a
 * tidy (it makes tensors).
 * @param model names the model in error messages (e.g. 'Llama')
 * @param ids int32 [B, T] the new tokens
 * @param opts the call's cache and attention mask (core `CausalLmForwardOptions`)
 * @param maxSeqLen the context length
 * @throws Error (one line, `<model>.forward: ...`) when ids is not [B, T], cached plus new positions exceed
 *   maxSeqLen, or the attention mask is not [B, cached + T]
 */
export function decoderStep(model: string, ids: Tensor, opts: CausalLmForwardOptions, maxSeqLen: number): DecoderStep {
  if (ids.rank !== 2) throw new Error(`${model}.forward: ids must be int32 [B, T], got [${ids.shape}]`);
  const [b, t] = ids.shape;
  const past = opts.cache?.length ?? 0;
  const total = past + t;
  if (total > maxSeqLen) throw new Error(`${model}.forward: ${past} cached plus ${t} new positions exceed the context length maxSeqLen ${maxSeqLen}`);
  const valid = opts.attentionMask;
  if (valid && (valid.rank !== 2 || valid.shape[0] !== b || valid.shape[1] !== total)) {
    throw new Error(`${model}.forward: attentionMask must be [${b}, ${total}] (cached plus new positions), got [${valid.shape}]`);
  }
  const positions = valid ? positionsFromMask(valid).slice([0, past], [b, t]) : tf.range(past, total, 1, 'int32').reshape([1, t]);
  return { b, t, past, positions, mask: decoderMask(t, total, valid) };
}
