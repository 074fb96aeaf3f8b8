import { z } from 'zod';

/** The value of a dotted-key override (`--set key=value`). */
const OverrideValue = z.union([z.string(), z.number(), z.boolean()]);

/** One model of a comparison written out: its experiment file, its row name, its own overrides. */
export const ModelEntrySchema = z
  .object({
    config: z.string(),
    /** the row's name (default: the experiment's name) */
    name: z.string().min(1).optional(),
    /** overrides of this model only (dotted keys) */
    overrides: z.record(z.string(), OverrideValue).default({}),
  })
  .strict();

/** A validated model entry. */
export type ModelEntry = z.infer<typeof ModelEntrySchema>;

/**
 * A comparison file (`mmzoo compare COMPARE.yaml`): the model configs to train and evaluate side by side under
 * one budget, on the same data split and seed.
 */
export const CompareSchema = z
  .object({
    /**
     * the models: experiment files, relative to the comparison file's folder or the working directory, or
     * `{config, name?, overrides?}` for a variant of one (its own row `name` and its own dotted-key overrides, applied
     * after the shared ones; e.g. a blank-image baseline: `data.instructions.blankImages: true`)
     */
    models: z.array(z.union([z.string(), ModelEntrySchema])).min(1),
    /** the shared training budget: samples seen (sets train.steps from each batch size) or wall time */
    budget: z
      .object({
        samples: z.number().int().positive().optional(),
        wallSeconds: z.number().positive().optional(),
      })
      .strict()
      .refine((b) => (b.samples === undefined) !== (b.wallSeconds === undefined), { message: 'give exactly one of samples or wallSeconds' }),
    /** seed applied to every model's train.seed (data order, init) */
    seed: z.number().int().default(0),
    /** overrides applied to every model (dotted keys, e.g. `data.trainLimit: 4000`, `eval.retrievalGallery: 500`) */
    overrides: z.record(z.string(), OverrideValue).default({}),
    /** per-model timeout of the child process in seconds (a hung model fails alone) */
    timeoutSeconds: z.number().positive().default(3600),
  })
  .strict();

/** A validated comparison. */
export type CompareConfig = z.infer<typeof CompareSchema>;
