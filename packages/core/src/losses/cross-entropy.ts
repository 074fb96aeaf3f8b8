import { tf, Tensor } from '../tf';
import { customOp, SaveFn } from '../ops/custom-op';

/**
 * Numerically stable log-softmax over the last axis: `x - max(x) - log(sum(exp(x - max(x))))`.
 * Finite for logits such as [-431, 279, 427] and [1e8, 1e8]. The gradient is the analytic one,
 * `dx = dy - softmax(x) * sum(dy)` (one custom op): the max is a constant of the forward pass only, so the backward
 * pass spends nothing on it (tfjs would otherwise run Max's gradient, an Equal over all of x, to multiply it by zero).
 * @param logits float32 [..., C] @returns float32 [..., C]
 */
export function logSoftmax(logits: Tensor): Tensor {
  const axis = logits.rank - 1;
  const f = customOp((x: Tensor, save: SaveFn) => {
    const value = tf.tidy(() => {
      const shifted = x.sub(x.max(axis, true));
      return shifted.sub(shifted.exp().sum(axis, true).log());
    });
    save([value]);
    return {
      value,
      gradFunc: (dy: Tensor, [y]: Tensor[]) => tf.tidy(() => dy.sub(y.exp().mul(dy.sum(axis, true)))),
    };
  });
  return f(logits);
}

/** Options of {@link crossEntropy}. */
export interface CrossEntropyOptions {
  /** hard-label value whose rows are skipped (PyTorch's default -100) */
  ignoreIndex?: number;
  /** label smoothing epsilon in [0, 1): loss = (1-eps) nll + eps mean_j(-log p_j) (PyTorch semantics); default 0 */
  labelSmoothing?: number;
}

/**
 * Mean cross-entropy between logits and hard labels (int32 [N]) or soft target distributions (float32 [N, C],
 * rows summing to 1). With hard labels, rows whose label equals `ignoreIndex` are excluded from the mean;
 * when every row is ignored the loss is 0 (PyTorch returns NaN).
 *
 * @param logits float32 [N, C]
 * @param targets int32 [N] class ids in [0, C) (or ignoreIndex), or float32 [N, C] probabilities
 * @returns float32 scalar
 * @throws Error when labelSmoothing is outside [0, 1) or shapes disagree
 */
export function crossEntropy(logits: Tensor, targets: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const eps = opts.labelSmoothing ?? 0;
  if (!(eps >= 0 && eps < 1)) throw new Error(`labelSmoothing must be in [0, 1), got ${eps}`);
  const [n, c] = logits.shape;
  if (logits.rank !== 2) throw new Error(`crossEntropy expects logits [N, C], got [${logits.shape}]`);
  return tf.tidy(() => {
    const logp = logSoftmax(logits);
    if (targets.rank === 2) {
      if (targets.shape[0] !== n || targets.shape[1] !== c) throw new Error(`soft targets [${targets.shape}] do not match logits [${logits.shape}]`);
      const soft = eps > 0 ? targets.mul(1 - eps).add(eps / c) : targets;
      return soft.mul(logp).sum(1).neg().mean();
    }
    if (targets.shape[0] !== n) throw new Error(`labels [${targets.shape}] do not match logits [${logits.shape}]`);
    const ignore = opts.ignoreIndex ?? -100;
    const labels = targets.toInt();
    const valid = labels.notEqual(tf.scalar(ignore, 'int32')).toFloat();
    const safe = tf.where(valid.cast('bool'), labels, tf.zerosLike(labels));
    const nll = tf.oneHot(safe, c).toFloat().mul(logp).sum(1).neg();
    const perRow = eps > 0 ? nll.mul(1 - eps).add(logp.mean(1).neg().mul(eps)) : nll;
    return perRow.mul(valid).sum().div(valid.sum().maximum(tf.scalar(1)));
  });
}
