import { readFileSync, existsSync } from 'fs';
import * as path from 'path';
import { parse as parseScalar } from 'yaml';
import { z } from 'zod';
import { ConfigError, Experiment, ExperimentSchema, ReferenceSchema, StagesSchema, checkStageObjectives, fillStageSteps, formatPath, parseYaml, validate } from '@mmzoo/core';
import { getModel, ModelEntry } from './registry';

/** A loaded, validated experiment file. */
export interface LoadedExperiment {
  file: string;
  /** experiment name: the file name without extension, prefixed by its folder (e.g. `clip-fmnist-tiny`) */
  name: string;
  entry: ModelEntry;
  config: Experiment<any>;
}

/**
 * Applies `--set key=value` overrides (dotted paths; values parsed as YAML scalars, e.g. `train.lr=3e-4`).
 * @throws ConfigError for a malformed override
 */
export function applyOverrides(value: Record<string, unknown>, sets: string[]): void {
  for (const s of sets) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new ConfigError(`--set ${s}: expected key=value`);
    const keys = s.slice(0, eq).split('.');
    let node: Record<string, unknown> = value;
    for (const k of keys.slice(0, -1)) {
      if (node[k] === undefined) node[k] = {};
      if (typeof node[k] !== 'object' || node[k] === null) throw new ConfigError(`--set ${s}: '${k}' is not a section`);
      node = node[k] as Record<string, unknown>;
    }
    node[keys[keys.length - 1]] = parseScalar(s.slice(eq + 1));
  }
}

/**
 * Reads and validates an experiment YAML: the `model:` section against the registry's schema for `model.name`,
 * the rest against the experiment schema. `modelOnly` validates just `model:` (paper-size presets for `info`).
 * @throws ConfigError with `file:line:col: path: message` lines
 */
export function loadExperiment(file: string, sets: string[] = [], opts: { modelOnly?: boolean } = {}): LoadedExperiment {
  if (!existsSync(file)) throw new ConfigError(`${file}: config file not found`);
  const source = parseYaml(readFileSync(file, 'utf8'), file);
  const value = source.value as Record<string, unknown>;
  applyOverrides(value, sets);
  source.origin = overrideOrigin(sets);
  const head = validate(z.object({ model: z.object({ name: z.string() }).passthrough() }).passthrough(), value, source);
  let entry: ModelEntry;
  try {
    entry = getModel(head.model.name);
  } catch (e) {
    const loc = source.locate(['model', 'name']);
    throw new ConfigError(`${file}${loc ? `:${loc}` : ''}: ${(e as Error).message}`);
  }
  const model = validate(entry.schema, value.model, source, ['model']);
  fillStageSteps(value);
  const rest = opts.modelOnly
    ? ({
      model,
      reference: value.reference === undefined ? undefined : validate(ReferenceSchema, value.reference, source, ['reference']),
      stages: value.stages === undefined ? undefined : validate(StagesSchema, value.stages, source, ['stages']),
    } as Experiment<any>)
    : { ...validate(ExperimentSchema, value, source), model };
  const config = rest as Experiment<any>;
  if (config.stages) {
    // the stages may only name objectives the model offers, on data those objectives accept
    const where = (p: (string | number)[]) => {
      const full = ['stages', ...p];
      const origin = source.origin?.(full);
      const loc = source.locate(full);
      return `${origin ?? `${file}${loc ? `:${loc}` : ''}`}: ${formatPath(full)}: `;
    };
    if (!entry.stageObjectives) throw new ConfigError(`${where([])}model '${head.model.name}' does not support stagewise training`);
    const problem = checkStageObjectives(config.stages, entry.stageObjectives(model));
    if (problem) throw new ConfigError(`${where(problem.path)}${problem.message}`);
  }
  if (config.data) {
    // data paths in a config are relative to the config file's folder
    const dir = path.dirname(path.resolve(file));
    for (const k of ['root', 'train', 'test'] as const) if (config.data[k]) config.data[k] = path.resolve(dir, config.data[k]!);
  }
  return { file, name: experimentName(file), entry, config };
}

/** `configs/clip/fmnist-tiny.yaml` -> `clip-fmnist-tiny`. */
export function experimentName(file: string): string {
  const base = path.basename(file).replace(/\.ya?ml$/, '');
  const dir = path.basename(path.dirname(path.resolve(file)));
  return dir && dir !== 'configs' && dir !== '.' ? `${dir}-${base}` : base;
}

/**
 * Where a config value came from when a `--set key=value` override set it (or a parent or child of it): an error
 * in an overridden value then names the flag, e.g. `--set train.lr=abc`, instead of a line of the file.
 * @param sets the `key=value` overrides as given
 * @returns a function from a config path (zod issue path) to `--set ...`, or undefined for values from the file
 */
export function overrideOrigin(sets: readonly string[]): (path: readonly PropertyKey[]) => string | undefined {
  return (p) => {
    const dotted = p.map(String).join('.');
    const hit = sets.find((s) => {
      const key = s.slice(0, s.indexOf('='));
      return dotted === key || dotted.startsWith(`${key}.`) || key.startsWith(`${dotted}.`);
    });
    return hit ? `--set ${hit}` : undefined;
  };
}
