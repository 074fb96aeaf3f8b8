import { tf, Tensor } from '@mmzoo/core';

/**
 * GLM's 2D positions (Du et al. 2022, section 2.2; THUDM ChatGLM-6B `get_position_ids` with
 * `position_encoding_2d`) from the plain positions p and a prefix of n tokens whose last is the mask token
 * (ChatGLM-6B's `[gMASK]`, before `<bos>`): a prefix token keeps position p and block position 0; every later token
 * (`<bos>` and what is generated) takes the mask token's position n - 1 and block positions 1, 2, ...
 * (`p - n + 1`). Without a prefix, every token is context: positions p, block positions 0. Call inside a tidy.
 * @param positions int32 [B, T] or [1, T]: the plain positions (from the mask or the cache; see decoderStep)
 * @param prefixLength per row, n >= 1 (CausalLmForwardOptions `prefixLength`, checked by decoderStep)
 * @returns int32 positions and block positions, [B, T] with prefixLength (broadcast), else the shape of positions
 */
export function glmPositions(positions: Tensor, prefixLength?: readonly number[]): { positions: Tensor; blockPositions: Tensor } {
  if (!prefixLength) return { positions, blockPositions: tf.zerosLike(positions) };
  const last = tf.tensor2d(Int32Array.from(prefixLength, (n) => n - 1), [prefixLength.length, 1], 'int32'); // the mask token's position
  return { positions: positions.minimum(last), blockPositions: positions.sub(last).maximum(0) };
}
