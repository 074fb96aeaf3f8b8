import {
  BuildParts, ConfigError, ModelInputs, ModelSpec, PrepareContext, TextTokenizer, TokenizerFacts, TrainingModel, manualSeed, tokenInputKeys,
} from '@mmzoo/core';
import { DataConfig, EvalConfig, Experiment } from '../config/experiment';
import { configPlace, isLoadedConfig } from '../config/places';
import type { ImageTextData } from '../data/image-text';
import type { TextTokens } from '../data/text-batches';
import type { DialogueTokens } from '../data/dialogue-batches';
import type { InstructionTokens } from '../data/instruction-batches';
import { checkEvalTasks, runEvalTask } from './tasks';
import {
  SessionData, isDialogueData, isInstructionData, isTextData, loadSessionData, sessionDialogueTokens, sessionInstructionTokens, sessionTokens,
  trainingSize, trainingTexts,
} from './datasets';
import { resolveTokenizers, TokenizerKey } from '../tokenizers/config';
import { makeTokenizers } from '../tokenizers/build';
import { saveTokenizer, SavedTokenizers } from '../tokenizers/saved';
import type { LoadedRun } from './load-run';

/** A model spec the harness can train: its models are {@link TrainingModel}s (image-text models, decoder-only LMs). */
export type TrainingSpec = ModelSpec<unknown, TrainingModel>;

/** A built model with its data and tokenizers: what train and eval share. */
export interface Session {
  spec: TrainingSpec;
  config: Experiment<any>;
  model: TrainingModel;
  /** the run's tokenizers by tokenized batch key (`text`, `lm`) */
  tokenizers: Partial<Record<TokenizerKey, TextTokenizer>>;
  /** the `text` tokenizer (`tokenizers.text`; a model without a `text` input: `tokenizers.lm`) */
  tokenizer: TextTokenizer;
  /** image-text pairs, the text corpus (`data.dataset: text`), dialogues (`data.dataset: dialogue`) or scene instructions */
  data: SessionData;
  /** the text corpus under `tokenizer` (`data.dataset: text` only) */
  tokens?: TextTokens;
  /** the training dialogues under `tokenizer` (`data.dataset: dialogue` only) */
  dialogueTokens?: DialogueTokens;
  /** the training examples under `tokenizers.lm` (`data.dataset: sceneInstructions` only) */
  instructionTokens?: InstructionTokens;
  /** the model's inputs (spec `inputs(config.model)`) */
  inputs: ModelInputs;
  /** the model's input images [C, H, W] (spec `inputs().image`; absent for a text-only model) */
  imageShape?: [number, number, number];
  /** token context length (spec `inputs().text`; a model without a `text` input: `inputs().lm`) */
  contextLength: number;
}

/**
 * The inputs the harness feeds a spec's model for a config: images when it takes them, and the context length of its
 * `text` key (of its `lm` key for a bridge model that reads no `text`, e.g. MiniGPT-4).
 * @throws ConfigError when the model takes neither `text` nor `lm`
 */
export function harnessInputs(spec: TrainingSpec, model: unknown): { image?: [number, number, number]; contextLength: number } {
  const { image, text, lm } = spec.inputs(model);
  const tokens = text ?? lm;
  if (!tokens) throw new ConfigError(`model '${spec.name}' takes no text or lm input; the harness trains models on image-text pairs or on text`);
  return { image, contextLength: tokens.contextLength };
}

/**
 * The tokenizer a session calls `tokenizer`: the `text` one, else (a model without a `text` input) the `lm` one.
 * @throws Error when there is neither
 */
export function mainTokenizer(tokenizers: Partial<Record<TokenizerKey, TextTokenizer>>): TextTokenizer {
  const t = tokenizers.text ?? tokenizers.lm;
  if (!t) throw new Error('the run has neither a text nor an lm tokenizer');
  return t;
}

/**
 * A session's image-text data and image shape, for the tasks that need images.
 * @throws Error naming the task when the session trains on the text corpus
 */
export function imageTextOf(s: Session, task: string): { data: ImageTextData; imageShape: [number, number, number] } {
  if (isTextData(s.data) || isDialogueData(s.data) || isInstructionData(s.data) || !s.imageShape) throw new Error(`evaluation task '${task}' needs image-text data, not data.dataset '${s.config.data.dataset}'`);
  return { data: s.data, imageShape: s.imageShape };
}

/**
 * Loads the data for the spec's inputs, makes the run's tokenizers and builds the model (seeded by train.seed) for an
 * experiment. The tokenizers are loaded from `saved` (a resumed or evaluated run) or, for a new run, built as the
 * config says (`tokenizers:`; by default a word tokenizer of the training captions for `text`; kind `init`: the one
 * saved by an `init:` entry's run, from `fromInit`, init/apply `initTokenizers`).
 * @param where names the source of `saved` in errors (e.g. a checkpoint's meta.json)
 * @throws ConfigError when a batch size used in training is larger than the training set (checked for configs loaded
 *   from a file, not for a run's own config read back by `mmzoo eval`), when the model's weights cannot be allocated
 *   ({@link buildModel}) or when the model lacks what one of its evaluation tasks needs ({@link checkEvalTasks});
 *   Error for a tokenizer that cannot be built or loaded
 */
