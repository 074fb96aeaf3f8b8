/**
 * Loading a finished (or running) run in one call: its config, the model at a checkpoint, the tokenizers and the image
 * preprocessing (issue 15, "Load a run in one call").
 */
import { existsSync, readFileSync, statSync } from 'fs';
import * as path from 'path';
import { z } from 'zod';
import { ModelSpec, TextTokenizer, TrainingModel, manualSeed, tokenInputKeys } from '@mmzoo/core';
import { Experiment, ExperimentSchema } from '../config/experiment';
import { YamlSource, parseYaml, validate } from '../config/parse';
import { CheckpointMeta, CheckpointRef, findCheckpoint, loadCheckpoint, loadWeightsFile, readCheckpointMeta } from '../run/checkpoint';
import { ImagePreprocess, imagePreprocessor } from '../data/preprocess';
import { SpecRegistry, findSpec } from './registry';
import { TrainingSpec, buildModel, buildParts, harnessInputs, mainTokenizer } from './session';
import type { TokenizerKey } from '../tokenizers/config';
import { loadSavedTokenizer, savedTokenizersOfMeta, tokenizerFileName } from '../tokenizers/saved';

/** The checkpoint a {@link loadRun} loaded. */
export interface LoadedCheckpoint extends CheckpointRef {
  /** optimizer steps the weights were trained for (meta.json `step`); undefined for a bare weights file */
  step?: number;
  /** the checkpoint's meta.json; undefined for a bare weights file */
  meta?: CheckpointMeta;
  /**
   * what the caller should show: `latest` was unusable and the newest complete checkpoint was taken; a checkpoint
   * written before hashes was loaded unverified
   */
  warnings: string[];
}

/** A run ready to use: `model.encodeImage(await preprocess('x.png'))`, `model.encodeText(ids)`, `spec.caption?.(...)`. */
export interface LoadedRun<M extends TrainingModel = TrainingModel> {
  /** the run folder (absolute) */
  dir: string;
  /** the validated experiment the weights were trained with ({@link readRunConfig}) */
  config: Experiment<any>;
  /** the spec of `config.model.name` in the registry given */
  spec: ModelSpec<unknown, M>;
  /** the model built through the spec, with the checkpoint's weights; the caller disposes it */
  model: M;
  /** the run's tokenizers by tokenized input ({@link loadRunTokenizers}) */
  tokenizers: Partial<Record<TokenizerKey, TextTokenizer>>;
  /** the `text` tokenizer (`tokenizers.text`) */
  tokenizer: TextTokenizer;
  /**
   * image files or decoded pixels -> float32 [B, C, H, W] at the model's size ({@link imagePreprocessor}); for a model
   * that takes no images, it rejects with an Error naming the model
   */
  preprocess: ImagePreprocess;
  checkpoint: LoadedCheckpoint;
}

/** Options of {@link loadRun}. */
export interface LoadRunOptions<M extends TrainingModel> {
  /**
   * which checkpoint: a checkpoint folder or weights file path, a folder name under `<run>/checkpoints`, or a step
   * number ({@link findCheckpoint}); default: the one `checkpoints/latest` names
   */
  checkpoint?: string;
  /**
   * called once the config is read and before anything is built or loaded, e.g. to select the tfjs backend its
   * `runtime.backend` names or to refuse a model early; the model is built on the backend active afterwards
   */
  beforeBuild?: (config: Experiment<any>, spec: ModelSpec<unknown, M>) => void | Promise<void>;
}

/**
 * Loads a run folder written by `mmzoo train` (today's, or one from before run markers and checkpoint hashes): the
 * config ({@link readRunConfig}), the model built through its spec (seeded by `train.seed`, as training builds it)
 * with the weights of the latest or the named checkpoint (its files' SHA-256 verified against meta.json and every
 * weight checked finite, as `--resume` does; a bare weights file is only checked finite), the tokenizers
 * ({@link loadRunTokenizers}) and the image preprocessing ({@link imagePreprocessor}). Takes no lock: a checkpoint
 * that training prunes while it is read fails with the missing file's name.
 * @param specs the model registry (e.g. the CLI's `MODELS`; `@mmzoo/cli` exports `loadRun(dir, opts)` bound to it)
 * @throws Error `<dir>: no such run folder` / `<dir>: not a folder`; the errors of {@link findCheckpoint},
 *   {@link readRunConfig}, {@link loadRunTokenizers} and of the checkpoint load (checksum mismatch, non-finite
 *   weights, names or shapes that do not fit the model), each naming the file
 */
