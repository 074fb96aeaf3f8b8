import { tf, Tensor } from '../tf';

/** Saves tensors in the forward pass for use in the gradient (tfjs `GradSaveFunc`). */
export type SaveFn = (tensors: Tensor[]) => void;

/**
 * Typed wrapper of `tf.customGrad`: `fn` receives the input tensors followed by a save function and returns
 * the value and a gradient function that maps (dy, saved tensors) to one gradient per input.
 */
export function customOp(
  fn: (...args: any[]) => { value: Tensor; gradFunc: (dy: Tensor, saved: Tensor[]) => Tensor | Tensor[] },
): (...inputs: Tensor[]) => Tensor {
  return tf.customGrad(fn as Parameters<typeof tf.customGrad>[0]) as (...inputs: Tensor[]) => Tensor;
}
