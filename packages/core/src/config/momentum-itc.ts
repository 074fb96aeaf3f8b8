import { z } from 'zod';

/**
 * The config keys of ITC with momentum encoders, feature queues and momentum distillation, shared by ALBEF (Li et
 * al. 2021, sections 3.2-3.3, 4.3) and BLIP (Li et al. 2022, section 3.2, which keeps ALBEF's recipe): a zod object
 * shape to spread into a model's `model:` schema. Every default is ALBEF's paper value except the queue length,
 * which differs between the two papers.
 * @param defaults.queueSize the model's default queue length M (ALBEF section 4.3: 65,536; BLIP's released
 *   pre-training config: 57,600)
 * @returns the shape: embedDim, queueSize, momentum, alpha, alphaRampSteps, temp, learnableTemp, tempClamp
 */
export function momentumItcShape(defaults: { queueSize: number }) {
  return {
    /** ITC projection width (256) */
    embedDim: z.number().int().positive().default(256),
    /** feature queue length M */
    queueSize: z.number().int().positive().default(defaults.queueSize),
    /** EMA coefficient of the momentum model (ALBEF section 4.3: 0.995) */
    momentum: z.number().min(0).max(1).default(0.995),
    /** distillation weight alpha (ALBEF section 4.3: 0.4) */
    alpha: z.number().min(0).max(1).default(0.4),
    /**
     * alpha rises linearly from 0 over this many micro-batches ("we linearly ramp up alpha in the 1st epoch", the
     * authors' code; set it to an epoch's length); 0 uses alpha from the start
     */
    alphaRampSteps: z.number().int().nonnegative().default(0),
    /** initial temperature tau (0.07), learnable */
    temp: z.number().positive().default(0.07),
    /**
     * whether tau is trained (the papers: yes). Adam moves a raw scalar by about lr per step whatever its gradient,
     * so at the learning rates of small models trained from scratch (~1e-3, vs the papers' 1e-4) tau races to its
     * clamp within a hundred steps; a fixed tau avoids that
     */
    learnableTemp: z.boolean().default(true),
    /** clamp of tau before each step (the authors' code: [0.001, 0.5]); null: no clamp (torchmultimodal) */
    tempClamp: z.tuple([z.number().positive(), z.number().positive()]).nullable().default([0.001, 0.5]),
  };
}
