import { DualEncoderMetrics, ImageTextData, evaluateDualEncoder, loadImageTextData, Experiment } from '@mmzoo/train';
import { ConfigError, TextTokenizer, manualSeed } from '@mmzoo/core';
import { BuildContext, ImageTextModel, ModelEntry } from './registry';
import { configPlace, isLoadedConfig } from './experiment';

/** A built model with its data and tokenizer: what train and eval share. */
export interface Session {
  entry: ModelEntry;
  config: Experiment<any>;
  model: ImageTextModel;
  tokenizer: TextTokenizer;
  data: ImageTextData;
  contextLength: number;
}

/**
 * Loads the data and builds the model (seeded by train.seed) for an experiment. The tokenizer comes from
 * `tokenizer` (a resumed or evaluated run) or is built from the training captions by `makeTokenizer`.
 * @throws ConfigError when a batch size used in training (`train.batchSize`, or a stage's `batchSize`) is larger
 *   than the training set (checked for configs from {@link loadExperiment}, not for a run's own config read back
 *   by `mmzoo eval`), or when the model's weights cannot be allocated ({@link buildModel})
 */
export async function openSession(entry: ModelEntry, config: Experiment<any>, makeTokenizer: (data: ImageTextData) => TextTokenizer): Promise<Session> {
  const imageShape = entry.imageShape(config.model);
  const data = await loadImageTextData(config.data, imageShape, config.data.seed ?? config.train.seed);
  // a config file about to be trained; a finished run's config (mmzoo eval) is evaluated whatever it trained with
  if (isLoadedConfig(config)) checkBatchSizes(config, data.train.size);
  const tokenizer = makeTokenizer(data);
  manualSeed(config.train.seed);
  const model = buildModel(entry, config, { vocabSize: tokenizer.vocabSize, eotId: tokenizer.endId, padId: tokenizer.padId });
  return { entry, config, model, tokenizer, data, contextLength: entry.contextLength(config.model) };
}

/**
 * Every batch size training uses must fit in the training set: a larger batch would repeat samples inside one
 * batch, making the same pair its own negative in the contrastive losses. With `stages`, each stage's
 * `batchSize` (or `train.batchSize` for a stage without one) is checked; `train.batchSize` alone otherwise.
 * @param trainSize the number of training pairs
 * @throws ConfigError `file:line:col: train.batchSize: 512 is larger than the training set (288 pairs); lower it or add data`
 */
export function checkBatchSizes(config: Experiment<any>, trainSize: number): void {
  const used: { path: (string | number)[]; size: number }[] = config.stages
    ? config.stages.map((st, i) => (st.batchSize !== undefined ? { path: ['stages', i, 'batchSize'], size: st.batchSize } : { path: ['train', 'batchSize'], size: config.train.batchSize }))
    : [{ path: ['train', 'batchSize'], size: config.train.batchSize }];
  const bad = used.find((u) => u.size > trainSize);
  if (bad) {
    const stage = bad.path[0] === 'stages' ? ` in stage '${config.stages![bad.path[1] as number].name}'` : '';
    throw new ConfigError(`${configPlace(config, bad.path)}${bad.size}${stage} is larger than the training set (${trainSize} pairs); lower it or add data`);
  }
}

/** Model-section keys that size weight tensors, the candidates a failed allocation is blamed on. */
const SIZE_KEYS = new Set(['width', 'embedDim', 'vocabSize', 'contextLength', 'imageSize', 'layers', 'mlpRatio', 'numHeads', 'codebookSize', 'numTokens']);

/**
 * Builds the model of a config; a weight tensor too large to allocate becomes a ConfigError naming the config
 * key blamed for it (the largest size key of the model section dividing the number of values requested, else the
 * largest) and the memory requested, instead of `Invalid typed array length: 49000000000`.
 * @throws ConfigError `model.vision.width: 70000 needs a float32 tensor of 14,700,000,000 values (58.8 GB), more
 *   than can be allocated; reduce it`
 */
export function buildModel(entry: ModelEntry, config: Experiment<any>, ctx: BuildContext): ImageTextModel {
  try {
    return entry.build(config.model, ctx);
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
    for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
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

/** Zero-shot and retrieval metrics of a session's model on the test split, plus the model's own extra metrics. */
export async function evaluateSession(s: Session): Promise<DualEncoderMetrics & Record<string, unknown>> {
  const base = evaluateDualEncoder(s.model, s.tokenizer, s.data, s.config.eval, s.contextLength);
  const extra = s.entry.extraMetrics ? await s.entry.extraMetrics(s.model, s) : {};
  return { ...base, ...extra };
}
