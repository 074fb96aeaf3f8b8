import { tf, Tensor, Tensor2D, Variable } from '../tf';
import { matMul2d } from '../ops/matmul';
import { stopGradient } from '../ops/stop-gradient';
import { crossEntropy } from './cross-entropy';

/** Inputs of {@link momentumContrastiveLoss}. */
export interface MomentumContrastiveInputs {
  /** float32 [B, E] L2-normalised online image features (carry gradient) */
  imageFeat: Tensor;
  /** float32 [B, E] L2-normalised online text features (carry gradient) */
  textFeat: Tensor;
  /** float32 [B, E] L2-normalised momentum image features (constants) */
  imageFeatM: Tensor;
  /** float32 [B, E] L2-normalised momentum text features (constants) */
  textFeatM: Tensor;
  /** float32 [E, Q] queued momentum image features, as before this step's enqueue */
  imageQueue: Tensor;
  /** float32 [E, Q] queued momentum text features */
  textQueue: Tensor;
  /** the B sample ids (image ids): equal ids are positives of each other */
  ids: ArrayLike<number>;
  /** the Q queued ids (a never-matching id, e.g. -100, for empty slots) */
  queueIds: ArrayLike<number>;
  /** float32 scalar temperature tau (carries gradient); similarities are divided by it */
  temp: Tensor;
  /** distillation weight alpha in [0, 1]: targets = alpha * softmax(momentum sims) + (1 - alpha) * ground truth */
  alpha: number;
}

/**
 * Output of {@link momentumContrastiveLoss}; similarity columns: B batch (momentum features), then Q queue. A type,
 * not an interface, so that a model's step can return it from `tf.tidy` (it is then a TensorContainer).
 */
export type MomentumContrastiveOutput = {
  /** float32 scalar: (i2t + t2i) / 2 */
  total: Tensor;
  parts: { i2t: Tensor; t2i: Tensor };
  /** float32 [B, B + Q]: image_feat @ [text_feat_m^T | text_queue] / temp, and the text-to-image analogue */
  simI2t: Tensor;
  simT2i: Tensor;
  /** float32 [B, B + Q]: the same with momentum features on the query side (constants) */
  simI2tM: Tensor;
  simT2iM: Tensor;
  /** float32 [B, B + Q]: ground truth, id equality normalised per row (identical for both directions) */
  groundTruth: Tensor;
  /** float32 [B, B + Q]: the soft targets of each direction (constants) */
  targetsI2t: Tensor;
  targetsT2i: Tensor;
};

/**
 * Image-text contrastive loss with feature queues and momentum distillation (ALBEF, Li et al. 2021, section 3.2
 * eqs. 1-2 and section 3.3 eq. 6; BLIP, Li et al. 2022, section 3.2 "ITC"; MoCo-style queues):
 * `s(I, T) = g_v(v_cls)^T g'_w(w'_cls) / tau` against the current momentum features and the queue; ground truth
 * `y[i, j] = [id_i == id_j]` normalised per row, so captions of the same image, in the batch or in the queue, share
 * the target mass instead of acting as negatives; targets `alpha * softmax(s_m) + (1 - alpha) * y`; the loss is the
 * mean over rows of the soft cross-entropy, averaged over the two directions. Momentum similarities, targets and
 * the queue are constants for autograd (stop-gradient), the temperature and online features carry gradient.
 * @throws Error when the feature widths or counts disagree
 */
export function momentumContrastiveLoss(x: MomentumContrastiveInputs): MomentumContrastiveOutput {
  const b = x.imageFeat.shape[0];
  const e = x.imageFeat.shape[1];
  const q = x.imageQueue.shape[1];
  if (x.ids.length !== b || x.queueIds.length !== q) throw new Error(`momentumContrastiveLoss: ${x.ids.length} ids for ${b} samples, ${x.queueIds.length} queue ids for ${q} slots`);
  for (const t of [x.textFeat, x.imageFeatM, x.textFeatM]) if (t.shape[0] !== b || t.shape[1] !== e) throw new Error(`momentumContrastiveLoss: features [${t.shape}] do not match [${b}, ${e}]`);
  for (const t of [x.imageQueue, x.textQueue]) if (t.shape[0] !== e || t.shape[1] !== q) throw new Error(`momentumContrastiveLoss: queue [${t.shape}] does not match [${e}, ${q}]`);
  return tf.tidy(() => {
    const imageAll = tf.concat([stopGradient(x.imageFeatM).transpose(), stopGradient(x.imageQueue)], 1) as Tensor2D;
    const textAll = tf.concat([stopGradient(x.textFeatM).transpose(), stopGradient(x.textQueue)], 1) as Tensor2D;
    const simI2t = matMul2d(x.imageFeat as Tensor2D, textAll).div(x.temp);
    const simT2i = matMul2d(x.textFeat as Tensor2D, imageAll).div(x.temp);
    const tempC = stopGradient(x.temp);
    const simI2tM = stopGradient(matMul2d(stopGradient(x.imageFeatM) as Tensor2D, textAll).div(tempC));
    const simT2iM = stopGradient(matMul2d(stopGradient(x.textFeatM) as Tensor2D, imageAll).div(tempC));
    const allIds = [...Array.from(x.ids), ...Array.from(x.queueIds)];
    const gt = new Float32Array(b * (b + q));
    for (let i = 0; i < b; i++) {
      let n = 0;
      for (let j = 0; j < allIds.length; j++) if (allIds[j] === x.ids[i]) n++;
      for (let j = 0; j < allIds.length; j++) if (allIds[j] === x.ids[i]) gt[i * (b + q) + j] = 1 / n;
    }
    const groundTruth = tf.tensor2d(gt, [b, b + q]);
    const a = x.alpha;
    const soft = (simM: Tensor) => stopGradient(a > 0 ? tf.softmax(simM, -1).mul(a).add(groundTruth.mul(1 - a)) : groundTruth.clone());
    const targetsI2t = soft(simI2tM);
    const targetsT2i = soft(simT2iM);
    const i2t = crossEntropy(simI2t, targetsI2t);
    const t2i = crossEntropy(simT2i, targetsT2i);
    return {
      total: i2t.add(t2i).div(tf.scalar(2)), parts: { i2t, t2i },
      simI2t, simT2i, simI2tM, simT2iM, groundTruth, targetsI2t, targetsT2i,
    };
  });
}

/**
 * Clamps a learnable contrastive temperature tau into `[low, high]` in place, without gradient, as ALBEF's and
 * BLIP's code do at the start of every forward (ALBEF: [0.001, 0.5]).
 * @param temp float32 scalar variable tau
 * @param clamp [low, high], or null / undefined to leave tau alone (torchmultimodal does not clamp)
 */
export function clampTemperature(temp: Variable, clamp: readonly [number, number] | null | undefined): void {
  if (clamp) tf.tidy(() => temp.assign(temp.clipByValue(clamp[0], clamp[1])));
}

/**
 * The momentum-distillation weight at micro-batch `index`: `alpha * min(1, index / rampSteps)`, a linear ramp
 * over the first epoch (ALBEF sec. 3.3 and its code; BLIP reuses it), or `alpha` when `rampSteps` is 0.
 * @param alpha final weight in [0, 1] (ALBEF: 0.4) @param rampSteps micro-batches of the ramp (>= 0)
 * @param index micro-batch index from 0
 */
export function distillationAlpha(alpha: number, rampSteps: number, index: number): number {
  return rampSteps > 0 ? alpha * Math.min(1, index / rampSteps) : alpha;
}
