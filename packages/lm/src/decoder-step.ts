import { tf, Tensor, Embedding, decoderMask, positionsFromMask } from '@mmzoo/core';
import type { CausalLmForwardOptions } from '@mmzoo/core';

/** What one forward call of a decoder LM attends over: its input embeddings, sizes, the new tokens' positions and the additive mask. */
export interface DecoderStep {
  /** float32 [B, T, D]: the token embeddings of the ids, or the input embeddings as given */
  x: Tensor;
  /** batch rows B */
  b: number;
  /** new positions T */
  t: number;
  /** cached positions before this call */
  past: number;
  /**
   * int32 [B, T] or [1, T]: each new token's position: `positionIds` when given, else counting real tokens of the
   * attention mask, else continuing from the cache
   */
  positions: Tensor;
  /** additive float32 mask broadcastable to [B, H, T, past + T] (core `decoderMask`; a prefix LM's with prefixLength) */
  mask: Tensor;
}

/**
 * The token embedding of a decoder LM's ids (the one `forward` uses; CausalLM `embedTokens`).
 * @param model names the model in the error message (e.g. 'Llama')
 * @param tokens the model's token embedding [V, D]
 * @param ids int32 [B, T]
 * @returns float32 [B, T, D]
 * @throws Error `<model>.embedTokens: ids must be int32 [B, T], got [shape]` for another rank
 */
export function embedTokens(model: string, tokens: Embedding, ids: Tensor): Tensor {
  if (ids.rank !== 2) throw new Error(`${model}.embedTokens: ids must be int32 [B, T], got [${ids.shape}]`);
  return tf.tidy(() => tokens.apply(ids));
}

/**
 * Checks one forward call of a decoder LM (LLaMA, GPT-2, OPT) and gives its input embeddings, positions and mask;
 * call it inside a tidy (it makes tensors).
 * @param model names the model in error messages (e.g. 'Llama')
 * @param input int32 [B, T] the new tokens' ids, or float32 [B, T, D] their input embeddings (HF `inputs_embeds`);
 *   the rank decides
 * @param tokens the model's token embedding [V, D] (ids are looked up in it)
 * @param opts the call's cache, attention mask and position ids (core `CausalLmForwardOptions`)
 * @param maxSeqLen the context length
 * @throws Error (one line, `<model>.forward: ...`) when the input is neither int32 [B, T] nor float32 [B, T, D],
 *   cached plus new positions exceed maxSeqLen, the attention mask is not [B, cached + T], positionIds is not
 *   [B, T] / [1, T], or prefixLength is not B integers >= 1
 */
export function decoderStep(model: string, input: Tensor, tokens: Embedding, opts: CausalLmForwardOptions, maxSeqLen: number): DecoderStep {
  const d = tokens.dim;
  const isIds = input.rank === 2;
  if (!isIds && !(input.rank === 3 && input.dtype === 'float32' && input.shape[2] === d)) {
    throw new Error(`${model}.forward: input must be int32 [B, T] ids or float32 [B, T, ${d}] embeddings, got ${input.dtype} [${input.shape}]`);
  }
  const [b, t] = input.shape;
  const past = opts.cache?.length ?? 0;
  const total = past + t;
  if (total > maxSeqLen) throw new Error(`${model}.forward: ${past} cached plus ${t} new positions exceed the context length maxSeqLen ${maxSeqLen}`);
  const valid = opts.attentionMask;
  if (valid && (valid.rank !== 2 || valid.shape[0] !== b || valid.shape[1] !== total)) {
    throw new Error(`${model}.forward: attentionMask must be [${b}, ${total}] (cached plus new positions), got [${valid.shape}]`);
  }
  const given = opts.positionIds;
  if (given && (given.rank !== 2 || (given.shape[0] !== b && given.shape[0] !== 1) || given.shape[1] !== t)) {
    throw new Error(`${model}.forward: positionIds must be int32 [${b}, ${t}] or [1, ${t}] (the new positions), got [${given.shape}]`);
  }
  const prefix = opts.prefixLength;
  if (prefix && (prefix.length !== b || !prefix.every((n) => Number.isInteger(n) && n >= 1))) {
    throw new Error(`${model}.forward: prefixLength must be ${b} integers >= 1 (one per row), got ${JSON.stringify(prefix)}`);
  }
  const positions = given ? given.toInt()
    : valid ? positionsFromMask(valid).slice([0, past], [b, t]) : tf.range(past, total, 1, 'int32').reshape([1, t]);
  const x = isIds ? tokens.apply(input) : input;
  return { x, b, t, past, positions, mask: decoderMask(t, total, valid, -Infinity, prefix && prefixKeys(prefix, total, valid)) };
}

/**
 * The keys of a prefix LM's prefix: each row's first `prefix[b]` real tokens.
 * @param prefix per row, the prefix length in real tokens
 * @param total cached plus new positions S
 * @param valid optional [B, S] 1 = real token
 * @returns float32 [B, S], 1 = a prefix key
 */
function prefixKeys(prefix: readonly number[], total: number, valid: Tensor | undefined): Tensor {
  const lengths = tf.tensor2d(Float32Array.from(prefix), [prefix.length, 1]);
  if (!valid) return tf.range(0, total, 1, 'float32').reshape([1, total]).less(lengths).toFloat();
  const real = valid.toFloat();
  return real.cumsum(1).lessEqual(lengths).toFloat().mul(real);
}
