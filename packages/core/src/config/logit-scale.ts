import { z } from 'zod';
import { CLIP_LOGIT_SCALE_INIT, CLIP_MAX_LOGIT_SCALE } from '../nn/logit-scale';

/**
 * The `initLogitScale` key of a contrastive model: the learnable logit scale's initial value, as a log; default
 * CLIP's ln(1/0.07) (Radford et al. 2021, section 2.5), which CLIP, CoCa, VLMo and BEiT-3 all keep.
 */
export const InitLogitScaleSchema = z.number().default(CLIP_LOGIT_SCALE_INIT);

/**
 * The `maxLogitScale` key: the effective scale exp(logit_scale) is clamped to at most this (CLIP section 2.5: 100;
 * open_clip and its CoCa likewise).
 */
export const MaxLogitScaleSchema = z.number().positive().default(CLIP_MAX_LOGIT_SCALE);

/**
 * The logit-scale keys of a CLIP-style contrastive loss (CLIP and CoCa): `initLogitScale` ({@link
 * InitLogitScaleSchema}) and `maxLogitScale` ({@link MaxLogitScaleSchema}); a zod object shape to spread into a
 * `model:` schema.
 */
export function logitScaleShape() {
  return { initLogitScale: InitLogitScaleSchema, maxLogitScale: MaxLogitScaleSchema };
}
