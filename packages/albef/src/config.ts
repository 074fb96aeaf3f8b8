import { z } from 'zod';
import { VitConfigSchema, momentumItcShape } from '@mmzoo/core';

/** The `model.vision` section of an ALBEF config: a ViT-B/16 in the paper (Li et al. 2021, section 3.1). */
export const AlbefVisionSchema = VitConfigSchema;

/**
 * The `model.text` section: a BERT whose first `textLayers` layers are the text encoder and whose last
 * `fusionLayers` layers, each with cross-attention to the image tokens, are the multimodal (fusion) encoder
 * (section 3.1: BERT-base split 6 + 6).
 */
export const AlbefTextSchema = z
  .object({
    /** maximum token length (BERT position table rows); also the tokenizer context length */
    contextLength: z.number().int().positive(),
    /** vocabulary size; when omitted, taken from the tokenizer built from the training captions */
    vocabSize: z.number().int().positive().optional(),
    width: z.number().int().positive(),
    textLayers: z.number().int().positive(),
    fusionLayers: z.number().int().positive(),
    numHeads: z.number().int().positive(),
    mlpRatio: z.number().positive().default(4),
    /** token-type (segment) rows (BERT: 2; type 0 is used) */
    typeVocabSize: z.number().int().nonnegative().default(2),
    /** LayerNorm epsilon (BERT: 1e-12) */
    lnEps: z.number().positive().default(1e-12),
    /**
     * init std of the BERT weights and tables (BERT initializer_range 0.02, tuned for width 768, where a projection
     * has gain ~0.55; a narrow encoder trained from scratch needs ~0.55 / sqrt(width) for its [CLS] state to depend on
     * the caption at all)
     */
    initStd: z.number().positive().default(0.02),
    /**
     * additive constant for padded keys: -10000 (HF BERT, the authors' xbert.py) or -.inf (torchmultimodal); equal
     * probabilities in float32
     */
    maskValue: z.union([z.number(), z.literal(-Infinity)]).default(-10000),
    /** special ids; defaults are mmzoo's word tokenizer ([PAD] 0, [UNK] 1, [CLS] 2, [SEP] 3, [MASK] 4) */
    padId: z.number().int().nonnegative().optional(),
    maskId: z.number().int().nonnegative().default(4),
    /** ids below this are special tokens: never masked, never drawn as MLM random replacements */
    numSpecial: z.number().int().nonnegative().default(5),
  })
  .strict();

/** The whole `model:` section for `name: albef`. Defaults are the paper's recipe (section 3, 4.3). */
export const AlbefConfigSchema = z
  .object({
    name: z.literal('albef'),
    // ITC with momentum distillation (sections 3.2-3.3, defaults of section 4.3; queue M = 65,536)
    ...momentumItcShape({ queueSize: 65536 }),
    /** MLM masking probability (section 3.2: 15%, BERT's 80/10/10 replacement) */
    mlmProbability: z.number().min(0).max(1).default(0.15),
    /** momentum distillation on MLM (section 3.3 eq. 7); false as in the torchmultimodal fixture */
    mlmDistill: z.boolean().default(true),
    /** MLM decoder tied to the word embeddings (the authors' release); false: its own decoder weight */
    tieMlmHead: z.boolean().default(true),
    /** constant added to the hard-negative softmax weights (paper: 0; see core hardNegativeWeights) */
    hardNegativeEps: z.number().nonnegative().default(0),
    /** ITC candidates re-ranked by ITM at retrieval (section 4.1 / the authors' k_test) */
    itmRerankK: z.number().int().positive().default(16),
    vision: AlbefVisionSchema,
    text: AlbefTextSchema,
  })
  .strict();

/** A validated ALBEF model config. */
export type AlbefConfig = z.infer<typeof AlbefConfigSchema>;
/** An ALBEF model config before defaults are applied (what a YAML file holds). */
export type AlbefConfigInput = z.input<typeof AlbefConfigSchema>;
