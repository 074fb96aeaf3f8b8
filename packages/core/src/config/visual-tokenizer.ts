import { z } from 'zod';

/**
 * The `model.tokenizer` section of models with masked image modeling (BEiT-3, VLMo's image-only stage): the
 * visual tokenizer that gives the image targets, a k-means codebook fitted on training patches
 * (nn/kmeans-tokenizer.ts; BEiT v2's VQ-KD weights are not available here).
 */
export const VisualTokenizerSchema = z
  .strictObject({
    /** number of visual tokens K */
    codebookSize: z.number().int().min(2).default(256),
    /** training images whose patches fit the codebook */
    fitImages: z.number().int().positive().default(2000),
    /** Lloyd iterations */
    iterations: z.number().int().positive().default(10),
  });

/** A validated visual tokenizer config. */
export type VisualTokenizerConfig = z.infer<typeof VisualTokenizerSchema>;
