import { tf, Tensor, Variable } from '../tf';

/**
 * CLIP's initial logit scale, as a log: ln(1/0.07) ("the learnable temperature parameter tau was initialized to the
 * equivalent of 0.07", Radford et al. 2021, section 2.5). CLIP, CoCa, VLMo and BEiT-3 start from it.
 */
export const CLIP_LOGIT_SCALE_INIT = Math.log(1 / 0.07);

/** The clamp of CLIP's effective logit scale exp(logit_scale) ("clipped to prevent scaling the logits by more than 100", section 2.5). */
export const CLIP_MAX_LOGIT_SCALE = 100;

/**
 * The effective logit scale exp(min(logScale, ln max)) of a scale stored as a log (open_clip CLIP and CoCa).
 * @param logScale float32 scalar variable
 * @param max the largest effective scale (default {@link CLIP_MAX_LOGIT_SCALE})
 * @returns float32 scalar
 */
export function clampedLogitScale(logScale: Variable, max: number = CLIP_MAX_LOGIT_SCALE): Tensor {
  return tf.tidy(() => logScale.minimum(tf.scalar(Math.log(max))).exp());
}

/**
 * Clips a log logit scale in place to [0, ln max], no gradient: what open_clip's training loop does after each
 * optimizer step (`logit_scale.clamp_(0, math.log(100))`).
 * @param logScale float32 scalar variable
 * @param max the largest effective scale (default {@link CLIP_MAX_LOGIT_SCALE})
 */
export function clampLogitScale(logScale: Variable, max: number = CLIP_MAX_LOGIT_SCALE): void {
  tf.tidy(() => logScale.assign(logScale.clipByValue(0, Math.log(max))));
}
