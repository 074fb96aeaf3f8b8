import * as fs from 'fs';
import * as path from 'path';
import { ConfigError } from '@mmzoo/core';
import {
  InitEntry, InitWeights, RunLock, SavedTokenizers, buildOnce, configHash, configPlace, initSourceOf, isFinishedRunOf, modelParameters,
  prerequisiteRunDirs, readCheckpointWeights, readRunWeights, readSafetensorsWeights,
} from '@mmzoo/train';
import { LoadedExperiment, loadExperiment } from './experiment';
import { getModel } from './specs';

/**
 * Trains the run of config `file` into `dir` (resuming what is there) with the folder's lock already held: what
 * {@link prerequisiteRun} calls when a run is missing. `mmzoo train` passes its own (the same code path as the command).
 */
export type PrerequisiteTrainer = (file: string, dir: string, ctx: { lock: RunLock; chain: string[] }) => Promise<void>;

/** Options of {@link resolveInit} and {@link prerequisiteRun}. */
export interface InitOptions {
  /** trains a missing prerequisite run */
  train: PrerequisiteTrainer;
  /** the config files whose `init:` led to this one (absolute paths), to refuse a cycle */
  chain?: string[];
  /** one line per event worth telling (a run reused, built, waited for) */
  log?: (msg: string) => void;
}

/**
 * The run folder of config `file` for an `init: {x: {config: file}}` source of a run whose folder is in `parent`:
 * `<parent>/<name>/` when it holds a finished run of exactly this config (same config hash, last step reached), else
 * `<parent>/.init/<name>-<hash12>/`, trained there first when it is not finished (`opts.train`, with the folder's
 * lock held: a second run needing it at the same time waits for the lock, then finds it; `buildOnce`).
 * @returns the run folder
 * @throws ConfigError for an invalid config or an init cycle; Error when training it fails or stops early
 */
export async function prerequisiteRun(file: string, parent: string, opts: InitOptions): Promise<string> {
  const chain = opts.chain ?? [];
  const { hash, reuse, own, finished } = locatePrerequisite(file, parent, chain);
  if (finished === reuse) {
    opts.log?.(`init: ${file} has a finished run in ${reuse}`);
    return reuse;
  }
  if (finished !== own && fs.existsSync(path.join(reuse, 'config.yaml'))) {
    opts.log?.(`init: ${reuse} is not a finished run of ${file} (stopped before train.steps, or another config); not used`);
  }
  await buildOnce(own, {
    isDone: () => isFinishedRunOf(own, hash),
    build: async (lock) => {
      opts.log?.(`init: training ${file} into ${own} first (config hash ${hash.slice(0, 12)})`);
      await opts.train(file, own, { lock, chain: [...chain, path.resolve(file)] });
    },
    command: `mmzoo train ${file} (a prerequisite run)`,
    log: opts.log,
  });
  return own;
}

/**
 * The folders of config `file`'s run beside runs in `parent` (`prerequisiteRunDirs`: `reuse`, then `own`), its config
 * hash, and the first of them holding a finished run of exactly that config (`finished`; undefined when neither does).
 * @throws ConfigError for an invalid config or an init cycle (`chain`: the configs that led here)
 */
function locatePrerequisite(file: string, parent: string, chain: string[]): { hash: string; reuse: string; own: string; finished?: string } {
  const loaded = loadExperiment(file, [], { chain });
  const hash = configHash(loaded.config);
  const dirs = prerequisiteRunDirs(parent, loaded.name, hash);
  return { hash, ...dirs, finished: [dirs.reuse, dirs.own].find((d) => isFinishedRunOf(d, hash)) };
}

/** The source model's parameters and components, from the `model:` config its checkpoint records. */
function sourceModelOf(weights: InitWeights): InitEntry['sourceModel'] {
  if (!weights.modelConfig) return undefined;
  const spec = getModel(weights.modelConfig.name, `${weights.file}: model.name`);
  const cfg = spec.schema.parse(weights.modelConfig);
  return { params: modelParameters(spec, cfg), components: spec.components(cfg) };
}

/**
 * Reads the tensors of every `init:` source of a loaded experiment whose run folder will be `runDir`: a run's latest
 * checkpoint, a checkpoint, a safetensors file, or a config's run ({@link prerequisiteRun}: trained first when
 * missing). A source named by several entries is read once.
 * @returns one entry per `init:` key, for `applyInit`
 * @throws Error prefixed by the entry's place (`file:line:col: init.vision.run: `) when a source cannot be read
 */
export async function resolveInit(loaded: LoadedExperiment, runDir: string, opts: InitOptions): Promise<InitEntry[]> {
  const cfg = loaded.config;
  const read = new Map<string, InitWeights>();
  const entries: InitEntry[] = [];
  for (const [target, source] of Object.entries(cfg.init ?? {})) {
    const { kind, path: p } = initSourceOf(source);
    const key = `${kind}:${p}`;
    let weights = read.get(key);
    if (!weights) {
      try {
        if (kind === 'safetensors') weights = await readSafetensorsWeights(p);
        else if (kind === 'checkpoint') weights = await readCheckpointWeights(p);
        else if (kind === 'run') weights = await readRunWeights(p);
        else weights = await readRunWeights(await prerequisiteRun(p, path.dirname(path.resolve(runDir)), opts));
      } catch (e) {
        const msg = `${configPlace(cfg, ['init', target, kind])}${(e as Error).message}`;
        throw e instanceof ConfigError ? new ConfigError(msg) : new Error(msg);
      }
      read.set(key, weights);
    }
    entries.push({ target, source, weights, sourceModel: sourceModelOf(weights) });
  }
  return entries;
}

/**
 * The tokenizers saved by the runs of a loaded experiment's `init:` entries that exist already, by entry, training
 * nothing: a `run` or `checkpoint` source as it is, a `config` source's finished run where `mmzoo train` would find it
 * beside a run in `parent` ({@link prerequisiteRun} without the training). What `mmzoo info` counts a config whose
 * tokenizer is of kind `init` with; an entry without such a run is left out.
 * @throws Error as reading a checkpoint throws (a corrupt one), or ConfigError for an invalid config source
 */
export async function existingInitTokenizers(loaded: LoadedExperiment, parent = 'runs'): Promise<Record<string, SavedTokenizers>> {
  const out: Record<string, SavedTokenizers> = {};
  for (const [target, source] of Object.entries(loaded.config.init ?? {})) {
    const { kind, path: p } = initSourceOf(source);
    let weights: InitWeights | undefined;
    if (kind === 'checkpoint') weights = await readCheckpointWeights(p);
    else if (kind === 'run') weights = await readRunWeights(p);
    else if (kind === 'config') {
      const { finished } = locatePrerequisite(p, parent, [path.resolve(loaded.file)]);
      if (finished) weights = await readRunWeights(finished);
    }
    if (weights?.tokenizers) out[target] = weights.tokenizers;
  }
  return out;
}
