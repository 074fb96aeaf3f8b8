/**
 * What each kind of dataset gives a session: its loader, the texts its tokenizers are trained on, its training-set
 * size and its batch maker. Image-caption datasets (`fmnist`, `csv`, `coco`, `jsonl`) give image-text pairs; `text`
 * gives token windows of the text corpus for a causal language model (data/text-batches.ts); `dialogue` gives
 * dialogues in a chat template with only their answers supervised (data/dialogue-batches.ts); `sceneInstructions` gives
 * scene images with instructions and answers in a bridge system's layout (data/instruction-batches.ts).
 */
import { ConfigError, TextTokenizer } from '@mmzoo/core';
import type { Batch, ModelInputs } from '@mmzoo/core';
import type { DataConfig } from '../config/experiment';
import { ImageTextData, loadImageTextData, makeImageTextBatch } from '../data/image-text';
import { TextData, TextTokens, loadTextData, makeTextBatch, tokenizeTextData } from '../data/text-batches';
import {
  DialogueData, DialogueTokens, dialogueOptions, dialogueTexts, loadDialogueData, makeDialogueBatch, tokenizeDialogues,
} from '../data/dialogue-batches';
import {
  InstructionData, InstructionTokens, instructionTexts, loadInstructionData, makeInstructionBatch, tokenizeInstructions,
} from '../data/instruction-batches';
import { trainingCaptions } from '../tokenizers/build';
import type { TokenizerKey } from '../tokenizers/config';

/** A session's loaded data: image-text pairs, the text corpus, dialogues, or scene instructions. */
export type SessionData = ImageTextData | TextData | DialogueData | InstructionData;

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
  if (data.dataset === 'dialogue') return loadDialogueData(dialogueOptions(data), seed);
  if (data.dataset === 'sceneInstructions') {
    if (!inputs.image || !inputs.lm) {
      throw new ConfigError(`model '${name}' takes no ${inputs.image ? 'lm' : 'image'} input; data.dataset 'sceneInstructions' gives images with a language model's ids`);
    }
    return loadInstructionData(data, inputs.image, seed);
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

/** True for the `dialogue` dataset's data. */
export function isDialogueData(data: SessionData): data is DialogueData {
  return 'kind' in data && data.kind === 'dialogue';
}

/** True for the `sceneInstructions` dataset's data. */
export function isInstructionData(data: SessionData): data is InstructionData {
  return 'kind' in data && data.kind === 'sceneInstructions';
}

/**
 * The texts a run's tokenizers are trained on: the training captions, the training documents of the text corpus, or
 * the training dialogues' turns or instruction examples (never held-out ones).
 */
export function trainingTexts(data: SessionData, seed: number): string[] {
  if (isTextData(data)) return data.corpus.train.map((d) => d.text);
  if (isDialogueData(data)) return dialogueTexts(data);
  if (isInstructionData(data)) return instructionTexts(data);
  return trainingCaptions(data.train, seed);
}

/**
 * The number of training samples a batch draws from: pairs, text windows (`tokens`: the session's
 * {@link TextTokens}), dialogues that fit the context (`dialogues`) or instruction examples that fit the `lm` context
 * (`instructions`).
 */
export function trainingSize(data: SessionData, tokens?: TextTokens, dialogues?: DialogueTokens, instructions?: InstructionTokens): number {
  if (isTextData(data)) return tokens?.windows.length ?? 0;
  if (isDialogueData(data)) return dialogues?.rows.length ?? 0;
  if (isInstructionData(data)) return instructions?.rows.length ?? 0;
  return data.train.size;
}

/**
 * The tokens of a text session (undefined for image-text data): the corpus under the `text` tokenizer.
 * @throws Error as data/text-batches `tokenizeTextData`
 */
export function sessionTokens(data: SessionData, tokenizer: TextTokenizer, contextLength: number, dataCfg: DataConfig): TextTokens | undefined {
  return isTextData(data) ? tokenizeTextData(data, tokenizer, contextLength, dataCfg.text?.pack ?? true) : undefined;
}

/**
 * The tokenized training dialogues of a dialogue session (undefined for other data) under the `text` tokenizer.
 * @throws Error as data/dialogue-batches `tokenizeDialogues`
 */
export function sessionDialogueTokens(data: SessionData, tokenizer: TextTokenizer, contextLength: number): DialogueTokens | undefined {
  return isDialogueData(data) ? tokenizeDialogues(data, tokenizer, contextLength) : undefined;
}

/**
 * The tokenized training examples of a sceneInstructions session (undefined for other data) under the `lm` tokenizer.
 * @throws Error when the model has no `lm` tokenizer; as data/instruction-batches `tokenizeInstructions`
 */
export function sessionInstructionTokens(data: SessionData, tokenizers: Partial<Record<TokenizerKey, TextTokenizer>>, inputs: ModelInputs): InstructionTokens | undefined {
  if (!isInstructionData(data)) return undefined;
  if (!tokenizers.lm || !inputs.lm) throw new Error("data.dataset 'sceneInstructions' needs a model with an 'lm' input and its tokenizer (tokenizers.lm)");
  return tokenizeInstructions(data, tokenizers.lm, inputs.lm.contextLength);
}

/**
 * Micro-batch `index` of a session's training data (a pure function of index and seed).
 * @throws Error for text, dialogue or instruction data without its tokens ({@link sessionTokens},
 *   {@link sessionDialogueTokens}, {@link sessionInstructionTokens})
 */
export function sessionBatch(
  s: {
    data: SessionData; tokens?: TextTokens; dialogueTokens?: DialogueTokens; instructionTokens?: InstructionTokens; tokenizer: TextTokenizer;
    tokenizers: Partial<Record<TokenizerKey, TextTokenizer>>; inputs: ModelInputs; contextLength: number;
  },
  index: number, batchSize: number, seed: number,
): Batch {
  if (isInstructionData(s.data)) {
    const { lm, text } = s.inputs;
    if (!s.instructionTokens || !lm || !s.tokenizers.lm) throw new Error('sessionBatch: the instructions have not been tokenized (sessionInstructionTokens)');
    return makeInstructionBatch(s.data, s.instructionTokens, {
      lm: { tokenizer: s.tokenizers.lm, contextLength: lm.contextLength },
      ...(text && s.tokenizers.text ? { text: { tokenizer: s.tokenizers.text, contextLength: text.contextLength } } : {}),
    }, index, batchSize, seed);
  }
  if (isTextData(s.data)) {
    if (!s.tokens) throw new Error('sessionBatch: the text data has not been tokenized (sessionTokens)');
    return makeTextBatch(s.tokens, s.tokenizer.padId, index, batchSize, s.contextLength, seed);
  }
  if (isDialogueData(s.data)) {
    if (!s.dialogueTokens) throw new Error('sessionBatch: the dialogues have not been tokenized (sessionDialogueTokens)');
    return makeDialogueBatch(s.dialogueTokens, s.tokenizer.padId, index, batchSize, s.contextLength, seed);
  }
  return makeImageTextBatch(s.data.train, s.tokenizer, index, batchSize, s.contextLength, seed);
}
