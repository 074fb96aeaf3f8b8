import { tf, Tensor } from '../tf';

/** Exact GELU, `0.5 x (1 + erf(x / sqrt 2))` (Hendrycks & Gimpel 2016; torch.nn.GELU). Any shape, float32. */
export function gelu(x: Tensor): Tensor {
  return tf.tidy(() => x.mul(tf.scalar(0.5)).mul(tf.erf(x.mul(tf.scalar(Math.SQRT1_2))).add(tf.scalar(1))));
}

/** QuickGELU, `x * sigmoid(1.702 x)` (OpenAI CLIP; open_clip `quick_gelu=True`). Any shape, float32. */
export function quickGelu(x: Tensor): Tensor {
  return tf.tidy(() => x.mul(tf.sigmoid(x.mul(tf.scalar(1.702)))));
}

/** Names accepted wherever an activation is configured. */
export const ACTIVATIONS = { gelu, quick_gelu: quickGelu, relu: (x: Tensor) => tf.relu(x) } as const;
/** One of the keys of {@link ACTIVATIONS}. */
export type ActivationName = keyof typeof ACTIVATIONS;
