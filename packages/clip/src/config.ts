import { z } from 'zod';

/**
 * The `model:` section of a CLIP config (Radford et al. 2021; open_clip `model_configs/*.json`). Defaults live
 * only here. Keys are strict: an unknown key is an error naming its YAML path.
 */
export const ClipVisionSchema = z
  .object({
    /** image size in pixels (square) or [height, width] */
    imageSize: z.union([z.number().int().positive(), z.tuple([z.number().int().positive(), z.number().int().positive()])]),
    patchSize: z.number().int().positive(),
    /** input channels: 3 (RGB) or 1 (grey, e.g. Fashion-MNIST) */
    channels: z.number().int().positive().default(3),
    width: z.number().int().positive(),
    layers: z.number().int().positive(),
    numHeads: z.number().int().positive(),
    /** MLP width as a multiple of width (paper: 4) */
    mlpRatio: z.number().positive().default(4),
  })
  .strict()
  .refine((v) => v.width % v.numHeads === 0, { message: 'width must be divisible by numHeads', path: ['numHeads'] });

/** The `model.text` section: a causal text transformer (paper section 2.4). */
export const ClipTextSchema = z
  .object({
    contextLength: z.number().int().positive(),
    /** vocabulary size; when omitted, taken from the tokenizer built from the training captions */
    vocabSize: z.number().int().positive().optional(),
    width: z.number().int().positive(),
    layers: z.number().int().positive(),
    numHeads: z.number().int().positive(),
    mlpRatio: z.number().positive().default(4),
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
  .strict()
  .refine((t) => t.width % t.numHeads === 0, { message: 'width must be divisible by numHeads', path: ['numHeads'] });

/** The whole `model:` section for `name: clip`. */
export const ClipConfigSchema = z
  .object({
    name: z.literal('clip'),
    /** joint embedding width (ViT-B/32: 512) */
    embedDim: z.number().int().positive(),
    vision: ClipVisionSchema,
    text: ClipTextSchema,
    /** 'quick_gelu' for OpenAI weights, 'gelu' for open_clip's own */
    activation: z.enum(['gelu', 'quick_gelu']).default('quick_gelu'),
    /** initial logit scale as a log: ln(1/0.07) (paper section 2.5) */
    initLogitScale: z.number().default(Math.log(1 / 0.07)),
    /** the effective scale exp(logit_scale) is clamped to at most this (paper section 2.5: 100) */
    maxLogitScale: z.number().positive().default(100),
  })
  .strict();

/** A validated CLIP model config. */
export type ClipConfig = z.infer<typeof ClipConfigSchema>;
/** A CLIP model config before defaults are applied (what a YAML file holds). */
export type ClipConfigInput = z.input<typeof ClipConfigSchema>;
