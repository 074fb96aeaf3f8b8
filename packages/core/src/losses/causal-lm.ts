import { tf, Tensor } from '../tf';
import { crossEntropy, logSoftmax } from './cross-entropy';

/** Options of {@link causalLmLoss}. */
export interface CausalLmLossOptions {
  /** label value that is not scored (default -100, HF and the batch contract; llama2.c and nanoGPT use -1) */
  ignoreIndex?: number;
  /** float32 [B, T] aligned with `labels`: a label counts only where this is 1 (the batch's `lossMask`) */
  lossMask?: Tensor;
  /**
   * whether labels[:, t] already labels logits[:, t] (llama2.c / nanoGPT `targets`); default false: HF's
   * convention, logits[:, t] is scored against labels[:, t + 1] and labels[:, 0] is never used
   */
  shifted?: boolean;
}

/**
 * Next-token cross-entropy of a decoder (Radford et al. 2018, eq. 1), averaged over the counted tokens: those
 * whose label is not `ignoreIndex` and, with a `lossMask`, whose mask is 1. 0 when no token counts.
 * @param logits float32 [B, T, V]
 * @param labels int32 [B, T] token ids in [0, V) or `ignoreIndex`
 * @returns float32 scalar
 * @throws Error when logits are not [B, T, V] or labels / lossMask are not [B, T]
 */
export function causalLmLoss(logits: Tensor, labels: Tensor, opts: CausalLmLossOptions = {}): Tensor {
  checkShapes('causalLmLoss', logits, labels);
  const [b, t, v] = logits.shape;
  const mask = opts.lossMask;
  if (mask && (mask.rank !== 2 || mask.shape[0] !== b || mask.shape[1] !== t)) throw new Error(`causalLmLoss: lossMask [${mask.shape}] does not match labels [${labels.shape}]`);
  const ignore = opts.ignoreIndex ?? -100;
  return tf.tidy(() => {
    let target = labels.toInt();
    if (mask) target = tf.where(mask.toFloat().equal(tf.scalar(1)), target, tf.fill([b, t], ignore, 'int32'));
    const aligned = alignTargets(logits, target, opts.shifted);
    if (!aligned) return tf.scalar(0);
    return crossEntropy(aligned.scored.reshape([-1, v]), aligned.target.reshape([-1]), { ignoreIndex: ignore });
  });
}

/** @throws Error `who: ...` when logits are not [B, T, V] or labels are not [B, T] */
function checkShapes(who: string, logits: Tensor, labels: Tensor): void {
  if (logits.rank !== 3) throw new Error(`${who}: logits must be [B, T, V], got [${logits.shape}]`);
  const [b, t] = logits.shape;
  if (labels.rank !== 2 || labels.shape[0] !== b || labels.shape[1] !== t) throw new Error(`${who}: labels [${labels.shape}] do not match logits [${logits.shape}]`);
}

/**
 * The logits and the targets they are scored against: as given when `shifted`, else (HF's convention) logits[:, t]
 * against target[:, t + 1], i.e. logits [B, T - 1, V] and target [B, T - 1]; undefined when T < 2 leaves nothing.
 * Call inside a tidy.
 */
function alignTargets(logits: Tensor, target: Tensor, shifted = false): { scored: Tensor; target: Tensor } | undefined {
  if (shifted) return { scored: logits, target };
  const [b, t, v] = logits.shape;
  if (t < 2) return undefined;
  return { scored: logits.slice([0, 0, 0], [b, t - 1, v]), target: target.slice([0, 1], [b, t - 1]) };
}

/**
 * The log-probability of each row's labelled tokens under a decoder, log p(labels | context) = the sum over the
 * counted positions of log_softmax(logits) at the label, in float32: what ranking candidate answers by likelihood
 * needs (LAVIS `predict_class`; BLIP's VQA `rank_answers`), the per-row counterpart of {@link causalLmLoss} (same
 * label conventions: `ignoreIndex` positions and, without `shifted`, the first label are not counted).
 * @param logits float32 [B, T, V]
 * @param labels int32 [B, T] token ids in [0, V) or `ignoreIndex`
 * @param opts `ignoreIndex` and `shifted` as {@link causalLmLoss} (no `lossMask`)
 * @returns float32 [B]: each row's summed natural-log probability (0 for a row with no counted label)
 * @throws Error when logits are not [B, T, V] or labels are not [B, T]
 */
export function labelLogProbs(logits: Tensor, labels: Tensor, opts: Omit<CausalLmLossOptions, 'lossMask'> = {}): Tensor {
  checkShapes('labelLogProbs', logits, labels);
  const [b, , v] = logits.shape;
  const ignore = opts.ignoreIndex ?? -100;
  return tf.tidy(() => {
    const aligned = alignTargets(logits, labels.toInt(), opts.shifted);
    if (!aligned) return tf.zeros([b]);
    const counted = aligned.target.notEqual(tf.scalar(ignore, 'int32'));
    // an ignored position looks up class 0 and is then zeroed
    const safe = tf.where(counted, aligned.target, tf.zerosLike(aligned.target));
    const picked = tf.sum(logSoftmax(aligned.scored).mul(tf.oneHot(safe, v)), -1);
    return tf.sum(tf.where(counted, picked, tf.zerosLike(picked)), 1);
  });
}
