/**
 * What each kind of dataset gives a session: its loader, the texts its tokenizers are trained on, its training-set
 * size and its batch maker. Image-caption datasets (`fmnist`, `csv`, `coco`, `jsonl`) give image-text pairs; `text`
 * gives token windows of the text corpus for a causal language model (data/text-batches.ts).
 */
import { ConfigError, TextTokenizer } from '@mmzoo/core';
import type { Batch, ModelInputs } from '@mmzoo/core';
import type { DataConfig } from '../config/experiment';
import { ImageTextData, loadImageTextData, makeImageTextBatch } from '../data/image-text';
import { TextData, TextTokens, loadTextData, makeTextBatch, tokenizeTextData } from '../data/text-batches';
import { trainingCaptions } from '../tokenizers/build';

/** A session's loaded data: image-text pairs, or the text corpus. */
export type SessionData = ImageTextData | TextData;

/** The fmnist image shape the `text` dataset draws its training captions with (`data.text.captions`; captions do not depend on it). */
const CAPTION_IMAGE_SHAPE: [number, number, number] = [1, 28, 28];

/**
 * Loads the data of `data.dataset` for a model's inputs.
 * @param name the model's name, for errors
 * @throws ConfigError when an image-caption dataset is given a model that takes no image or no text; Error naming the
 *   file or folder when the data cannot be read
 */
export async function loadSessionData(data: DataConfig, inputs: ModelInputs, seed: number, name: string): Promise<SessionData> {
  if (data.dataset === 'text') {
    const captions = data.text?.captions ? trainingCaptions((await loadImageTextData({ ...data, dataset: 'fmnist' }, CAPTION_IMAGE_SHAPE, seed)).train, seed) : [];
    return loadTextData(data, captions);
  }
  if (!inputs.image || !inputs.text) {
    throw new ConfigError(`model '${name}' takes no ${inputs.image ? 'text' : 'image'} input; data.dataset '${data.dataset}' gives image-text pairs`);
  }
  return loadImageTextData(data, inputs.image, seed);
}

/** True for the `text` dataset's data. */
export function isTextData(data: SessionData): data is TextData {
  return 'kind' in data && data.kind === 'text';
}

/** The texts a run's tokenizers are trained on: the training captions, or the training documents of the text corpus (never the held-out ones). */
export function trainingTexts(data: SessionData, seed: number): string[] {
  return isTextData(data) ? data.corpus.train.map((d) => d.text) : trainingCaptions(data.train, seed);
}

/** The number of training samples a batch draws from: pairs, or text windows (`tokens`: the session's {@link TextTokens}). */
export function trainingSize(data: SessionData, tokens?: TextTokens): number {
  return isTextData(data) ? tokens?.windows.length ?? 0 : data.train.size;
}

/**
 * The tokens of a text session (undefined for image-text data): the corpus under the `text` tokenizer.
 * @throws Error as data/text-batches `tokenizeTextData`
 */
export function sessionTokens(data: SessionData, tokenizer: TextTokenizer, contextLength: number, dataCfg: DataConfig): TextTokens | undefined {
  return isTextData(data) ? tokenizeTextData(data, tokenizer, contextLength, dataCfg.text?.pack ?? true) : undefined;
}

/**
 * Micro-batch `index` of a session's training data (a pure function of index and seed).
 * @throws Error for text data without its tokens ({@link sessionTokens})
 */
export function sessionBatch(
  s: { data: SessionData; tokens?: TextTokens; tokenizer: TextTokenizer; contextLength: number }, index: number, batchSize: number, seed: number,
): Batch {
  if (isTextData(s.data)) {
    if (!s.tokens) throw new Error('sessionBatch: the text data has not been tokenized (sessionTokens)');
    return makeTextBatch(s.tokens, s.tokenizer.padId, index, batchSize, s.contextLength, seed);
  }
  return makeImageTextBatch(s.data.train, s.tokenizer, index, batchSize, s.contextLength, seed);
}
