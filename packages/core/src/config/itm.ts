import { z } from 'zod';

/**
 * The config keys of image-text matching with hard negatives drawn from the ITC similarities (ALBEF, Li et al.
 * 2021, section 3.2; BLIP, Li et al. 2022, section 3.2; VLMo, Bao et al. 2022, section 3.2) and of its use at
 * retrieval (ITC top-k re-ranked by ITM, ALBEF section 4.1): a zod object shape to spread into a `model:` schema,
 * with each model's defaults.
 * @param defaults.hardNegativeEps constant added to the hard-negative softmax weights (ALBEF and VLMo papers: 0;
 *   BLIP's code: 1e-4; see core `hardNegativeWeights`)
 * @param defaults.itmRerankK ITC candidates re-ranked by ITM at retrieval (ALBEF and VLMo in mmzoo: 16; BLIP's
 *   k_test: 256)
 * @returns the shape: hardNegativeEps, itmRerankK
 */
export function itmShape(defaults: { hardNegativeEps: number; itmRerankK: number }) {
  return {
    /** constant added to the hard-negative softmax weights (see core hardNegativeWeights) */
    hardNegativeEps: z.number().nonnegative().default(defaults.hardNegativeEps),
    /** ITC candidates re-ranked by ITM at retrieval (the `itm` evaluation task's k) */
    itmRerankK: z.number().int().positive().default(defaults.itmRerankK),
  };
}
