import { tf, Tensor } from '../tf';

/**
 * Root-mean-square layer normalisation over the last axis (Zhang & Sennrich 2019, "Root Mean Square Layer
 * Normalization", eq. 4; llama2.c and Meta `RMSNorm`, Hugging Face `LlamaRMSNorm`):
 * `x * rsqrt(mean(x^2) + eps) * weight`, no mean subtraction and no bias.
 *
 * @param x float32 [..., D]
 * @param weight float32 [D]
 * @param eps added to the mean square (1e-5 in llama2.c and LLaMA-2's params.json, 1e-6 in many HF configs: read
 *   the checkpoint's config, it moves the logits by ~4e-3 on a tiny model)
 * @returns float32 [..., D]
 * @throws Error when weight is not [D]
 */
export function rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
  const d = x.shape[x.rank - 1];
  if (weight.rank !== 1 || weight.shape[0] !== d) throw new Error(`rmsNorm: weight [${weight.shape}] does not match the last axis of x [${x.shape}]`);
  return tf.tidy(() => x.mul(x.square().mean(x.rank - 1, true).add(tf.scalar(eps)).rsqrt()).mul(weight));
}
