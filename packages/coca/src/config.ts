import { z } from 'zod';
import { CaptionDecodingSchema, openClipModelShape, openClipVisionShape, textTowerShape } from '@mmzoo/core';

/**
 * The `model.vision` section of a CoCa config: a ViT image encoder followed by attentional poolers
 * (Yu et al. 2022, "CoCa: Contrastive Captioners are Image-Text Foundation Models", section 3.2). Defaults live
 * only here; keys are strict (an unknown key is an error naming its YAML path).
 */
export const CocaVisionSchema = z
  .strictObject({
    ...openClipVisionShape(),
    /**
     * 'paper' (default): two attentional poolers over the encoder tokens, `attn_pool_contrastive` with one query
     * for the contrastive embedding and `attn_pool` with `numQueries` queries for the decoder (section 3.2:
     * n_query = 1 and 256). 'open_clip': one pooler `attn_pool` whose first output row is the contrastive
     * embedding and whose other `numQueries - 1` rows feed the decoder (what open_clip's CoCa weights hold).
     */
    poolers: z.enum(['paper', 'open_clip']).default('paper'),
    /** queries of the captioning pooler (paper: 256; open_clip's single pooler: 256, row 0 included) */
    numQueries: z.number().int().positive().default(256),
    /** attention heads of the poolers (open_clip: 8) */
    poolerHeads: z.number().int().positive().default(8),
  });

/**
 * The `model.text` section: the unimodal text decoder, the bottom half of CoCa's decoder (section 3.2): causal
 * self-attention over the caption with a learned CLS token appended at the end, whose output is the text embedding.
 * `contextLength` counts the caption tokens of a row; the CLS takes one more position.
 */
export const CocaTextSchema = z
  .strictObject({
    ...textTowerShape(),
    /** padding id; when omitted, the tokenizer's (0 without a tokenizer) */
    padId: z.number().int().nonnegative().optional(),
    /**
     * Attention mask of the CLS row. 'paper' (default): the CLS sees every non-pad token and itself.
     * 'open_clip': open_clip's legacy mask (`correct_cls_mask=False`), shifted by one position: key 0 is always
     * visible and key k >= 1 only when token k-1 is not padding, on every row; so the CLS sees the first pad but
     * not itself. Use it with weights trained by open_clip.
     */
    clsMask: z.enum(['paper', 'open_clip']).default('paper'),
  });

/** The `model.decoder` section: the multimodal text decoder (top half), of the text width. */
export const CocaDecoderSchema = z
  .strictObject({
    layers: z.number().int().positive(),
    numHeads: z.number().int().positive(),
    mlpRatio: z.number().positive().default(4),
  });

/** The `model.loss` section: L = lambda_con * L_Con + lambda_cap * L_Cap (paper eq. 4; section 4.1: 1.0 and 2.0). */
export const CocaLossSchema = z
  .strictObject({
    contrastiveWeight: z.number().nonnegative().default(1),
    captionWeight: z.number().nonnegative().default(2),
  });

/** The `model.caption` section: how captions are decoded (core `generate`) and scored in evaluation (core's schema). */
export const CocaCaptionSchema = CaptionDecodingSchema;

/**
 * The whole `model:` section for `name: coca`: open_clip's model keys as CLIP's (core's openClipModelShape; `embedDim`
 * is also the width of the pooled image tokens, open_clip: = text width; `activation` 'gelu', exact erf, as open_clip's
 * CoCa), then the multimodal decoder, the loss weights and caption decoding.
 */
export const CocaConfigSchema = z
  .strictObject({
    name: z.literal('coca'),
    ...openClipModelShape(CocaVisionSchema, CocaTextSchema, { activation: 'gelu' }),
    decoder: CocaDecoderSchema,
    loss: CocaLossSchema.default(CocaLossSchema.parse({})),
    /** caption decoding with the multimodal decoder (core `generate`; `mmzoo caption`, bleu4 / cider in results.json) */
    caption: CaptionDecodingSchema.default(CaptionDecodingSchema.parse({})),
  });

/** A validated CoCa model config. */
export type CocaConfig = z.infer<typeof CocaConfigSchema>;
/** A CoCa model config before defaults are applied (what a YAML file holds). */
export type CocaConfigInput = z.input<typeof CocaConfigSchema>;
