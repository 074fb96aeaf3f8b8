import { z } from 'zod';
import { CaptionDecodingSchema, VitConfigSchema, bertTextShape, itmShape, momentumItcShape, textTowerShape } from '@mmzoo/core';

/** The `model.vision` section of a BLIP config: a ViT (Li et al. 2022, section 3.1: ViT-B/16 or ViT-L/16). */
export const BlipVisionSchema = VitConfigSchema;

/**
 * The `model.text` section: the multimodal mixture of encoder-decoder (MED, section 3.1), a BERT whose layers
 * carry cross-attention to the image (used by the image-grounded encoder and decoder); the decoder shares every
 * parameter with the encoder except self-attention. `vocabSize` counts the words without [ENC]/[DEC].
 */
export const BlipTextSchema = z
  .strictObject({
    ...textTowerShape(),
    // BERT's LayerNorm epsilon, init std, token types (med.py: none) and masked-key constant ((1 - m) * -10000 in med.py)
    ...bertTextShape({ typeVocabSize: 0 }),
    /** [PAD] id; default: the tokenizer's */
    padId: z.number().int().nonnegative().optional(),
    /**
     * [ENC] and [DEC] ids (section 3.1: the image-grounded encoder's and decoder's first token); when omitted they are
     * appended after the vocabulary (ids V and V + 1; the table then has V + 2 rows), as BLIP adds them to BERT's
     * tokenizer
     */
    encId: z.number().int().nonnegative().optional(),
    decId: z.number().int().nonnegative().optional(),
  });

/** The whole `model:` section for `name: blip`. Defaults are the paper's pre-training recipe (section 4.1). */
export const BlipConfigSchema = z
  .strictObject({
    name: z.literal('blip'),
    // ITC with momentum encoders, queues and distillation as ALBEF (section 3.2; queue: the released pre-training config's 57,600)
    ...momentumItcShape({ queueSize: 57600 }),
    /** LM label smoothing (section 4.1 code: 0.1); the reported `lmNll` is always unsmoothed */
    labelSmoothing: z.number().min(0).lt(1).default(0.1),
    // ITM hard negatives (the authors' code: softmax weights + 1e-4) and the ITC candidates re-ranked by ITM + ITC (k_test: 256)
    ...itmShape({ hardNegativeEps: 1e-4, itmRerankK: 256 }),
    vision: BlipVisionSchema,
    text: BlipTextSchema,
    /** caption decoding with the image-grounded decoder (`mmzoo caption`, bleu4 / cider in results.json) */
    caption: CaptionDecodingSchema.default(CaptionDecodingSchema.parse({})),
  });

/** A validated BLIP model config. */
export type BlipConfig = z.infer<typeof BlipConfigSchema>;
/** A BLIP model config before defaults are applied (what a YAML file holds). */
export type BlipConfigInput = z.input<typeof BlipConfigSchema>;
