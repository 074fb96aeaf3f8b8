import { tf, Tensor } from '../tf';

/**
 * Token 0 of a sequence of states: the [CLS] (or class-token) state that ITC projections, ITM heads and poolers read
 * (BERT section 3; ViT section 3.1; ALBEF, BLIP, VLMo, BEiT-3).
 * @param x float32 [B, N, D], N >= 1
 * @returns float32 [B, D]
 * @throws Error when `x` is not rank 3
 */
export function firstToken(x: Tensor): Tensor {
  if (x.rank !== 3) throw new Error(`firstToken: expected states [B, N, D], got [${x.shape}]`);
  const [b, , d] = x.shape as [number, number, number];
  return tf.tidy(() => x.slice([0, 0, 0], [b, 1, d]).reshape([b, d]));
}
