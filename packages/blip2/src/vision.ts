import { VisionTransformer } from '@mmzoo/core';
import type { z } from 'zod';
import type { Blip2VisionSchema } from './config';

/**
 * The frozen image encoder of every BLIP-2 model (stage 1 and the bridges; Li et al. 2023, section 3.3) from its
 * `vision:` section: a ViT with a biased patch projection, no `ln_pre`, exact GELU, EVA's q/v-only or a full qkv bias,
 * built up to `featureLayer` (the paper: the second-to-last block) with or without the final LayerNorm.
 * @throws Error when the image size is not a multiple of the patch size; RangeError for a featureLayer outside the ViT
 */
export function buildBlip2Vision(v: z.infer<typeof Blip2VisionSchema>): VisionTransformer {
  return new VisionTransformer({
    imageSize: v.imageSize, patchSize: v.patchSize, channels: v.channels, width: v.width, layers: v.layers, numHeads: v.numHeads,
    mlpWidth: Math.round(v.width * v.mlpRatio), activation: 'gelu', lnEps: v.lnEps, lnPre: false, lnPost: v.finalNorm, patchBias: true,
    attnBias: v.attnBias === 'qv' ? 'qv' : true, featureLayer: v.featureLayer,
  });
}