export async function openSession(
  spec: TrainingSpec, config: Experiment<any>, saved?: SavedTokenizers, where?: string, fromInit?: Readonly<Record<string, SavedTokenizers>>,
): Promise<Session> {
  const { image, contextLength } = harnessInputs(spec, config.model);
  const data = await loadSessionData(config.data, spec.inputs(config.model), config.data.seed ?? config.train.seed, spec.name);
  const tokenizers = openTokenizers(spec, config, data, saved, where, fromInit);
  const tokenizer = mainTokenizer(tokenizers);
  const inputs = spec.inputs(config.model);
  const tokens = sessionTokens(data, tokenizer, contextLength, config.data);
  const dialogueTokens = sessionDialogueTokens(data, tokenizer, contextLength);
  const instructionTokens = sessionInstructionTokens(data, tokenizers, inputs);
  // a config file about to be trained; a finished run's config (mmzoo eval) is evaluated whatever it trained with
  if (isLoadedConfig(config)) checkBatchSizes(config, trainingSize(data, tokens, dialogueTokens, instructionTokens));
  manualSeed(config.train.seed);
  const model = buildModel(spec, config, buildParts(tokenizers));
  try {
    checkEvalTasks(spec, config.model, model);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { spec, config, model, tokenizers, tokenizer, data, tokens, dialogueTokens, instructionTokens, inputs, imageShape: image, contextLength };
}

/**
 * The run's tokenizers for the spec's tokenized inputs: loaded from `saved` when given, else built as the config's
 * `tokenizers:` says, trained on the training texts (captions, the text corpus's training documents or the training
 * dialogues), or taken from an `init:` entry's run (`fromInit`, for kind `init`).
 * @throws ConfigError for a tokenizer config that does not fit the model's inputs; Error as `makeTokenizers`
 */
export function openTokenizers(
  spec: TrainingSpec, config: Experiment<any>, data: SessionData, saved?: SavedTokenizers, where?: string,
  fromInit?: Readonly<Record<string, SavedTokenizers>>,
): Partial<Record<TokenizerKey, TextTokenizer>> {
  const resolved = resolveTokenizers(config, tokenInputKeys(spec.inputs(config.model)), spec.name);
  if ('message' in resolved) throw new ConfigError(`${configPlace(config, resolved.path)}${resolved.message}`);
  return makeTokenizers(resolved.tokenizers, () => trainingTexts(data, config.data.seed ?? config.train.seed), saved, where, fromInit);
}

/** What a run's tokenizers tell the builder ({@link BuildParts}): the `text` tokenizer's facts, and each one's by key. */
export function buildParts(tokenizers: Partial<Record<TokenizerKey, TextTokenizer>>): BuildParts {
  const facts = (t: TextTokenizer): TokenizerFacts => ({ vocabSize: t.vocabSize, eotId: t.endId, padId: t.padId });
  const byKey = Object.fromEntries(Object.entries(tokenizers).map(([k, t]) => [k, facts(t)]));
  const text = tokenizers.text;
  return { ...(text ? facts(text) : {}), tokenizers: byKey };
}

/** The session's tokenizers in their saved form (with kinds), by key. */
export function savedTokenizers(s: Session): SavedTokenizers {
  return Object.fromEntries(Object.entries(s.tokenizers).map(([k, t]) => [k, saveTokenizer(t)]));
}

/**
 * A session over a run loaded by {@link loadRun}: its model and tokenizer on `data` (default: the run's `data:`
 * section), evaluated with `evalCfg` (default: its `eval:`), for {@link evaluateSession} (`mmzoo eval --data`). The
 * model stays the run's: the caller disposes it.
 * @throws Error when the model lacks what one of its evaluation tasks needs ({@link checkEvalTasks}) or the data
 *   cannot be read (naming the file or config path)
 */
export async function runSession(run: LoadedRun, data: DataConfig = run.config.data, evalCfg: EvalConfig = run.config.eval): Promise<Session> {
  const config: Experiment<any> = { ...run.config, data, eval: evalCfg };
  const { image, contextLength } = harnessInputs(run.spec, config.model);
  checkEvalTasks(run.spec, config.model, run.model);
  const inputs = run.spec.inputs(config.model);
  const loaded = await loadSessionData(data, inputs, data.seed ?? config.train.seed, run.spec.name);
  const tokens = sessionTokens(loaded, run.tokenizer, contextLength, data);
  const dialogueTokens = sessionDialogueTokens(loaded, run.tokenizer, contextLength);
  const instructionTokens = sessionInstructionTokens(loaded, run.tokenizers, inputs);
  return {
    spec: run.spec, config, model: run.model, tokenizers: run.tokenizers, tokenizer: run.tokenizer, data: loaded, tokens, dialogueTokens,
    instructionTokens, inputs, imageShape: image, contextLength,
  };
}

/**
 * What the spec's `prepare` is given: the session's training images and data seed.
 * @throws Error for a text session (no images)
 */
export function prepareContext(s: Session): PrepareContext {
  return { trainImages: imageTextOf(s, 'prepare').data.train, seed: s.config.data.seed ?? s.config.train.seed };
}

/**
 * Runs the spec's `prepare` on the session's model (before training from scratch; e.g. fitting a k-means visual
 * tokenizer). Nothing for specs without one.
 */
export async function prepareSession(s: Session): Promise<void> {
  if (s.spec.prepare) await s.spec.prepare(s.model, prepareContext(s));
}

/**
 * Every batch size training uses must fit in the training set: a larger batch would repeat samples inside one
 * batch, making the same pair its own negative in the contrastive losses. With `stages`, each stage's
 * `batchSize` (or `train.batchSize` for a stage without one) is checked; `train.batchSize` alone otherwise.
 * @param trainSize the number of training samples (pairs, or text windows)
 * @throws ConfigError `file:line:col: train.batchSize: 512 is larger than the training set (288 samples); lower it or add data`
 */
export function checkBatchSizes(config: Experiment<any>, trainSize: number): void {
  const used: { path: (string | number)[]; size: number }[] = config.stages
    ? config.stages.map((st, i) => (st.batchSize !== undefined ? { path: ['stages', i, 'batchSize'], size: st.batchSize } : { path: ['train', 'batchSize'], size: config.train.batchSize }))
    : [{ path: ['train', 'batchSize'], size: config.train.batchSize }];
  const bad = used.find((u) => u.size > trainSize);
  if (bad) {
    const stage = bad.path[0] === 'stages' ? ` in stage '${config.stages![bad.path[1] as number].name}'` : '';
    throw new ConfigError(`${configPlace(config, bad.path)}${bad.size}${stage} is larger than the training set (${trainSize} ${SAMPLE_NAMES[config.data?.dataset] ?? 'pairs'}); lower it or add data`);
  }
}

/** What a training sample of a dataset is called in messages (others: pairs). */
export const SAMPLE_NAMES: Partial<Record<DataConfig['dataset'], string>> = { text: 'windows', dialogue: 'dialogues', sceneInstructions: 'examples' };

/** Model-section keys that size weight tensors, the candidates a failed allocation is blamed on. */
const SIZE_KEYS = new Set(['width', 'embedDim', 'vocabSize', 'contextLength', 'imageSize', 'layers', 'mlpRatio', 'numHeads', 'codebookSize', 'numTokens']);

/**
 * Builds the model of a config; a weight tensor too large to allocate becomes a ConfigError naming the config
 * key blamed for it (the largest size key of the model section dividing the number of values requested, else the
 * largest) and the memory requested, instead of `Invalid typed array length: 49000000000`.
 * @throws ConfigError `model.vision.width: 70000 needs a float32 tensor of 14,700,000,000 values (58.8 GB), more
 *   than can be allocated; reduce it`
 */
export function buildModel<M extends TrainingModel>(spec: ModelSpec<unknown, M>, config: Experiment<any>, parts: BuildParts): M {
  try {
    return spec.build(config.model, parts);
  } catch (e) {
    const err = allocationError(e, config);
    if (err) throw err;
    throw e;
  }
}

/**
 * The ConfigError for a failed weight allocation (`RangeError: Invalid typed array length: N`, `Array buffer
 * allocation failed`), or undefined for any other error. See {@link buildModel}.
 */
export function allocationError(e: unknown, config: Experiment<any>): ConfigError | undefined {
  const msg = e instanceof Error ? e.message : String(e);
  if (!(e instanceof RangeError) || !/Invalid typed array length|Array buffer allocation failed|Invalid array buffer length/.test(msg)) return undefined;
  const m = /length: (\d+)/.exec(msg);
  const values = m ? Number(m[1]) : undefined;
  const sizes: { path: (string | number)[]; value: number }[] = [];
  const walk = (node: unknown, at: (string | number)[]) => {
    if (!node || typeof node !== 'object') return;
    for (const [k, v] of Object.entries(node)) {
      if (typeof v === 'number' && SIZE_KEYS.has(k) && Number.isInteger(v) && v > 0) sizes.push({ path: [...at, k], value: v });
      else walk(v, [...at, k]);
    }
  };
  walk(config.model, ['model']);
  const largest = (list: typeof sizes) => list.reduce<(typeof sizes)[number] | undefined>((a, s) => (!a || s.value > a.value ? s : a), undefined);
  const blamed = largest(values ? sizes.filter((s) => values % s.value === 0) : []) ?? largest(sizes);
  const need = values !== undefined ? `a float32 tensor of ${values.toLocaleString('en-US')} values (${(values * 4 / 1e9).toFixed(1)} GB)` : 'more memory than is available for one tensor';
  const where = blamed ? `${configPlace(config, blamed.path)}${blamed.value} needs ` : `model: the weights need `;
  return new ConfigError(`${where}${need}, more than can be allocated; reduce it`);
}

/**
 * Evaluates a session's model on the test split: each task its spec requests (`evalTasks`), in order, their metrics
 * merged into one record (results.json `metrics`).
 */
export async function evaluateSession(s: Session): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const request of s.spec.evalTasks(s.config.model)) Object.assign(out, await runEvalTask(request, s));
  return out;
}
