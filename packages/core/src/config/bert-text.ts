import { z } from 'zod';

/**
 * The config keys of a BERT text encoder (Devlin et al. 2019, section 3; HF `BertConfig`) beyond its sizes, shared
 * by ALBEF's text and fusion encoders (Li et al. 2021, section 3.1) and BLIP's MED (Li et al. 2022, section 3.1): a
 * zod object shape to spread into a `model.text` schema; they map onto core's `BertEncoder` options.
 * @param defaults.typeVocabSize the model's token-type rows (BERT: 2; BLIP's med.py: none, 0)
 * @returns the shape: lnEps, initStd, typeVocabSize, maskValue
 */
export function bertTextShape(defaults: { typeVocabSize: number }) {
  return {
    /** LayerNorm epsilon (BERT: 1e-12) */
    lnEps: z.number().positive().default(1e-12),
    /**
     * init std of the BERT weights and tables (BERT initializer_range 0.02, tuned for width 768, where a projection
     * has gain ~0.55; a narrow encoder trained from scratch needs ~0.55 / sqrt(width) for its [CLS] state to depend on
     * the caption at all)
     */
    initStd: z.number().positive().default(0.02),
    /** token-type (segment) rows; type 0 is used */
    typeVocabSize: z.number().int().nonnegative().default(defaults.typeVocabSize),
    /**
     * additive constant for padded keys: -10000 (HF BERT, the authors' xbert.py and med.py: (1 - m) * -10000) or
     * -.inf (torchmultimodal); equal probabilities in float32
     */
    maskValue: z.union([z.number(), z.literal(-Infinity)]).default(-10000),
  };
}
