import { z } from 'zod';
import { logitScaleShape } from './logit-scale';
import { transformerShape } from './transformer';
import { ImageSizeSchema, patchInputShape } from './vit';

/**
 * The keys of open_clip's `VisionTransformer` tower (Radford et al. 2021, section 2.4; open_clip `vision_cfg`): the
 * image input, square or [height, width], and the transformer's sizes; a zod object shape to spread into the
 * `model.vision` schema of CLIP and CoCa.
 * @returns the shape: imageSize, patchSize, channels, width, layers, numHeads, mlpRatio
 */
export function openClipVisionShape() {
  return { ...patchInputShape(ImageSizeSchema), ...transformerShape() };
}

/**
 * The model keys open_clip's CLIP and CoCa configs share (`embed_dim`, `vision_cfg`, `text_cfg`, `quick_gelu`,
 * `init_logit_scale`; CoCa adds its decoder): a zod object shape to spread into a `model:` schema.
 * @param vision the model's `model.vision` schema; @param text its `model.text` schema
 * @param defaults.activation the towers' MLP activation by default: 'quick_gelu' (OpenAI's CLIP weights) or 'gelu'
 *   (exact erf; open_clip's own models and its CoCa)
 * @returns the shape: embedDim, vision, text, activation, initLogitScale, maxLogitScale
 */
export function openClipModelShape<V extends z.ZodType, T extends z.ZodType>(vision: V, text: T, defaults: { activation: 'gelu' | 'quick_gelu' }) {
  return {
    /** joint (contrastive) embedding width (CLIP ViT-B/32: 512; CoCa: also the pooled image tokens' width) */
    embedDim: z.number().int().positive(),
    vision,
    text,
    /** MLP activation of the towers: 'quick_gelu' (OpenAI's weights) or 'gelu' */
    activation: z.enum(['gelu', 'quick_gelu']).default(defaults.activation),
    // initLogitScale ln(1/0.07) and maxLogitScale 100: the learnable temperature of CLIP section 2.5
    ...logitScaleShape(),
  };
}
