import { z } from 'zod';

/**
 * Where `init:` weights come from, one per entry: `run` (a run folder: its latest checkpoint), `checkpoint` (one
 * checkpoint folder, `checkpoints/step-N`), `safetensors` (a file of tensors by name, e.g. reference weights) or
 * `config` (an experiment file: the run of exactly that config, trained first when there is none; see
 * docs/architecture.md "Weights from elsewhere"). Paths are relative to the config file's folder, as `data:` paths.
 */
export const INIT_SOURCE_KINDS = ['run', 'checkpoint', 'safetensors', 'config'] as const;
/** One of {@link INIT_SOURCE_KINDS}. */
export type InitSourceKind = (typeof INIT_SOURCE_KINDS)[number];

/**
 * One entry of `init:`: the source (exactly one of {@link INIT_SOURCE_KINDS}) and how its tensors land on the
 * target's parameters.
 * - `component`: the part of the source to take: a component of the source's model (`mmzoo info` lists them), a
 *   parameter-name prefix, or `model` (every tensor). Default: the entry's own key (`model` for the whole model).
 * - `map`: `{source prefix: target prefix}` renames (dotted prefixes, longest first; `''` is the top level); a
 *   source prefix mapped to null is left out. Without it, a prefix taken into a prefix is renamed from one to the
 *   other and every other name is kept as it is.
 * - `skip`: component paths of the target (components of the model or parameter-name prefixes) the source does not
 *   provide, left as the model was built (or loaded by another entry).
 */
export const InitSourceSchema = z
  .object({
    run: z.string().min(1).optional(),
    checkpoint: z.string().min(1).optional(),
    safetensors: z.string().min(1).optional(),
    config: z.string().min(1).optional(),
    component: z.string().min(1).optional(),
    map: z.record(z.string(), z.string().nullable()).optional(),
    skip: z.array(z.string().min(1)).min(1).optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    const given = INIT_SOURCE_KINDS.filter((k) => s[k] !== undefined);
    if (given.length === 1) return;
    const message = given.length === 0
      ? `name the weights' source: one of ${INIT_SOURCE_KINDS.join(', ')}`
      : `give one source, not ${given.join(' and ')}`;
    ctx.addIssue({ code: 'custom', message });
  });

/** A validated `init:` entry. */
export type InitSource = z.infer<typeof InitSourceSchema>;

/**
 * The experiment's `init:` section: target -> source. A target is `model` (every parameter and buffer), a component
 * of the model (`spec.components`: its trainable parameters) or a parameter-name prefix (every parameter under it).
 * Applied after the model is built and before `prepare` on a fresh run; `--resume` takes the checkpoint instead.
 */
export const InitSchema = z.record(z.string().min(1), InitSourceSchema);

/**
 * The experiment's `frozen:` section: component paths (components of the model or parameter-name prefixes) whose
 * trainable parameters get no gradient and no optimizer state for the whole run.
 */
export const FrozenSchema = z.array(z.string().min(1));

/** The source kind and path of a validated entry. */
export function initSourceOf(s: InitSource): { kind: InitSourceKind; path: string } {
  const kind = INIT_SOURCE_KINDS.find((k) => s[k] !== undefined)!;
  return { kind, path: s[kind]! };
}
