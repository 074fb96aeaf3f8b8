import { tf, Tensor } from '../tf';
import { customOp } from './custom-op';
import { FUSED_KERNELS, hasFusedKernel, runFused } from './fused';

/**
 * Exact GELU, `0.5 x (1 + erf(x / sqrt 2))` (Hendrycks & Gimpel 2016; torch.nn.GELU). Any shape, float32. One fused
 * op with its own gradient where the backend has `MmzooActivation` (ops/fused.ts), tfjs ops elsewhere.
 */
export function gelu(x: Tensor): Tensor {
  if (x.size > 0 && hasFusedKernel(FUSED_KERNELS.activation)) return fusedActivation(x, 'gelu');
  return tf.tidy(() => x.mul(tf.scalar(0.5)).mul(tf.erf(x.mul(tf.scalar(Math.SQRT1_2))).add(tf.scalar(1))));
}

/**
 * QuickGELU, `x * sigmoid(1.702 x)` (OpenAI CLIP; open_clip `quick_gelu=True`). Any shape, float32. One fused op
 * with its own gradient where the backend has `MmzooActivation` (ops/fused.ts), tfjs ops elsewhere.
 */
export function quickGelu(x: Tensor): Tensor {
  if (x.size > 0 && hasFusedKernel(FUSED_KERNELS.activation)) return fusedActivation(x, 'quick_gelu');
  return tf.tidy(() => x.mul(tf.sigmoid(x.mul(tf.scalar(1.702)))));
}

/**
 * Tanh-approximated GELU, `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))` (Hendrycks & Gimpel 2016, section 2;
 * OpenAI GPT-2, Hugging Face `gelu_new` / `gelu_pytorch_tanh`). Any shape, float32. It differs from the exact
 * {@link gelu} by at most about 3e-4 (near |x| = 2).
 */
export function geluTanh(x: Tensor): Tensor {
  return tf.tidy(() => {
    const inner = x.add(x.mul(x).mul(x).mul(tf.scalar(0.044715))).mul(tf.scalar(Math.sqrt(2 / Math.PI)));
    return x.mul(tf.scalar(0.5)).mul(tf.tanh(inner).add(tf.scalar(1)));
  });
}

/** SiLU (swish), `x * sigmoid(x)` (Elfwing et al. 2018; torch.nn.functional.silu; LLaMA's SwiGLU gate). Any shape, float32. */
export function silu(x: Tensor): Tensor {
  return tf.tidy(() => x.mul(tf.sigmoid(x)));
}

/** Names accepted wherever an activation is configured. */
export const ACTIVATIONS = { gelu, quick_gelu: quickGelu, relu: (x: Tensor) => tf.relu(x), gelu_tanh: geluTanh, silu } as const;
/** One of the keys of {@link ACTIVATIONS}. */
export type ActivationName = keyof typeof ACTIVATIONS;

/** GELU or QuickGELU as one op over the fused kernels `MmzooActivation` / `MmzooActivationGrad`. */
function fusedActivation(x: Tensor, activation: 'gelu' | 'quick_gelu'): Tensor {
  const f = customOp((xs: Tensor, save: (t: Tensor[]) => void) => {
    save([xs]);
    return {
      value: runFused(FUSED_KERNELS.activation, { x: xs }, { activation })[0],
      gradFunc: (dy: Tensor, saved: Tensor[]) => runFused(FUSED_KERNELS.activationGrad, { dy, x: saved[0] }, { activation })[0],
    };
  });
  return f(x);
}
