import { tf, Tensor } from '../tf';
import { customOp } from './custom-op';

/**
 * Identity in the forward pass, zero gradient in the backward pass (torch `detach`, TF `stop_gradient`;
 * tfjs has none). Any shape and dtype.
 */
export function stopGradient<T extends Tensor>(x: T): T {
  const f = customOp((v) => ({ value: v.clone(), gradFunc: (dy) => tf.zerosLike(dy) }));
  return f(x) as T;
}
