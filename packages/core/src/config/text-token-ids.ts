import { z } from 'zod';

/**
 * The special token ids a masked-language-modelling text config names (BERT's masking, Devlin et al. 2019, section
 * 3.1, as VLMo section 3.2 and BEiT-3 section 2.2 use it), with the word tokenizer's ids as defaults: a zod object
 * shape to spread into a model's `model.text` schema. Start, end and padding are never masked; replacements are
 * drawn from `firstWordId` upwards.
 * @returns the shape: padId, startId, endId (optional: the tokenizer's end id), maskId, firstWordId
 */
export function textTokenIdsShape() {
  return {
    /** padding id (word tokenizer: 0) */
    padId: z.number().int().nonnegative().default(0),
    /** start-of-text id, never masked (word tokenizer [CLS]: 2) */
    startId: z.number().int().nonnegative().default(2),
    /** end-of-text id, never masked; when omitted, the tokenizer's end id (word tokenizer [SEP]: 3) */
    endId: z.number().int().nonnegative().optional(),
    /** [MASK] id for masked language modelling (word tokenizer: 4) */
    maskId: z.number().int().nonnegative().default(4),
    /** lowest id used as a random replacement token in masking (the word tokenizer's first word id: 5) */
    firstWordId: z.number().int().nonnegative().default(5),
  };
}
