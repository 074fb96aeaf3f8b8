import { tf, Tensor } from '../tf';
import { customOp } from './custom-op';

/**
 * Softmax over the last axis of `scores + mask` that stays finite when a whole row is masked.
 * Masked entries may be `-Infinity` (open_clip, ALBEF, BEiT-3) or a finite constant such as -10000 (BERT,
 * BLIP); with a finite constant a fully masked row behaves as in the reference (uniform weights), with
 * `-Infinity` it yields zeros and zero gradient, never NaN. The gradient is the analytic softmax Jacobian
 * `dS = p * (dy - sum(dy * p))`, so no gradient flows into the mask.
 *
 * @param scores float32 [..., Nk]
 * @param mask optional additive float32 mask broadcastable to `scores` (0 = keep)
 * @returns float32 probabilities, same shape as `scores`; rows sum to 1, or to 0 when fully masked by -inf
 */
export function maskedSoftmax(scores: Tensor, mask?: Tensor): Tensor {
  const f = customOp((s, save) => {
    const p = tf.tidy(() => {
      const logits = mask ? s.add(mask) : s;
      const axis = logits.rank - 1;
      const rowMax = logits.max(axis, true);
      const shift = tf.where(tf.isFinite(rowMax), rowMax, tf.zerosLike(rowMax));
      const e = logits.sub(shift).exp();
      return e.div(e.sum(axis, true).maximum(tf.scalar(1e-30)));
    });
    save([p]);
    return {
      value: p,
      gradFunc: (dy, saved) => {
        const [prob] = saved;
        return tf.tidy(() => prob.mul(dy.sub(dy.mul(prob).sum(prob.rank - 1, true))));
      },
    };
  });
  return f(scores);
}
