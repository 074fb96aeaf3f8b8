import { readFileSync, existsSync, statSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parse as parseScalar } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '@mmzoo/core';
import {
  DataConfig, Experiment, ExperimentSchema, FrozenSchema, TrainingSpec, ReferenceSchema, StagesSchema, checkComponentPaths, checkRunContract,
  checkStageObjectives, configPlace, fillStageSteps, formatPath, harnessInputs, initSourceOf, parseYaml, recordConfigPlaces, validate,
} from '@mmzoo/train';
import { getModel } from './specs';

/** A loaded, validated experiment file. */
export interface LoadedExperiment {
  file: string;
  /** experiment name: the file name without extension, prefixed by its folder (e.g. `clip-fmnist-tiny`) */
  name: string;
  /** the model's spec (`model.name` in the registry) */
  spec: TrainingSpec;
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
 * Reads and validates an experiment YAML: the `model:` section against the schema of the spec of `model.name`,
 * the rest against the experiment schema. `modelOnly` validates just `model:` (paper-size presets for `info`).
 * Also checked here, before anything is built: the model takes image and text inputs (its spec's `inputs`), the
 * dataset yields every batch key the model needs and each tokenized key has a tokenizer (the run contract), every
 * `patchSize` divides its `imageSize`, unless `checkMemory` is false (`info` of a preset, counted by a shape-only
 * build that allocates nothing) the model's weights fit in this machine's memory ({@link checkModelMemory}), a
 * `stages:` list names only objectives the spec offers for stagewise training, the `init:` sources exist (a `config:`
 * source is loaded too; {@link checkInitSources}) and the `init:` targets and `frozen:` entries name parts of the model
 * (`checkComponentPaths`, a shape-only build). Paths in `data:` and `init:` are relative to the config file's folder.
 * @param opts.chain the config files whose `init:` led here (absolute paths), to refuse a cycle
 * @throws ConfigError with `file:line:col: path: message` lines (`--set key=value: path: message` for an
 *   overridden value); `<file>: config file not found` / `is a folder, expected a YAML file`; `<file>: init cycle: ...`
 */
export function loadExperiment(file: string, sets: string[] = [], opts: { modelOnly?: boolean; checkMemory?: boolean; chain?: string[] } = {}): LoadedExperiment {
  checkConfigFile(file);
  const chain = opts.chain ?? [];
  if (chain.includes(path.resolve(file))) throw new ConfigError(`${file}: init cycle: ${[...chain, path.resolve(file)].map((f) => path.relative('.', f)).join(' -> ')}`);
  const source = parseYaml(readFileSync(file, 'utf8'), file);
  const value = source.value as Record<string, unknown>;
  applyOverrides(value, sets);
  source.origin = overrideOrigin(sets);
  const head = validate(z.object({ model: z.object({ name: z.string() }).passthrough() }).passthrough(), value, source);
  let spec: TrainingSpec;
  try {
    spec = getModel(head.model.name);
  } catch (e) {
    const loc = source.locate(['model', 'name']);
    throw new ConfigError(`${file}${loc ? `:${loc}` : ''}: ${(e as Error).message}`);
  }
  const model = validate(spec.schema, value.model, source, ['model']);
  const placeOf = (p: (string | number)[]) => {
    const origin = source.origin?.(p);
    const loc = source.locate(p);
    return `${origin ?? `${file}${loc ? `:${loc}` : ''}`}: ${formatPath(p)}: `;
  };
  // the harness feeds image-text pairs or text: a model must take text
  try {
    harnessInputs(spec, model);
  } catch (e) {
    throw new ConfigError(`${placeOf(['model', 'name'])}${(e as Error).message}`);
  }
  checkPatchGrid(model, placeOf);
  if (opts.checkMemory ?? true) checkModelMemory(model, placeOf);
  fillStageSteps(value);
  const rest = opts.modelOnly
    ? ({
      model,
      reference: value.reference === undefined ? undefined : validate(ReferenceSchema, value.reference, source, ['reference']),
      stages: value.stages === undefined ? undefined : validate(StagesSchema, value.stages, source, ['stages']),
      frozen: value.frozen === undefined ? undefined : validate(FrozenSchema, value.frozen, source, ['frozen']),
    } as Experiment<any>)
    : { ...validate(ExperimentSchema, value, source), model };
  const config = rest as Experiment<any>;
  if (config.stages) {
    // the stages may only name objectives the model offers, on data those objectives accept
    const where = (p: (string | number)[]) => placeOf(['stages', ...p]);
    if (!spec.stagewise) throw new ConfigError(`${where([])}model '${head.model.name}' does not support stagewise training`);
    const problem = checkStageObjectives(config.stages, spec.objectives(model));
    if (problem) throw new ConfigError(`${where(problem.path)}${problem.message}`);
  }
  if (!opts.modelOnly) {
    // the run contract: the batch keys the model needs come from its dataset, each tokenized key has a tokenizer
    const problem = checkRunContract(spec.name, spec.inputs(model), config);
    if (problem) throw new ConfigError(`${placeOf(problem.path)}${problem.message}`);
  }
  if (config.data) resolveDataPaths(config.data, file);
  resolveTokenizerPaths(config, file);
  resolveInitPaths(config, file);
  // errors found after loading (e.g. a batch size larger than the training set, in openSession) name the place
  recordConfigPlaces(config, placeOf);
  checkInitSources(config, [...chain, path.resolve(file)]);
  checkComponentPaths(spec, config);
  return { file, name: experimentName(file), spec, config };
}

/**
 * Resolves the paths of a `data:` section (`root`, `train`, `test`) against the folder of the config file holding it:
 * data paths in a config are relative to the config file's folder. Changes `data` in place.
 * @returns `data`
 */
export function resolveDataPaths(data: DataConfig, configFile: string): DataConfig {
  const dir = path.dirname(path.resolve(configFile));
  for (const k of ['root', 'train', 'test'] as const) if (data[k]) data[k] = path.resolve(dir, data[k]!);
  return data;
}

/**
 * Resolves the files of `kind: hf` tokenizers (`tokenizer:` / `tokenizers:`) against the folder of the config file:
 * like data paths, they are relative to it. Changes `config` in place.
 */
export function resolveTokenizerPaths(config: Pick<Experiment<unknown>, 'tokenizer' | 'tokenizers'>, configFile: string): void {
  const dir = path.dirname(path.resolve(configFile));
  for (const t of [config.tokenizer, ...Object.values(config.tokenizers ?? {})]) {
    if (t?.kind !== 'hf') continue;
    t.file = path.resolve(dir, t.file);
    if (t.config) t.config = path.resolve(dir, t.config);
  }
}

/**
 * Resolves the sources of `init:` (`run`, `checkpoint`, `safetensors`, `config`) against the folder of the config file:
 * like data paths, they are relative to it. Changes `config` in place.
 */
export function resolveInitPaths(config: Pick<Experiment<unknown>, 'init'>, configFile: string): void {
  const dir = path.dirname(path.resolve(configFile));
  for (const source of Object.values(config.init ?? {})) {
    const { kind, path: p } = initSourceOf(source);
    source[kind] = path.resolve(dir, p);
  }
}

/**
 * Each `init:` source must exist: a `run` or `checkpoint` folder (a checkpoint with its meta.json), a `safetensors`
 * file, or a `config` file, which is loaded (validated, its own `init:` checked in turn; `chain` refuses a cycle).
 * @throws ConfigError `file:line:col: init.vision.run: /abs/runs/clip: no such folder` (one line; a `config:` source's
 *   own error follows its key)
 */
export function checkInitSources(config: Experiment<any>, chain: string[]): void {
  for (const [target, source] of Object.entries(config.init ?? {})) {
    const { kind, path: p } = initSourceOf(source);
    const at = configPlace(config, ['init', target, kind]);
    const isDir = existsSync(p) && statSync(p).isDirectory();
    if ((kind === 'run' || kind === 'checkpoint') && !isDir) throw new ConfigError(`${at}${p}: no such folder`);
    if (kind === 'checkpoint' && !existsSync(path.join(p, 'meta.json'))) throw new ConfigError(`${at}${p}: not a checkpoint folder (no meta.json)`);
    if (kind === 'safetensors' && (!existsSync(p) || isDir)) throw new ConfigError(`${at}${p}: no such file`);
    if (kind === 'config') {
      try {
        loadExperiment(p, [], { chain });
      } catch (e) {
        throw new ConfigError(`${at}${(e as Error).message}`);
      }
    }
  }
}

/**
 * Parses `--max-seconds S` (a wall-time budget for training).
 * @param value the flag's text, or undefined when not given
 * @returns seconds, a positive finite number, or undefined
 * @throws ConfigError `--max-seconds abc: expected a positive number of seconds` for text that is not a positive
 *   finite number (0, -1, abc, Infinity, NaN, an empty string)
 */
export function parseMaxSeconds(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = value.trim() === '' ? NaN : Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new ConfigError(`--max-seconds ${value}: expected a positive number of seconds`);
  return n;
}

/**
 * Legal but probably unintended settings of a validated experiment, one line each (the caller logs them as
 * warnings): a warmup longer than the training (`train.warmupSteps` > `train.steps`, or a stage's warmup,
 * its own or inherited from `train.warmupSteps`, longer than its `steps`), where the learning rate never
 * reaches its peak.
 */
export function configWarnings(config: Experiment<any>): string[] {
  const out: string[] = [];
  const t = config.train;
  if (!config.stages && t.warmupSteps > t.steps) {
    out.push(`train.warmupSteps (${t.warmupSteps}) is more than train.steps (${t.steps}): the learning rate never reaches train.lr (${t.lr})`);
  }
  (config.stages ?? []).forEach((st, i) => {
    const warmup = st.warmupSteps ?? t.warmupSteps;
    if (warmup <= st.steps) return;
    const from = st.warmupSteps === undefined ? `train.warmupSteps (${warmup}), which the stage inherits,` : `stages[${i}].warmupSteps (${warmup})`;
    out.push(`${from} is more than stages[${i}].steps (${st.steps}) of stage '${st.name}': its learning rate never reaches its peak`);
  });
  return out;
}

/** The [height, width] of an `imageSize` value: a number (square) or a pair. */
function imageHW(size: unknown): [number, number] | undefined {
  if (typeof size === 'number') return [size, size];
  if (Array.isArray(size) && size.length === 2 && size.every((v) => typeof v === 'number')) return size as [number, number];
  return undefined;
}

/**
 * Every model section with `imageSize` and `patchSize` (e.g. `model.vision`) must cut the image into whole
 * patches (ViT, Dosovitskiy et al. 2021, section 3.1); found here, before the model is built.
 * @throws ConfigError `file:line:col: model.vision.patchSize: 5 does not divide imageSize 28 (...)`
 */
function checkPatchGrid(model: unknown, placeOf: (p: (string | number)[]) => string, at: (string | number)[] = ['model']): void {
  if (!model || typeof model !== 'object' || Array.isArray(model)) return;
  const node = model as Record<string, unknown>;
  const hw = imageHW(node.imageSize);
  const p = node.patchSize;
  if (hw && typeof p === 'number' && p > 0 && (hw[0] % p !== 0 || hw[1] % p !== 0)) {
    const size = hw[0] === hw[1] ? `${hw[0]}` : `${hw[0]}x${hw[1]}`;
    const lower = [...Array(p).keys()].reverse().find((d) => d > 0 && hw[0] % d === 0 && hw[1] % d === 0);
    throw new ConfigError(`${placeOf([...at, 'patchSize'])}${p} does not divide imageSize ${size}; use a divisor such as ${lower}, or change imageSize`);
  }
  for (const [k, v] of Object.entries(node)) checkPatchGrid(v, placeOf, [...at, k]);
}

/** Bytes in GB (TB from 1,000 GB), e.g. `196 GB`, `1.5 GB`, `48 TB`. */
function gigabytes(bytes: number): string {
  if (bytes >= 1e12) return `${(bytes / 1e12).toLocaleString('en-US', { maximumFractionDigits: 1 })} TB`;
  return `${(bytes / 1e9).toFixed(bytes < 1e10 ? 1 : 0)} GB`;
}

/**
 * Refuses, before anything is built, a model whose float32 weights alone would not fit in this machine's memory
 * (`os.totalmem()`): building it would fail with `Invalid typed array length` or be killed for memory. The size is
 * estimated from each model section with a `width`: `layers` transformer blocks of (4 + 2 mlpRatio) width^2
 * weights, plus vocabSize, contextLength and image-patch positions times width; the key of the largest term is
 * named.
 * @throws ConfigError `file:line:col: model.text.width: 70000 needs about 235 GB of float32 weights (...); reduce it`
 */
export function checkModelMemory(model: unknown, placeOf: (p: (string | number)[]) => string, totalBytes = os.totalmem()): void {
  const terms: { path: (string | number)[]; value: number; params: number }[] = [];
  const walk = (node: unknown, at: (string | number)[], inherited?: number) => {
    if (!node || typeof node !== 'object' || Array.isArray(node)) return;
    const n = node as Record<string, unknown>;
    const num = (k: string) => (typeof n[k] === 'number' && Number.isFinite(n[k]) ? (n[k] as number) : undefined);
    const width = num('width') ?? inherited;
    if (width !== undefined) {
      const layers = num('layers');
      const mlp = num('mlpRatio') ?? 4;
      if (layers !== undefined && num('width') !== undefined) terms.push({ path: [...at, 'width'], value: width, params: layers * (4 + 2 * mlp) * width * width });
      for (const k of ['vocabSize', 'contextLength']) {
        const v = num(k);
        if (v !== undefined) terms.push({ path: [...at, k], value: v, params: v * width });
      }
      const hw = imageHW(n.imageSize);
      const p = num('patchSize');
      if (hw && p) terms.push({ path: [...at, 'imageSize'], value: Math.max(...hw), params: Math.ceil(hw[0] / p) * Math.ceil(hw[1] / p) * width });
    }
    for (const [k, v] of Object.entries(n)) walk(v, [...at, k], width);
  };
  walk(model, ['model']);
  const params = terms.reduce((a, t) => a + t.params, 0);
  if (params * 4 <= totalBytes || terms.length === 0) return;
  const top = terms.reduce((a, t) => (t.params > a.params ? t : a));
  throw new ConfigError(
    `${placeOf(top.path)}${top.value} needs about ${gigabytes(params * 4)} of float32 weights (${(params / 1e9).toLocaleString('en-US', { maximumFractionDigits: 1 })} billion parameters), `
    + `more than this machine's ${gigabytes(totalBytes)} of memory; reduce it`,
  );
}

/**
 * A config path must name a file.
 * @throws ConfigError `<file>: config file not found` / `<file>: is a folder, expected a YAML file`
 */
export function checkConfigFile(file: string): void {
  if (!existsSync(file)) throw new ConfigError(`${file}: config file not found`);
  if (statSync(file).isDirectory()) throw new ConfigError(`${file}: is a folder, expected a YAML file`);
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
