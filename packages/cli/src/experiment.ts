import { readFileSync, existsSync } from 'fs';
import * as path from 'path';
import { parse as parseScalar } from 'yaml';
import { z } from 'zod';
import { ConfigError, Experiment, ExperimentSchema, ReferenceSchema, parseYaml, validate } from '@mmzoo/core';
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
  // an error in an overridden value names the --set flag, not a line of the file
  source.origin = (p) => {
    const dotted = p.map(String).join('.');
    const hit = sets.find((s) => {
      const key = s.slice(0, s.indexOf('='));
      return dotted === key || dotted.startsWith(`${key}.`) || key.startsWith(`${dotted}.`);
    });
    return hit ? `--set ${hit}` : undefined;
  };
  const head = validate(z.object({ model: z.object({ name: z.string() }).passthrough() }).passthrough(), value, source);
  let entry: ModelEntry;
  try {
    entry = getModel(head.model.name);
  } catch (e) {
    const loc = source.locate(['model', 'name']);
    throw new ConfigError(`${file}${loc ? `:${loc}` : ''}: ${(e as Error).message}`);
  }
  const model = validate(entry.schema, value.model, source, ['model']);
  const rest = opts.modelOnly
    ? ({ model, reference: value.reference === undefined ? undefined : validate(ReferenceSchema, value.reference, source, ['reference']) } as Experiment<any>)
    : { ...validate(ExperimentSchema, value, source), model };
  const config = rest as Experiment<any>;
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
