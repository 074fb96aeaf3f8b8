import { tf, Tensor } from '../tf';
import { customOp } from './custom-op';
import { FUSED_KERNELS, hasFusedKernel, runFused } from './fused';

/**
 * Layer normalisation over the last axis with biased variance (Ba et al. 2016; torch.nn.LayerNorm):
 * `(x - mean) / sqrt(var + eps) * weight + bias`. One function with its own gradient on backends that register the
 * fused kernels `MmzooLayerNorm` / `MmzooLayerNormGrad` (ops/fused.ts; the native backend); elsewhere composed of
 * tfjs ops with tfjs' gradients.
 *
 * @param x float32 [..., D]
 * @param weight float32 [D]
 * @param bias float32 [D]
 * @param eps added to the variance (1e-5 in open_clip, 1e-6 in ViTs, 1e-12 in BERT)
 * @returns float32 [..., D]
 */
export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor, eps: number): Tensor {
  if (x.size > 0 && hasFusedKernel(FUSED_KERNELS.layerNorm)) return fusedLayerNorm(x, weight, bias, eps);
  return tf.tidy(() => {
    const axis = x.rank - 1;
    const mean = x.mean(axis, true);
    const centred = x.sub(mean);
    const variance = centred.square().mean(axis, true);
    return centred.mul(variance.add(tf.scalar(eps)).rsqrt()).mul(weight).add(bias);
  });
}

/** {@link layerNorm} as one op over the fused kernels: saves x, weight and the per-row mean and 1/std. */
function fusedLayerNorm(x: Tensor, weight: Tensor, bias: Tensor, eps: number): Tensor {
  const f = customOp((xs: Tensor, ws: Tensor, bs: Tensor, save: (t: Tensor[]) => void) => {
    const [y, mean, rstd] = runFused(FUSED_KERNELS.layerNorm, { x: xs, gamma: ws, beta: bs }, { epsilon: eps });
    save([xs, ws, mean, rstd]);
    tf.dispose([mean, rstd]); // save keeps its own references
    return {
      value: y,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [xv, wv, mv, rv] = saved;
        return runFused(FUSED_KERNELS.layerNormGrad, { dy, x: xv, gamma: wv, mean: mv, rstd: rv });
      },
    };
  });
  return f(x, weight, bias);
}
