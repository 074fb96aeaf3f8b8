import { z } from 'zod';
import { ConfigError, STAGE_DATA, StageData } from '@mmzoo/core';
import { formatPath } from './parse';

/**
 * Checks a parameter-name pattern: a glob (`*` any run of characters, dots included; `?` one character; matched
 * against the whole name, e.g. `transformer.blocks.*.attn.*`) or a regular expression between slashes
 * (`/^transformer\.blocks\.[0-9]+\.ffn\.vision\./`, searched anywhere in the name unless anchored).
 * @returns an error message, or undefined when the pattern is valid
 */
export function patternError(pattern: string): string | undefined {
  if (pattern.trim() === '') return 'empty pattern';
  if (isRegexPattern(pattern)) {
    try {
      new RegExp(pattern.slice(1, -1));
    } catch (e) {
      return `invalid regular expression ${pattern}: ${(e as Error).message.replace(/^Invalid regular expression: /, '')}`;
    }
  }
  return undefined;
}

function isRegexPattern(p: string): boolean {
  return p.length >= 2 && p.startsWith('/') && p.endsWith('/');
}

/**
 * Compiles a parameter-name pattern (see {@link patternError}) into a RegExp.
 * @throws Error when the pattern is invalid
 */
export function compilePattern(pattern: string): RegExp {
  const err = patternError(pattern);
  if (err) throw new Error(err);
  if (isRegexPattern(pattern)) return new RegExp(pattern.slice(1, -1));
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

const PatternSchema = z.string().superRefine((p, ctx) => {
  const err = patternError(p);
  if (err) ctx.addIssue({ code: 'custom', message: err });
});

/**
 * One stage of stagewise training (VLMo section 3.3): which of the model's objectives run, on which data, for how
 * many optimizer steps, and which parameters the stage's optimizer updates. Parameters outside the stage's set
 * (not matched by `trainable`, or matched by `frozen`) receive no update at all: they are left out of the
 * gradient list and the optimizer, so they stay bit-for-bit unchanged during the stage.
 */
export const StageSchema = z
  .object({
    /** unique name, used in logs, checkpoints and results.json (e.g. `image-mim`) */
    name: z.string().min(1),
    /** the model's objectives this stage runs (e.g. VLMo: `[mim]`, `[mlm]`, `[itc, itm, mlm]`); weighted by `model.objectives` */
    objectives: z.array(z.string().min(1)).min(1),
    /** what the batches feed the objectives: images, texts or pairs */
    data: z.enum(STAGE_DATA),
    /** optimizer steps of this stage */
    steps: z.number().int().positive(),
    /** peak learning rate of this stage's warmup + cosine schedule (default train.lr) */
    lr: z.number().positive().optional(),
    /** warmup steps of this stage's schedule (default train.warmupSteps) */
    warmupSteps: z.number().int().nonnegative().optional(),
    /** samples per micro-batch in this stage (default train.batchSize) */
    batchSize: z.number().int().min(2).optional(),
    /** patterns of the parameters this stage may update (default: all trainable parameters) */
    trainable: z.array(PatternSchema).min(1).optional(),
    /** patterns of parameters held fixed in this stage (applied after `trainable`) */
    frozen: z.array(PatternSchema).default([]),
  })
  .strict();

/** The `stages:` list of an experiment: run in order; names must be unique. */
export const StagesSchema = z
  .array(StageSchema)
  .min(1)
  .superRefine((stages, ctx) => {
    const seen = new Map<string, number>();
    stages.forEach((s, i) => {
      if (seen.has(s.name)) ctx.addIssue({ code: 'custom', message: `duplicate stage name '${s.name}' (also stages[${seen.get(s.name)}])`, path: [i, 'name'] });
      else seen.set(s.name, i);
    });
  });

/** A validated stage. */
export type StageConfig = z.infer<typeof StageSchema>;

/** Sum of the stages' steps: the run's total number of optimizer steps. */
export function totalStageSteps(stages: readonly { steps: number }[]): number {
  return stages.reduce((a, s) => a + s.steps, 0);
}

/**
 * The trainable parameter names a stage updates: those matched by any `trainable` pattern (all when it has none)
 * and by no `frozen` pattern, in the order of `names`.
 * @param names the model's trainable parameter names
 * @param where the stage's config path for messages, e.g. `stages[1]`
 * @throws ConfigError naming the pattern's path (`stages[1].frozen[0]: ...`) when a pattern matches no
 *   parameter (a typo would otherwise silently train or freeze the wrong thing), or when nothing is left to train
 */
export function stageParameterNames(names: readonly string[], stage: Pick<StageConfig, 'trainable' | 'frozen'>, where: PropertyKey[]): string[] {
  const match = (key: 'trainable' | 'frozen', list: string[]) => list.map((p, i) => {
    const re = compilePattern(p);
    const hits = names.filter((n) => re.test(n));
    if (hits.length === 0) throw new ConfigError(`${formatPath([...where, key, i])}: pattern '${p}' matches no trainable parameter of the model (e.g. ${names.slice(0, 3).join(', ')})`);
    return re;
  });
  const keep = stage.trainable ? match('trainable', stage.trainable) : undefined;
  const drop = match('frozen', stage.frozen ?? []);
  const out = names.filter((n) => (!keep || keep.some((re) => re.test(n))) && !drop.some((re) => re.test(n)));
  if (out.length === 0) throw new ConfigError(`${formatPath(where)}: no trainable parameter is left after trainable/frozen`);
  return out;
}

/**
 * Checks stages against the objectives a model offers, each with the data kinds it accepts.
 * @param offered objective name -> accepted data kinds (e.g. VLMo `{ mim: ['images', 'pairs'], itc: ['pairs'] }`)
 * @returns the first problem as a path and message (e.g. `[2, 'objectives', 0]`, "unknown objective ..."), or undefined
 */
export function checkStageObjectives(stages: readonly Pick<StageConfig, 'objectives' | 'data'>[], offered: Record<string, readonly StageData[]>): { path: (string | number)[]; message: string } | undefined {
  for (let i = 0; i < stages.length; i++) {
    const s = stages[i];
    for (let j = 0; j < s.objectives.length; j++) {
      const o = s.objectives[j];
      const kinds = offered[o];
      if (!kinds) return { path: [i, 'objectives', j], message: `the model has no objective '${o}' (available: ${Object.keys(offered).join(', ') || 'none'}; an objective whose model.objectives weight is 0 is not built)` };
      if (!kinds.includes(s.data)) return { path: [i, 'data'], message: `objective '${o}' needs data ${kinds.join(' or ')}, not '${s.data}'` };
      if (s.objectives.indexOf(o) !== j) return { path: [i, 'objectives', j], message: `objective '${o}' is listed twice` };
    }
  }
  return undefined;
}

/**
 * Fills `train.steps` of a raw (unvalidated) experiment value with the sum of its stages' steps when it has a
 * `stages:` list of plain steps and no `train.steps`, so that a stagewise config need not repeat the total. Leaves
 * anything malformed for the schema to report.
 */
export function fillStageSteps(value: Record<string, unknown>): void {
  const stages = value.stages;
  const train = value.train;
  if (!Array.isArray(stages) || !train || typeof train !== 'object' || (train as Record<string, unknown>).steps !== undefined) return;
  const steps = stages.map((s) => (s && typeof s === 'object' ? (s as Record<string, unknown>).steps : undefined));
  if (steps.every((n) => typeof n === 'number' && Number.isInteger(n) && n > 0)) (train as Record<string, unknown>).steps = (steps as number[]).reduce((a, b) => a + b, 0);
}