export async function loadRun<M extends TrainingModel>(dir: string, specs: SpecRegistry<M>, opts: LoadRunOptions<M> = {}): Promise<LoadedRun<M>> {
  const runDir = path.resolve(dir);
  if (!existsSync(runDir)) throw new Error(`${dir}: no such run folder`);
  if (!statSync(runDir).isDirectory()) throw new Error(`${dir}: not a folder, expected a run folder`);
  const ref = findCheckpoint(runDir, opts.checkpoint);
  const saved = ref.dir ? { dir: ref.dir, meta: readCheckpointMeta(ref.dir) } : undefined;
  const { config, spec } = readRunConfig(runDir, specs, saved);
  const tokenizers = loadRunTokenizers(runDir, spec, config, saved);
  const tokenizer = mainTokenizer(tokenizers);
  const { image } = harnessInputs(spec, config.model);
  await opts.beforeBuild?.(config, spec);
  manualSeed(config.train.seed);
  const model = buildModel(spec, config, buildParts(tokenizers));
  const warnings = ref.warning ? [ref.warning] : [];
  try {
    if (ref.dir) await loadCheckpoint(ref.dir, model.namedParameters(), undefined, (w) => warnings.push(w));
    else loadWeightsFile(ref.file, model.namedParameters());
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { dir: runDir, config, spec, model, tokenizers, tokenizer, preprocess: image ? imagePreprocessor(image) : () => Promise.reject(new Error(`model '${spec.name}' takes no images`)), checkpoint: { ...ref, step: saved?.meta.step, meta: saved?.meta, warnings } };
}

/**
 * The validated experiment of a run: the config in the checkpoint's meta.json (what those weights were trained with,
 * even after a `--resume --force` changed the run's config.yaml), else `<run>/config.yaml` (a bare weights file, a
 * checkpoint without a config). The `model:` section is validated by the schema of its spec in `specs`, the rest by
 * the experiment schema, so defaults added since the run was written are filled in.
 * @param checkpoint the checkpoint folder and its meta.json, when there is one
 * @throws Error `<checkpoint>/meta.json has no config and <run>/config.yaml is missing; cannot rebuild the model it was
 *   trained with`; `<file>: model.name: unknown model 'x'; registered models: ...`; ConfigError `<file>[:line:col]:
 *   <path>: <message>` for a config today's schemas refuse
 */
export function readRunConfig<M extends TrainingModel>(
  runDir: string, specs: SpecRegistry<M>, checkpoint?: { dir: string; meta: CheckpointMeta },
): { config: Experiment<any>; spec: ModelSpec<unknown, M> } {
  let source: YamlSource;
  const saved = checkpoint?.meta.config;
  if (saved && typeof saved === 'object') {
    source = { value: structuredClone(saved), file: path.join(checkpoint.dir, 'meta.json'), locate: () => '' };
  } else {
    const file = path.join(runDir, 'config.yaml');
    if (!existsSync(file)) {
      const none = checkpoint ? `${path.join(checkpoint.dir, 'meta.json')} has no config and ${file} is missing` : `${file} is missing`;
      throw new Error(`${none}; cannot rebuild the model it was trained with`);
    }
    source = parseYaml(readFileSync(file, 'utf8'), file);
  }
  const head = validate(z.object({ model: z.object({ name: z.string() }).passthrough() }).passthrough(), source.value, source);
  const spec = findSpec(specs, head.model.name, `${source.file}: model.name`);
  const model = validate(spec.schema, head.model, source, ['model']);
  return { config: { ...validate(ExperimentSchema, source.value, source), model }, spec };
}

/**
 * The tokenizers of a run, one per tokenized input of its model (`text`, `lm`): each the one saved in the
 * checkpoint's meta.json (`tokenizer` for `text`, `tokenizers.<key>` for the others), else the run folder's file
 * (`tokenizer.json`, `tokenizer-<key>.json`), loaded by its `kind` (none: a word tokenizer, as runs from before kinds
 * saved it). The one place that reads a run's tokenizers.
 * @param checkpoint the checkpoint folder and its meta.json, when there is one
 * @throws Error `<run>: no tokenizer for the model's '<key>' input (the checkpoint's meta.json has none and
 *   <file> is missing)`; `<file>: ...` for a saved tokenizer that cannot be read
 */
export function loadRunTokenizers(
  runDir: string, spec: TrainingSpec, config: Experiment<any>, checkpoint?: { dir: string; meta: CheckpointMeta },
): Partial<Record<TokenizerKey, TextTokenizer>> {
  const inMeta = checkpoint ? savedTokenizersOfMeta(checkpoint.meta) : {};
  const out: Partial<Record<TokenizerKey, TextTokenizer>> = {};
  for (const key of tokenInputKeys(spec.inputs(config.model))) {
    if (checkpoint && inMeta[key] !== undefined) {
      out[key] = loadSavedTokenizer(inMeta[key], path.join(checkpoint.dir, 'meta.json'));
      continue;
    }
    const file = path.join(runDir, tokenizerFileName(key));
    if (!existsSync(file)) {
      throw new Error(`${runDir}: no tokenizer for the model's '${key}' input (${checkpoint ? "the checkpoint's meta.json has none and " : ''}${tokenizerFileName(key)} is missing)`);
    }
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new Error(`${file}: not valid JSON: ${(e as Error).message}`);
    }
    out[key] = loadSavedTokenizer(json, file);
  }
  return out;
}
