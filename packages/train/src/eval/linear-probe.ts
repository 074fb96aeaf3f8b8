import { tf, Tensor, Tensor2D, matMul2d, crossEntropy } from '@mmzoo/core';
import { AdamW } from '../train/optimizer';
import { pessimisticRank } from './retrieval';

/** Options of {@link linearProbe}. */
export interface LinearProbeOptions {
  /** number of classes C */
  numClasses: number;
  /** full-batch optimisation steps (default 300) */
  steps?: number;
  /** AdamW learning rate (default 0.05) */
  lr?: number;
  /** decoupled weight decay on the weights (default 1e-4) */
  weightDecay?: number;
}

/** Result of {@link linearProbe}: top-1 accuracies in [0, 1]. */
export interface LinearProbeResult {
  top1: number;
  trainTop1: number;
}

/**
 * Linear probe (CLIP, Radford et al. 2021, section 3.2; BEiT, Bao et al. 2022, section 3.1): frozen features,
 * standardised with the training mean and standard deviation, classified by multinomial logistic regression
 * (`features @ W + b`, full-batch AdamW on the mean cross-entropy); reports top-1 on the held-out features
 * ({@link top1Accuracy}: a tie or a NaN logit is a wrong prediction).
 * @param train float32 [N, D] features and int32 labels [N] in [0, C)
 * @param test float32 [M, D] features and labels [M]
 * @throws Error when feature widths or label counts disagree
 */
export function linearProbe(
  train: { features: Tensor; labels: ArrayLike<number> },
  test: { features: Tensor; labels: ArrayLike<number> },
  opts: LinearProbeOptions,
): LinearProbeResult {
  const [n, d] = train.features.shape as [number, number];
  const [m, d2] = test.features.shape as [number, number];
  if (d !== d2) throw new Error(`linearProbe: train features have width ${d}, test ${d2}`);
  if (train.labels.length !== n || test.labels.length !== m) throw new Error('linearProbe: one label per feature row is needed');
  const c = opts.numClasses;
  const mean = tf.tidy(() => train.features.mean(0, true));
  const std = tf.tidy(() => train.features.sub(mean).square().mean(0, true).sqrt().add(1e-6));
  const w = tf.variable(tf.zeros<tf.Rank.R2>([d, c]), true, `probe-w-${Date.now()}-${Math.random()}`);
  const b = tf.variable(tf.zeros([c]), true, `probe-b-${Date.now()}-${Math.random()}`);
  const opt = new AdamW(new Map([['probe.weight', w], ['probe_bias', b]]), { weightDecay: opts.weightDecay ?? 1e-4, betas: [0.9, 0.999], eps: 1e-8 });
  const xTrain = tf.tidy(() => train.features.sub(mean).div(std));
  const xTest = tf.tidy(() => test.features.sub(mean).div(std));
  const yTrain = tf.tensor1d(Array.from(train.labels), 'int32');
  const logitsOf = (x: Tensor) => matMul2d(x as Tensor2D, w).add(b);
  try {
    for (let s = 0; s < (opts.steps ?? 300); s++) {
      const { value, grads } = tf.variableGrads(() => crossEntropy(logitsOf(xTrain), yTrain) as tf.Scalar, [w, b]);
      opt.apply(new Map([['probe.weight', grads[w.name]], ['probe_bias', grads[b.name]]]), opts.lr ?? 0.05);
      tf.dispose([value, ...Object.values(grads)]);
    }
    const accuracy = (x: Tensor, labels: ArrayLike<number>) => top1Accuracy(tf.tidy(() => logitsOf(x).dataSync()), labels, c);
    return { top1: accuracy(xTest, test.labels), trainTop1: accuracy(xTrain, train.labels) };
  } finally {
    opt.dispose();
    tf.dispose([mean, std, w, b, xTrain, xTest, yTrain]);
  }
}

/**
 * Top-1 accuracy of class logits: a row counts as correct only when its true class's logit is strictly above
 * every other class's ({@link pessimisticRank} 0). A tie is wrong (argmax would give it to the lower index) and
 * so is a row with a NaN logit on the true class or a NaN rival (argmax over NaN is backend-defined).
 * @param logits row-major float32 [N, C]
 * @param labels true classes [N] in [0, C)
 * @param numClasses C
 * @returns accuracy in [0, 1] (0 for N = 0)
 */
export function top1Accuracy(logits: ArrayLike<number>, labels: ArrayLike<number>, numClasses: number): number {
  let hits = 0;
  for (let i = 0; i < labels.length; i++) {
    const row = Array.from({ length: numClasses }, (_, c) => logits[i * numClasses + c]);
    if (pessimisticRank(row[labels[i]], row.filter((_, c) => c !== labels[i])) === 0) hits++;
  }
  return hits / Math.max(1, labels.length);
}
