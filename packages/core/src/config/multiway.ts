import { z } from 'zod';
import { transformerShape } from './transformer';
import { PatchInputSchema } from './vit';

/**
 * The keys of a model built on one multiway transformer over image patches and text tokens (VLMo, Bao et al. 2022,
 * section 3.1; BEiT-3, Wang et al. 2023, section 2.1): the patch input (`model.vision`: {@link PatchInputSchema}),
 * the model's text section, and the shared transformer's sizes; a zod object shape to spread into a `model:` schema.
 * @param text the model's `model.text` schema
 * @returns the shape: vision, text, width, layers, numHeads, mlpRatio (the FFN width as a multiple of width, 4)
 */
export function multiwayShape<T extends z.ZodType>(text: T) {
  return { vision: PatchInputSchema, text, ...transformerShape() };
}
