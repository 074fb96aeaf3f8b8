import { z } from 'zod';
import { VitConfigSchema, bertTextShape, itmShape, momentumItcShape, textInputShape } from '@mmzoo/core';

/** The `model.vision` section of an ALBEF config: a ViT-B/16 in the paper (Li et al. 2021, section 3.1). */
export const AlbefVisionSchema = VitConfigSchema;

/**
 * The `model.text` section: a BERT whose first `textLayers` layers are the text encoder and whose last
 * `fusionLayers` layers, each with cross-attention to the image tokens, are the multimodal (fusion) encoder
 * (section 3.1: BERT-base split 6 + 6).
 */
export const AlbefTextSchema = z
  .strictObject({
    ...textInputShape(),
    width: z.number().int().positive(),
    textLayers: z.number().int().positive(),
    fusionLayers: z.number().int().positive(),
    numHeads: z.number().int().positive(),
    mlpRatio: z.number().positive().default(4),
    // BERT's LayerNorm epsilon, init std, token types (2; type 0 is used) and padded-key constant (-10000)
    ...bertTextShape({ typeVocabSize: 2 }),
    /** special ids; defaults are mmzoo's word tokenizer ([PAD] 0, [UNK] 1, [CLS] 2, [SEP] 3, [MASK] 4) */
    padId: z.number().int().nonnegative().optional(),
    maskId: z.number().int().nonnegative().default(4),
    /** ids below this are special tokens: never masked, never drawn as MLM random replacements */
    numSpecial: z.number().int().nonnegative().default(5),
  });

/** The whole `model:` section for `name: albef`. Defaults are the paper's recipe (section 3, 4.3). */
export const AlbefConfigSchema = z
  .strictObject({
    name: z.literal('albef'),
    // ITC with momentum distillation (sections 3.2-3.3, defaults of section 4.3; queue M = 65,536)
    ...momentumItcShape({ queueSize: 65536 }),
    /** MLM masking probability (section 3.2: 15%, BERT's 80/10/10 replacement) */
    mlmProbability: z.number().min(0).max(1).default(0.15),
    /** momentum distillation on MLM (section 3.3 eq. 7); false as in the torchmultimodal fixture */
    mlmDistill: z.boolean().default(true),
    /** MLM decoder tied to the word embeddings (the authors' release); false: its own decoder weight */
    tieMlmHead: z.boolean().default(true),
    // ITM hard negatives (paper: softmax weights + 0) and the ITC candidates ITM re-ranks at retrieval (section 4.1)
    ...itmShape({ hardNegativeEps: 0, itmRerankK: 16 }),
    vision: AlbefVisionSchema,
    text: AlbefTextSchema,
  });

/** A validated ALBEF model config. */
export type AlbefConfig = z.infer<typeof AlbefConfigSchema>;
/** An ALBEF model config before defaults are applied (what a YAML file holds). */
export type AlbefConfigInput = z.input<typeof AlbefConfigSchema>;
