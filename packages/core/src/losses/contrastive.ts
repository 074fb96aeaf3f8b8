import { tf, Tensor } from '../tf';
import { crossEntropy } from './cross-entropy';
import { matMul2d } from '../ops/matmul';
import { Tensor2D } from '../tf';

/** Named parts of {@link contrastiveLoss}. */
export interface ContrastiveLossOutput {
  /** float32 scalar: (i2t + t2i) / 2 */
  total: Tensor;
  parts: {
    /** float32 scalar: cross-entropy of logitsPerImage rows (image -> text) */
    i2t: Tensor;
    /** float32 scalar: cross-entropy of logitsPerText rows (text -> image) */
    t2i: Tensor;
  };
}

/**
 * Symmetric contrastive InfoNCE (CLIP, Radford et al. 2021, Fig. 3; open_clip `ClipLoss`): the mean of the
 * image->text and text->image cross-entropies of `scale * image @ text^T`. Features are expected L2-normalised.
 * How the scale is parametrised and clamped belongs to the model (CLIP: exp of a learnable log scale; ALBEF,
 * BLIP: 1 / temperature).
 *
 * @param imageFeatures float32 [B, E]
 * @param textFeatures float32 [M, E] (M = B for the square case; M > B when extra candidates such as a
 *   queue are appended to the text side, in which case pass soft targets)
 * @param scale float32 scalar tensor (multiplies the cosine similarities; carries gradient)
 * @param targets optional soft targets: `i2t` float32 [B, M] and `t2i` float32 [M, B], rows summing
 *   to 1 (momentum distillation, same-image positives); default: the identity (pair i matches pair i)
 * @returns total and parts, float32 scalars
 * @throws Error when M != B without targets, or when B < 2: with one pair the softmax over one candidate is 1 and the loss is always 0
 */
export function contrastiveLoss(
  imageFeatures: Tensor,
  textFeatures: Tensor,
  scale: Tensor,
  targets?: { i2t: Tensor; t2i: Tensor },
): ContrastiveLossOutput {
  const b = imageFeatures.shape[0];
  if (!targets && textFeatures.shape[0] !== b) {
    throw new Error(`contrastive loss with ${b} images and ${textFeatures.shape[0]} texts needs soft targets`);
  }
  if (b < 2) throw new Error(`contrastive loss needs at least 2 pairs per batch, got ${b}: with one pair the loss is always 0`);
  return tf.tidy(() => {
    const logitsPerImage = matMul2d(imageFeatures as Tensor2D, textFeatures.transpose() as Tensor2D).mul(scale);
    const logitsPerText = logitsPerImage.transpose();
    const labels = tf.range(0, b, 1, 'int32');
    const i2t = crossEntropy(logitsPerImage, targets?.i2t ?? labels);
    const t2i = crossEntropy(logitsPerText, targets?.t2i ?? labels);
    return { total: i2t.add(t2i).div(tf.scalar(2)), parts: { i2t, t2i } };
  });
}

/** Row-wise L2 normalisation `x / max(||x||, 1e-12)` (torch F.normalize). float32 [N, E] -> [N, E]. */
export function l2Normalize(x: Tensor): Tensor {
  return tf.tidy(() => x.div(x.square().sum(-1, true).sqrt().maximum(tf.scalar(1e-12))));
}
