import { z } from 'zod';

/**
 * The size keys of a transformer stack (Vaswani et al. 2017, section 3; as ViT, Dosovitskiy et al. 2021, section
 * 3.1, and CLIP's towers, Radford et al. 2021, section 2.4, configure it): a zod object shape to spread into a
 * tower's or a model's schema.
 * @returns the shape: width, layers, numHeads, mlpRatio (the MLP width as a multiple of width, default 4)
 */
export function transformerShape() {
  return {
    width: z.number().int().positive(),
    layers: z.number().int().positive(),
    numHeads: z.number().int().positive(),
    /** MLP width as a multiple of width (Transformer, ViT, CLIP, BERT: 4) */
    mlpRatio: z.number().positive().default(4),
  };
}

/**
 * The token input of a text section: the context length and the vocabulary size, which the tokenizer gives when the
 * config leaves it out; a zod object shape to spread into a `model.text` schema.
 * @param minLength the shortest context the model accepts (default 1; 2 where every row holds a start and an end
 *   token that masking must keep, as VLMo's and BEiT-3's)
 * @returns the shape: contextLength, vocabSize (optional)
 */
export function textInputShape(minLength = 1) {
  return {
    /** token positions per text (position table rows); also the tokenizer's context length */
    contextLength: z.number().int().min(minLength),
    /** vocabulary size; when omitted, taken from the tokenizer built from the training captions */
    vocabSize: z.number().int().positive().optional(),
  };
}

/**
 * The keys of a text transformer tower: its {@link textInputShape} and its {@link transformerShape} (CLIP's and
 * CoCa's text towers, BLIP's BERT): a zod object shape to spread into a `model.text` schema.
 * @returns the shape: contextLength, vocabSize (optional), width, layers, numHeads, mlpRatio
 */
export function textTowerShape() {
  return { ...textInputShape(), ...transformerShape() };
}

/**
 * The check that a stack's width splits evenly over its attention heads (the head width is width / numHeads), as
 * arguments of zod's `refine`: `schema.refine(...headsDivideWidth)`; the error names `numHeads`.
 */
export const headsDivideWidth: [(v: { width: number; numHeads: number }) => boolean, { message: string; path: string[] }] = [
  (v) => v.width % v.numHeads === 0,
  { message: 'width must be divisible by numHeads', path: ['numHeads'] },
];
