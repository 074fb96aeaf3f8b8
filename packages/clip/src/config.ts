import { z } from 'zod';
import { headsDivideWidth, openClipModelShape, openClipVisionShape, textTowerShape } from '@mmzoo/core';

/**
 * The `model.vision` section of a CLIP config (Radford et al. 2021; open_clip `model_configs/*.json`): open_clip's
 * ViT tower. Defaults live only here and in core's fragments. Keys are strict: an unknown key is an error naming its
 * YAML path.
 */
export const ClipVisionSchema = z.strictObject(openClipVisionShape()).refine(...headsDivideWidth);

/** The `model.text` section: a causal text transformer (paper section 2.4). */
export const ClipTextSchema = z
  .strictObject({
    ...textTowerShape(),
    /**
     * Text pooling. Default: 'eot' (the first end-of-text token) whenever an end-of-text id is known (`eotId`
     * here, or the tokenizer's end id), else 'argmax'. 'argmax' pools at the largest id: open_clip's default
     * (`text_global_pool`, `pool_type='argmax'`), right only for OpenAI's BPE, where <end_of_text> is the largest
     * id; name it explicitly for OpenAI ids. See `defaultTextPool` in @mmzoo/core.
     */
    pool: z.enum(['argmax', 'eot', 'cls', 'mean']).optional(),
    /** end-of-text id; when omitted with a trained tokenizer, the tokenizer's end id is used */
    eotId: z.number().int().nonnegative().optional(),
    padId: z.number().int().nonnegative().default(0),
  })
  .refine(...headsDivideWidth);

/**
 * The whole `model:` section for `name: clip`: open_clip's model keys (core's openClipModelShape: `embedDim`, the
 * towers, `activation` 'quick_gelu' by default for OpenAI's weights, 'gelu' for open_clip's own, and the logit scale).
 */
export const ClipConfigSchema = z.strictObject({
  name: z.literal('clip'),
  ...openClipModelShape(ClipVisionSchema, ClipTextSchema, { activation: 'quick_gelu' }),
});

/** A validated CLIP model config. */
export type ClipConfig = z.infer<typeof ClipConfigSchema>;
/** A CLIP model config before defaults are applied (what a YAML file holds). */
export type ClipConfigInput = z.input<typeof ClipConfigSchema>;
