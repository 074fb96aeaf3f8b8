import { z } from 'zod';
import {
  InitLogitScaleSchema, VisualTokenizerSchema, headsDivideWidth, multiwayShape, patchesTileImage, textInputShape, textTokenIdsShape,
} from '@mmzoo/core';

/** The `model.text` section: torchscale's `TextEmbedding` (a plain lookup) and learned positions. */
export const Beit3TextSchema = z
  .strictObject({
    // contextLength: token positions per caption, at least start and end; vocabSize (BEiT-3: 64010, XLM-R sentencepiece)
    ...textInputShape(2),
    /** rows of the text position table (torchscale max_source_positions; BEiT-3: 1024); rows 0-1 are unused */
    maxPositions: z.number().int().positive().optional(),
    ...textTokenIdsShape(),
  });

/** Masked data modeling (BEiT-3 section 2.2): masking ratios per data kind. */
export const Beit3MaskingSchema = z
  .strictObject({
    /** image-only data: fraction of patches masked block-wise (paper: 0.4) */
    image: z.number().min(0).max(1).default(0.4),
    /** text-only data: fraction of tokens masked (paper: 0.15) */
    text: z.number().min(0).max(1).default(0.15),
    /** image-text pairs: fraction of the text tokens masked (paper: 0.5) */
    pairText: z.number().min(0).max(1).default(0.5),
    /** image-text pairs: fraction of the patches masked block-wise (default 0: the image stays whole) */
    pairImage: z.number().min(0).max(1).default(0),
    /** smallest block of the block-wise masking (BEiT: 16 patches) */
    minBlock: z.number().int().positive().default(16),
  });

/** The visual tokenizer that gives the image targets: a k-means codebook fitted on training patches (core's schema). */
export const Beit3TokenizerSchema = VisualTokenizerSchema;

/** Weights of the objectives of one step; 0 switches one off (and its head). */
export const Beit3ObjectivesSchema = z
  .strictObject({
    /** masked data modeling on images, texts and image-text pairs (section 2.2) */
    mdm: z.number().nonnegative().default(1),
    /** image-text contrastive loss on the dual-encoder mode (the retrieval fine-tuning objective, section 3.2) */
    itc: z.number().nonnegative().default(0),
  });

/** The whole `model:` section for `name: beit3`. */
export const Beit3ConfigSchema = z
  .strictObject({
    name: z.literal('beit3'),
    // torchscale's `VisionEmbedding` input (stride-P conv with bias), the text section and the multiway transformer's sizes
    ...multiwayShape(Beit3TextSchema),
    /**
     * 'released' (default): torchscale's layout, every LayerNorm and attention projection in per-modality copies
     * (A vision, B language) around one shared softmax, so released checkpoints load; 'paper': shared attention
     * (section 2.1, Fig. 2) with modality-expert FFNs and the VL-FFN in the top `vlLayers` layers
     */
    layout: z.enum(['released', 'paper']).default('released'),
    /** number of top layers with the vision-language expert (paper: 3 of 12 / 40); needs layout 'paper' */
    vlLayers: z.number().int().nonnegative().default(0),
    /** LayerNorm epsilon (torchscale: 1e-5) */
    lnEps: z.number().positive().default(1e-5),
    masking: Beit3MaskingSchema.default(Beit3MaskingSchema.parse({})),
    tokenizer: Beit3TokenizerSchema.default(Beit3TokenizerSchema.parse({})),
    objectives: Beit3ObjectivesSchema.default(Beit3ObjectivesSchema.parse({})),
    /** build the retrieval heads (`vision_head`, `language_head`, `logit_scale`, as BEiT3ForRetrieval) */
    retrievalHeads: z.boolean().default(true),
    /** initial ITC logit scale as a log (CLIP's ln(1/0.07)) */
    initLogitScale: InitLogitScaleSchema,
  })
  .refine(...headsDivideWidth)
  .refine((c) => c.vlLayers <= c.layers, { message: 'vlLayers must be at most layers', path: ['vlLayers'] })
  .refine((c) => c.vlLayers === 0 || c.layout === 'paper', { message: "vision-language experts need layout 'paper' (torchscale's released layout has none)", path: ['vlLayers'] })
  .refine((c) => c.objectives.itc === 0 || c.retrievalHeads, { message: 'objectives.itc needs retrievalHeads', path: ['objectives', 'itc'] })
  .refine(...patchesTileImage);

/** A validated BEiT-3 model config. */
export type Beit3Config = z.infer<typeof Beit3ConfigSchema>;
/** A BEiT-3 model config before defaults are applied. */
export type Beit3ConfigInput = z.input<typeof Beit3ConfigSchema>;
