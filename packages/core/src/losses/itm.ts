import { tf, Tensor } from '../tf';

/**
 * A model with an image-text matching head (ALBEF, BLIP, VLMo fusion): features of each side are computed once
 * per gallery item and cached; pairs are then scored from gathered features.
 */
export interface ItmScorer {
  /** image-side features to cache, e.g. the image encoder's tokens: float32 [B, ...] */
  itmImageFeatures(images: Tensor): Tensor;
  /** text-side tensors to cache (e.g. text states and their attention mask), each [B, ...] */
  itmTextFeatures(ids: Tensor): Tensor[];
  /** match score (e.g. the ITM match logit) of K pairs from gathered features: image [K, ...], text [K, ...] each -> float32 [K] */
  itmScore(image: Tensor, text: Tensor[]): Tensor;
}

/**
 * The match log-odds of an ITM head's two-way logits, `logit[:, 1] - logit[:, 0]` (class 1 = match, as in ALBEF
 * and BLIP, sec. 3.2 / 3.2): > 0 where the head predicts a match. The usual {@link ItmScorer.itmScore} value.
 * @param logits float32 [K, 2] (no-match, match)
 * @returns float32 [K]
 * @throws Error when `logits` is not [K, 2]
 */
export function itmLogOdds(logits: Tensor): Tensor {
  if (logits.rank !== 2 || logits.shape[1] !== 2) throw new Error(`itmLogOdds: expected logits [K, 2], got [${logits.shape}]`);
  return tf.tidy(() => {
    const k = logits.shape[0] as number;
    return logits.slice([0, 1], [k, 1]).sub(logits.slice([0, 0], [k, 1])).reshape([k]);
  });
}
