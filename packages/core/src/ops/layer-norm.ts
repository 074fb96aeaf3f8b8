import { tf, Tensor } from '../tf';

/**
 * Layer normalisation over the last axis with biased variance (Ba et al. 2016; torch.nn.LayerNorm):
 * `(x - mean) / sqrt(var + eps) * weight + bias`. Kept as one function so it can become one fused kernel.
 *
 * @param x float32 [..., D]
 * @param weight float32 [D]
 * @param bias float32 [D]
 * @param eps added to the variance (1e-5 in open_clip, 1e-6 in ViTs, 1e-12 in BERT)
 * @returns float32 [..., D]
 */
export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor, eps: number): Tensor {
  return tf.tidy(() => {
    const axis = x.rank - 1;
    const mean = x.mean(axis, true);
    const centred = x.sub(mean);
    const variance = centred.square().mean(axis, true);
    return centred.mul(variance.add(tf.scalar(eps)).rsqrt()).mul(weight).add(bias);
  });
}
