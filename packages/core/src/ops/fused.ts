import { tf, Tensor } from '../tf';
import { backendHasKernel } from './kernels';

/**
 * Fused kernels that a backend may register (issue 8; @mmzoo/backend-native registers all of them for `native`).
 * Core's hot composites (LayerNorm, GELU / QuickGELU, attention, AdamW) call them when the active backend has them
 * and compose ordinary tfjs ops otherwise, so one model code path serves every backend. All tensors float32.
 *
 * - `MmzooLayerNorm`: inputs `x` [..., D], `gamma` [D], `beta` [D]; attrs `epsilon`; outputs `y` (x's shape),
 *   `mean` [rows] and `rstd` [rows] = 1 / sqrt(biased variance + epsilon), rows = size(x) / D.
 * - `MmzooLayerNormGrad`: inputs `dy`, `x`, `gamma`, `mean`, `rstd`; outputs `dx`, `dgamma` [D], `dbeta` [D].
 * - `MmzooActivation`: input `x`; attrs `activation` ('gelu' exact erf form, or 'quick_gelu'); output `y`.
 * - `MmzooActivationGrad`: inputs `dy`, `x`; attrs `activation`; output `dx = dy * act'(x)`.
 * - `MmzooAttention`: inputs `q` [B, H, Nq, d], `k` [B, H, Nk, d], `v` [B, H, Nk, dv], optional `mask` broadcastable
 *   to [B, H, Nq, Nk]; attrs `scale`; outputs `out` [B, H, Nq, dv] and `probs` [B, H, Nq, Nk] =
 *   softmax(scale q k^T + mask) with the conventions of {@link maskedSoftmax} (a row whose maximum is not finite is
 *   not shifted; sums are clamped at 1e-30, so a row masked by -Infinity gives zeros).
 * - `MmzooAttentionGrad`: inputs `dy`, `q`, `k`, `v`, `probs`; attrs `scale`, `scoresGrad`; outputs `dq`, `dk`,
 *   `dv` and, when `scoresGrad`, the gradient of the pre-softmax scores [B, H, Nq, Nk].
 * - `MmzooAdamW`: inputs `p<i>`, `g<i>`, `m<i>`, `v<i>` for i < count; attrs `count`, `lr`, `beta1`, `beta2`,
 *   `epsilon`, `step` (1-based), `weightDecay` (one per tensor); outputs the new p, m, v of tensor 0, then of
 *   tensor 1, ... (torch.optim.AdamW; see {@link adamwUpdate}).
 */
export const FUSED_KERNELS = {
  layerNorm: 'MmzooLayerNorm',
  layerNormGrad: 'MmzooLayerNormGrad',
  activation: 'MmzooActivation',
  activationGrad: 'MmzooActivationGrad',
  attention: 'MmzooAttention',
  attentionGrad: 'MmzooAttentionGrad',
  adamw: 'MmzooAdamW',
} as const;

/** One of the values of {@link FUSED_KERNELS}. */
export type FusedKernelName = (typeof FUSED_KERNELS)[keyof typeof FUSED_KERNELS];

/** True when the active backend registers the fused kernel `name`. */
export function hasFusedKernel(name: FusedKernelName): boolean {
  return backendHasKernel(name);
}

/**
 * Runs a fused kernel on the active backend (no gradient is recorded: callers wrap it in `tf.customGrad`).
 * @returns the kernel's outputs, in the order documented in {@link FUSED_KERNELS}
 * @throws Error from tfjs when the backend lacks the kernel, or from the kernel on inconsistent inputs
 */
export function runFused(name: FusedKernelName, inputs: Record<string, Tensor>, attrs: Record<string, unknown> = {}): Tensor[] {
  const out = tf.engine().runKernel(name, inputs as tf.NamedTensorMap, attrs as never) as Tensor | Tensor[];
  return Array.isArray(out) ? out : [out];
}

/**
 * True when the active backend runs transposeA / transposeB products at full speed (`native`: they are BLAS
 * flags), so the explicit transposes that the wasm path needs (ops/matmul.ts) would be wasted copies.
 */
export function fastTransposedMatMul(): boolean {
  return tf.getBackend() === 'native';
}

/**
 * Sums `t` over the axes along which a tensor of `shape` was broadcast to `t`'s shape (numpy rules), so that the
 * result has `shape`: the gradient of a broadcast addend.
 * @param t float32 [...outShape]
 * @param shape a shape that broadcasts to t.shape
 * @returns float32 tensor of `shape`
 */
export function sumToShape(t: Tensor, shape: number[]): Tensor {
  return tf.tidy(() => {
    const off = t.rank - shape.length;
    const axes: number[] = [];
    for (let i = 0; i < t.rank; i++) if (i < off || (shape[i - off] === 1 && t.shape[i] !== 1)) axes.push(i);
    return (axes.length ? t.sum(axes) : t).reshape(shape);
  });
}
