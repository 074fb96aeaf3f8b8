import { z } from 'zod';
import {
  InitLogitScaleSchema, VisualTokenizerSchema, headsDivideWidth, itmShape, multiwayShape, patchesTileImage, textInputShape, textTokenIdsShape,
} from '@mmzoo/core';

/** The `model.text` section: BERT-style word embeddings; positions through the relative position bias (and BERT's position table with `model.absolutePositions`). */
export const VlmoTextSchema = z
  .strictObject({
    // contextLength: max_text_len (VLMo: 40), at least start and end; vocabSize (VLMo: 30522, BERT uncased)
    ...textInputShape(2),
    /** the text length the relative position table was first built for (VLMo's max_text_len_of_initckpt: 196) */
    maxTextLenOfInitCkpt: z.number().int().positive().default(196),
    /** LayerNorm epsilon of the text embeddings (BERT: 1e-12) */
    lnEps: z.number().positive().default(1e-12),
    ...textTokenIdsShape(),
  });

/** Weights of the pre-training objectives of one step (VLMo section 3.2); 0 switches one off (and its head). */
export const VlmoObjectivesSchema = z
  .strictObject({
    /** image-text contrastive learning in dual-encoder mode (also on the VL-FFN features, as unilm does) */
    itc: z.number().nonnegative().default(1),
    /** image-text matching in fusion mode with hard negatives drawn from the ITC similarities */
    itm: z.number().nonnegative().default(1),
    /** masked language modelling: in fusion mode on image-text pairs, in text-only mode on text-only data (section 3.3) */
    mlm: z.number().nonnegative().default(1),
    /**
     * BEiT-style masked image modelling in image-only mode (the image-only stage, section 3.3): builds `mask_token`,
     * `mim_head` and a k-means visual tokenizer (`model.tokenizer`); 0 (default) builds none of them
     */
    mim: z.number().nonnegative().default(0),
  });

/** Masked image modelling of the image-only stage (BEiT section 2.5: block-wise masking of about 40% of patches). */
export const VlmoMimSchema = z
  .strictObject({
    /** fraction of patches masked block-wise (BEiT: 75 of 196, 0.4) */
    ratio: z.number().min(0).max(1).default(0.4),
    /** smallest block of the block-wise masking (BEiT: 16 patches) */
    minBlock: z.number().int().positive().default(16),
  });

/** The whole `model:` section for `name: vlmo`. */
export const VlmoConfigSchema = z
  .strictObject({
    name: z.literal('vlmo'),
    // the patch input (section 3.1), the text section and the shared multiway transformer's sizes (VLMo-Base: width 768)
    ...multiwayShape(VlmoTextSchema),
    /** first layer with the VL-FFN (vlffn_start_layer_index; VLMo-Base: 10 of 12, so F = 2) */
    vlStart: z.number().int().nonnegative(),
    /**
     * learned absolute position embeddings for image patches (V_pos, `pos_embed`) and text tokens (T_pos), added to
     * the inputs as the paper describes (section 3.1); false (default) is the released code (use_abs_pos_emb False,
     * BERT position_embedding_type "rel_pos"): positions come only from the relative position bias, which is kept
     * in both layouts
     */
    absolutePositions: z.boolean().default(false),
    /** initial value of the layer-scale factors gamma_1, gamma_2 (VLMo: 0.1) */
    layerScale: z.number().positive().default(0.1),
    /** std of the N(0, std^2) initialisation of the transformer's Linear weights (VLMo: 0.02, timm trunc_normal_) */
    initStd: z.number().positive().default(0.02),
    /** epsilon of the transformer LayerNorms (1e-6) */
    lnEps: z.number().positive().default(1e-6),
    /** initial ITC logit scale as a log (CLIP's ln(1/0.07)) */
    initLogitScale: InitLogitScaleSchema,
    objectives: VlmoObjectivesSchema.default(VlmoObjectivesSchema.parse({})),
    // ITM hard negatives (paper and unilm: softmax weights + 0) and the ITC candidates re-ranked by ITM in the
    // evaluation's `retrievalItmRerank` (VLMo section 4.2 reports ITC retrieval; ALBEF's k, 16)
    ...itmShape({ hardNegativeEps: 0, itmRerankK: 16 }),
    /** masking probability of MLM (VLMo: 0.15) */
    mlmProbability: z.number().min(0).max(1).default(0.15),
    /** masked image modelling (objectives.mim > 0): masking */
    mim: VlmoMimSchema.default(VlmoMimSchema.parse({})),
    /** masked image modelling (objectives.mim > 0): the visual tokenizer giving the targets */
    tokenizer: VisualTokenizerSchema.default(VisualTokenizerSchema.parse({})),
  })
  .refine(...headsDivideWidth)
  .refine((c) => c.vlStart <= c.layers, { message: 'vlStart must be at most layers', path: ['vlStart'] })
  .refine(...patchesTileImage);

/** A validated VLMo model config. */
export type VlmoConfig = z.infer<typeof VlmoConfigSchema>;
/** A VLMo model config before defaults are applied (what a YAML file holds). */
export type VlmoConfigInput = z.input<typeof VlmoConfigSchema>;
