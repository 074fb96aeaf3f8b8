import { DualEncoderMetrics, ImageTextData, evaluateDualEncoder, loadImageTextData } from '@mmzoo/core/node';
import { TextTokenizer, manualSeed, Experiment } from '@mmzoo/core';
import { ImageTextModel, ModelEntry } from './registry';

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
 */
export async function openSession(entry: ModelEntry, config: Experiment<any>, makeTokenizer: (data: ImageTextData) => TextTokenizer): Promise<Session> {
  const imageShape = entry.imageShape(config.model);
  const data = await loadImageTextData(config.data, imageShape, config.data.seed ?? config.train.seed);
  const tokenizer = makeTokenizer(data);
  manualSeed(config.train.seed);
  const model = entry.build(config.model, { vocabSize: tokenizer.vocabSize, eotId: tokenizer.endId, padId: tokenizer.padId });
  return { entry, config, model, tokenizer, data, contextLength: entry.contextLength(config.model) };
}

/** Zero-shot and retrieval metrics of a session's model on the test split, plus the model's own extra metrics. */
export async function evaluateSession(s: Session): Promise<DualEncoderMetrics & Record<string, unknown>> {
  const base = evaluateDualEncoder(s.model, s.tokenizer, s.data, s.config.eval, s.contextLength);
  const extra = s.entry.extraMetrics ? await s.entry.extraMetrics(s.model, s) : {};
  return { ...base, ...extra };
}
