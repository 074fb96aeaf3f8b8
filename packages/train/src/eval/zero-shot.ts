import { tf, Tensor, Tensor2D, l2Normalize, matMul2d } from '@mmzoo/core';
import { pessimisticRank } from './retrieval';

/**
 * Class embeddings by prompt ensembling (CLIP, Radford et al. 2021, section 3.1.4): each class's prompts are
 * embedded and L2-normalised, averaged, and the mean normalised again.
 * @param promptEmbeddings float32 [K * T, E] normalised embeddings, the T prompts of class 0 first
 * @param numClasses K
 * @returns float32 [K, E]
 */
export function ensembleClassEmbeddings(promptEmbeddings: Tensor, numClasses: number): Tensor {
  return tf.tidy(() => {
    const [n, e] = promptEmbeddings.shape;
    return l2Normalize(promptEmbeddings.reshape([numClasses, n / numClasses, e]).mean(1));
  });
}

/**
 * Top-k accuracies of zero-shot classification: each image is assigned the classes of highest cosine
 * similarity with the class embeddings. The true class's rank counts the other classes scoring at or above it
 * ({@link pessimisticRank}): a tie is a wrong prediction, and a NaN score never counts as a correct one.
 * @param imageEmbeddings float32 [N, E] normalised
 * @param classEmbeddings float32 [K, E] normalised
 * @param labels true classes [N]
 * @param ks the k values (e.g. [1, 5])
 * @param similarity the scores [N, K] of image and class embeddings (default: the cosine `image @ class^T`; a model's
 *   own, core `dualEncoderScores`)
 * @returns accuracy in [0, 1] for each k, keyed `top1`, `top5`, ...
 */
export function zeroShotAccuracy(
  imageEmbeddings: Tensor, classEmbeddings: Tensor, labels: ArrayLike<number>, ks: number[] = [1, 5],
  similarity: (image: Tensor, classes: Tensor) => Tensor = (a, b) => matMul2d(a as Tensor2D, b.transpose() as Tensor2D),
): Record<string, number> {
  const scores = tf.tidy(() => similarity(imageEmbeddings, classEmbeddings).dataSync());
  const k = classEmbeddings.shape[0];
  const hits = ks.map(() => 0);
  for (let i = 0; i < labels.length; i++) {
    const row = scores.subarray(i * k, (i + 1) * k);
    const own = row[labels[i]];
    const rank = pessimisticRank(own, row.filter((_, c) => c !== labels[i]));
    ks.forEach((kk, j) => {
      if (rank < kk) hits[j]++;
    });
  }
  return Object.fromEntries(ks.map((kk, j) => [`top${kk}`, hits[j] / labels.length]));
}
