import { z } from 'zod';

/**
 * A `model.caption` section: how a generative model decodes captions with core `generate` (greedy, beam search,
 * nucleus sampling; see generate/decode.ts) and how many test scenes are captioned for `bleu4` / `cider` in
 * results.json. The `caption:` section of the captioning models (BLIP, CoCa).
 */
export const CaptionDecodingSchema = z
  .strictObject({
    strategy: z.enum(['greedy', 'beam', 'nucleus']).default('beam'),
    /** most generated tokens, the end token included (at most text.contextLength - 1) */
    maxLength: z.number().int().positive().default(15),
    minLength: z.number().int().nonnegative().default(0),
    beamSize: z.number().int().positive().default(3),
    lengthPenalty: z.number().default(1),
    topP: z.number().gt(0).max(1).default(0.9),
    temperature: z.number().positive().default(1),
    repetitionPenalty: z.number().positive().default(1),
    seed: z.number().int().default(0),
    /** test scenes captioned for `bleu4` / `cider` in results.json (0 disables) */
    testScenes: z.number().int().nonnegative().default(300),
  });

/** A validated caption-decoding section. */
export type CaptionDecodingConfig = z.infer<typeof CaptionDecodingSchema>;
