/**
 * The `sceneInstructions` dataset (`data.dataset: sceneInstructions`): scene instruction examples
 * (data/scene-instructions.ts) rendered in a bridge system's layout (data/instruction-templates.ts), tokenized, and the
 * batches a bridge model trains on (core `Batch`):
 * - `image` float32 [B, C, H, W] in [0, 1]: the scene, resized to the model's image size (as the fmnist pairs are);
 * - `lm` int32 [B, L]: the language model's ids (the run's `lm` tokenizer), one core `IMAGE_TOKEN_INDEX` per row where
 *   the visual soft prompt goes, right-padded with that tokenizer's pad id;
 * - `labels` int32 [B, L]: `labels[:, t]` = the id after `lm[:, t]` when that id belongs to an answer (its text and its
 *   end: "\n", the end token or `###`), -100 on every prompt, image and padding position;
 * - `text` int32 [B, Lq] (only for a model that takes `text`): the instruction in the `text` tokenizer, [CLS] ... [SEP]
 *   right-padded, for a Q-Former that reads it (InstructBLIP; BLIP-2's VQA fine-tuning).
 * Training scenes come from the training images, held-out sets from the test images.
 */
import { IMAGE_TOKEN_INDEX, TextTokenizer, tf } from '@mmzoo/core';
import type { Batch } from '@mmzoo/core';
import type { DataConfig, InstructionsDataConfig } from '../config/experiment';
import { InstructionsDataSchema } from '../config/experiment';
import { chatText } from './chat-templates';
import { DialogueIds, dialogueBatchArrays, pieceIds } from './dialogue-batches';
import { EMBEDDED_FASHION_MNIST_ROOT, loadFashionMnist } from './fmnist';
import { INSTRUCTION_WORDINGS, InstructionTemplateName, instructionPieces } from './instruction-templates';
import { batchIndices } from './pairs';
import { resizeImageSet } from './resize';
import { buildScenes, SceneGrid, SceneSet } from './scenes';
import { SceneInstruction, SceneTask, answerLists, heldOutInstructions, majorityAnswers, qformerText, trainingInstructions } from './scene-instructions';
import { ImageSet, imageSize } from './types';
import { existsSync } from 'fs';
import * as path from 'path';

/** The seed of the test scenes the held-out sets are drawn from (fixed, whatever the config's). */
export const INSTRUCTION_TEST_SCENE_SEED = 20240918;

/** The loaded `sceneInstructions` dataset: scenes, training examples and the fixed held-out sets, not yet tokenized. */
export interface InstructionData {
  kind: 'sceneInstructions';
  template: InstructionTemplateName;
  grid: SceneGrid;
  /** scenes of the training images, at the model's image size (`images`), and their training examples */
  train: { scenes: SceneSet; images: ImageSet; examples: SceneInstruction[] };
  /** scenes of the test images at the model's image size, and the held-out examples per task over them */
  test: { scenes: SceneSet; images: ImageSet; heldOut: Record<string, SceneInstruction[]> };
  /** the majority answer of each question task over the training scenes (the majority baseline) */
  majority: Partial<Record<SceneTask, string>>;
  /** the answer list of each question task over the training scenes, in the layout's form (rank scoring's candidates) */
  answers: Partial<Record<SceneTask, string[]>>;
  /** where the images came from, for logs */
  root: string;
}

/** The `data.instructions` options of a config, the schema's defaults when it has none. */
export function instructionOptions(data: DataConfig): InstructionsDataConfig {
  return data.instructions ?? InstructionsDataSchema.parse({});
}

/**
 * Loads the scene instruction data of a config: `scenes` training scenes from the training images (seeded by `seed`)
 * and their `train` examples, `testScenes` test scenes from the test images (fixed seed) and the held-out sets.
 * @param imageShape the model's image input [C, H, W] (1 channel: Fashion-MNIST)
 * @throws Error naming `data.root` when the folder is missing, or the image channels when they are not 1; as
 *   data/scene-instructions `trainingInstructions`
 */
export function loadInstructionData(data: DataConfig, imageShape: [number, number, number], seed: number, configDir = process.cwd()): InstructionData {
  const opts = instructionOptions(data);
  const root = data.root ? path.resolve(configDir, data.root) : EMBEDDED_FASHION_MNIST_ROOT;
  if (!existsSync(root)) throw new Error(`data.root: folder ${root} does not exist`);
  const [c, h, w] = imageShape;
  if (c !== 1) throw new Error(`data.dataset sceneInstructions: Fashion-MNIST scenes have 1 channel; the model expects ${c} (set the vision channels to 1)`);
  const grid: SceneGrid = { rows: opts.grid, cols: opts.grid };
  const sceneOpts = { rows: opts.grid, cols: opts.grid, captionStyle: 'layout' as const, captionsPerScene: 1 };
  const trainScenes = buildScenes(loadFashionMnist(root, 'train'), opts.scenes, seed, sceneOpts);
  const testScenes = buildScenes(loadFashionMnist(root, 'test'), opts.testScenes, INSTRUCTION_TEST_SCENE_SEED, sceneOpts);
  const trainImages = resizeImageSet(trainScenes.images, h, w);
  const testImages = resizeImageSet(testScenes.images, h, w);
  // the question-only baseline: the same examples, nothing to see
  if (opts.blankImages) for (const set of [trainImages, testImages]) set.images.fill(0);
  return {
    kind: 'sceneInstructions',
    template: opts.template,
    grid,
    train: {
      scenes: trainScenes,
      images: trainImages,
      examples: trainingInstructions(opts.template, trainScenes.scenes, grid, opts.train, seed, opts.mix, opts.tasks),
    },
    test: {
      scenes: testScenes,
      images: testImages,
      heldOut: heldOutInstructions(opts.template, testScenes.scenes, grid, opts.heldOutPerTask),
    },
    majority: majorityAnswers(trainScenes.scenes),
    answers: answerLists(opts.template, trainScenes.scenes),
    root,
  };
}

/** A tokenized example: its `lm` ids (one `IMAGE_TOKEN_INDEX`) with the answer flags, its scene and its Q-Former text. */
export interface InstructionRow extends DialogueIds {
  scene: number;
  qformer: string;
}

/** The tokenized training examples that fit the `lm` context (contextLength + 1 ids), and how many did not. */
export interface InstructionTokens {
  rows: InstructionRow[];
  dropped: number;
}

const WHERE = { dataset: 'sceneInstructions', key: 'lm' };

/**
 * The `lm` ids of an example in a layout (data/instruction-templates `instructionPieces`; `generation`: the prompt
 * without the last answer).
 * @throws Error when the tokenizer is not an HFTokenizer with an end id (data/dialogue-batches `pieceIds`)
 */
export function instructionIds(template: InstructionTemplateName, ex: SceneInstruction, lm: TextTokenizer, generation = false): DialogueIds {
  return pieceIds(lm, instructionPieces(template, ex.turns, generation), WHERE);
}

/** What {@link imagePrompt} gives: the `lm` prompt ids (one IMAGE_TOKEN_INDEX) and what the Q-Former reads. */
export interface ImagePrompt {
  /** the layout's rendering of the question, without the image */
  text: string;
  ids: number[];
  /** the instruction as a Q-Former reads it (InstructBLIP; BLIP-2's VQA fine-tuning: the bare question) */
  qformer: string;
}

/**
 * A free-form question or instruction about an image laid out as `template` lays out a generation prompt (`mmzoo
 * generate --image`): a question (it ends with "?") goes into the layout's first question wording where it has one
 * (`blip2_opt`: "Question: {} Answer:"; `instructblip`: "Question: {} Short answer:", LAVIS's VQA prompts),
 * anything else is the instruction as given; the chat layouts take either as the user's turn.
 * @throws Error as {@link instructionIds} (a tokenizer without an end id)
 */
export function imagePrompt(template: InstructionTemplateName, question: string, lm: TextTokenizer): ImagePrompt {
  // LAVIS's VQA prompt of each (blip2_opt: "Question: {} Answer:"; InstructBLIP's "Question: {} Short answer:")
  const wording = INSTRUCTION_WORDINGS[template].question.find((w) => w.startsWith('Question: {} ')) ?? '{}';
  // the first letter capitalised, as the training questions are (data/scene-instructions `questionTurn`)
  const asked = question.trim().charAt(0).toUpperCase() + question.trim().slice(1);
  const user = template === 'blip2_opt' || asked.endsWith('?') ? wording.replace('{}', asked) : asked;
  const { ids } = pieceIds(lm, instructionPieces(template, [{ user, assistant: '' }], true), WHERE);
  return { text: user, ids: [...ids], qformer: qformerText(template, user) };
}

/**
 * Tokenizes the training examples with the `lm` tokenizer; an example longer than contextLength + 1 ids is dropped.
 * @throws Error as {@link instructionIds}; when no example fits
 */
export function tokenizeInstructions(data: InstructionData, lm: TextTokenizer, contextLength: number): InstructionTokens {
  const rows: InstructionRow[] = [];
  let dropped = 0;
  for (const ex of data.train.examples) {
    const ids = instructionIds(data.template, ex, lm);
    if (ids.ids.length <= contextLength + 1) rows.push({ ...ids, scene: ex.scene, qformer: ex.qformer });
    else dropped++;
  }
  if (rows.length === 0) throw new Error(`data.dataset sceneInstructions: no training example fits the lm context of ${contextLength} tokens`);
  return { rows, dropped };
}

/** float32 pixels in [0, 1] of scenes `indices` of `images`, [indices.length, C, H, W] row-major. */
function scenePixels(images: ImageSet, indices: readonly number[]): Float32Array {
  const per = imageSize(images);
  const out = new Float32Array(indices.length * per);
  indices.forEach((s, j) => {
    const src = images.images.subarray(s * per, (s + 1) * per);
    for (let k = 0; k < per; k++) out[j * per + k] = src[k] / 255;
  });
  return out;
}

/** What a batch of the dataset needs besides the rows: the tokenizers and context lengths of the model's inputs. */
export interface InstructionBatchInputs {
  /** the `lm` tokenizer (its pad id pads `lm`) and the `lm` context length */
  lm: { tokenizer: TextTokenizer; contextLength: number };
  /** the `text` tokenizer and context length, when the model takes `text` (the instruction for its Q-Former) */
  text?: { tokenizer: TextTokenizer; contextLength: number };
}

/**
 * Micro-batch `index` of the training examples, in the seeded epoch-wise order of `batchIndices` (a pure function of
 * index and seed): `image`, `lm`, `labels` and, when `inputs.text` is given, `text` (see the module comment).
 * @throws Error when a row has more than lm contextLength + 1 ids
 */
export function makeInstructionBatch(data: InstructionData, tokens: InstructionTokens, inputs: InstructionBatchInputs, index: number, batchSize: number, seed: number): Batch {
  const { indices } = batchIndices(index, batchSize, tokens.rows.length, seed);
  const rows = Array.from(indices, (i) => tokens.rows[i]);
  const L = inputs.lm.contextLength;
  const { text: lm, labels } = dialogueBatchArrays(rows, L, inputs.lm.tokenizer.padId);
  const { channels: c, height: h, width: w } = data.train.images;
  const batch: Batch = {
    image: tf.tensor4d(scenePixels(data.train.images, rows.map((r) => r.scene)), [batchSize, c, h, w]),
    lm: tf.tensor2d(lm, [batchSize, L], 'int32'),
    labels: tf.tensor2d(labels, [batchSize, L], 'int32'),
    index,
    seed,
  };
  if (inputs.text) {
    const enc = inputs.text.tokenizer.encodeBatch(rows.map((r) => r.qformer), inputs.text.contextLength);
    batch.text = tf.tensor2d(enc.ids, enc.shape, 'int32');
  }
  return batch;
}

/**
 * The "blank image" variant of a batch, for the question-only baseline: every tensor cloned (so each batch disposes its
 * own), `image` zeros of the same shape; the other fields as they are.
 */
export function blankImageBatch(batch: Batch): Batch {
  const out: Batch = { ...batch };
  for (const k of ['text', 'lm', 'audio', 'depth', 'thermal', 'imu', 'video', 'labels', 'lossMask'] as const) {
    const t = batch[k];
    if (t) out[k] = tf.clone(t);
  }
  if (batch.image) out.image = tf.zerosLike(batch.image);
  return out;
}

/**
 * The texts a new tokenizer of a sceneInstructions run is trained on (kind bpe or word; a frozen LM's `lm` tokenizer
 * comes from its run instead): each training example as rendered in its layout, without start, end and image tokens.
 */
export function instructionTexts(data: InstructionData): string[] {
  return data.train.examples.map((ex) => chatText(instructionPieces(data.template, ex.turns), { bos: '', eos: '', image: '' }));
}

/** A held-out set of one task, ready for generation and scoring. */
export interface InstructionEvalSet {
  task: SceneTask;
  /** float32 pixels in [0, 1], [n, C, H, W] row-major (`imageShape`): the test scenes asked about */
  images: Float32Array;
  imageShape: [number, number, number];
  /** per example the `lm` prompt ids (one `IMAGE_TOKEN_INDEX`, ending where the answer starts), unpadded */
  prompts: Int32Array[];
  /** the Q-Former's instruction ids int32 [n, Lq] ([CLS] ... [SEP] right-padded), when a `text` tokenizer is given */
  text?: { ids: Int32Array; shape: [number, number] };
  /** the reference answers (the targets as trained: capitalised in the chat templates) */
  references: string[];
  /** the examples themselves (scene index into the test scenes, turns, Q-Former text) */
  examples: SceneInstruction[];
}

/**
 * The held-out set of `task` tokenized for generation: images of the test scenes, `lm` prompts with the image
 * placeholder, the Q-Former's text (when `text` is given) and the reference answers. Each prompt holds exactly one
 * `IMAGE_TOKEN_INDEX`.
 * @param blank zero every image (the question-only baseline)
 * @throws Error for a task without a held-out set (conversations), or as {@link instructionIds}
 */
export function instructionEvalSet(
  data: InstructionData, task: SceneTask, lm: TextTokenizer, text?: { tokenizer: TextTokenizer; contextLength: number }, blank = false,
): InstructionEvalSet {
  const examples = data.test.heldOut[task];
  if (!examples) throw new Error(`instructionEvalSet: no held-out set for task '${task}' (there are ${Object.keys(data.test.heldOut).join(', ')})`);
  const { channels: c, height: h, width: w } = data.test.images;
  const images = scenePixels(data.test.images, examples.map((e) => e.scene));
  if (blank) images.fill(0);
  const prompts = examples.map((e) => instructionIds(data.template, e, lm, true).ids);
  for (const p of prompts) {
    if (p.filter((id) => id === IMAGE_TOKEN_INDEX).length !== 1) throw new Error('instructionEvalSet: a prompt without exactly one image placeholder');
  }
  const enc = text?.tokenizer.encodeBatch(examples.map((e) => e.qformer), text.contextLength);
  return {
    task, images, imageShape: [c, h, w], prompts, references: examples.map((e) => e.turns[e.turns.length - 1].assistant), examples,
    ...(enc ? { text: { ids: enc.ids, shape: enc.shape } } : {}),
  };
}

/**
 * The `lm` ids of each candidate answer of `task` (data `answers`) as a training example continues the generation
 * prompt with it: the answer's text and the layout's end ("\n", the end token or `###`), exactly the ids that carry
 * labels in training, so that rank scoring sums the log-probabilities of what the model learned to write. They are
 * read off the task's first held-out example with its answer replaced; the layouts tokenize the answer apart from the
 * prompt, so they are the same after every prompt.
 * @returns the candidates (as written in the layout) and their ids, in the same order
 * @throws Error when the task has no answer list or no held-out example, or as {@link instructionIds}
 */
export function answerCandidateIds(data: InstructionData, task: SceneTask, lm: TextTokenizer): { answers: string[]; ids: number[][] } {
  const answers = data.answers[task];
  const carrier = data.test.heldOut[task]?.[0];
  if (!answers?.length || !carrier) throw new Error(`answerCandidateIds: task '${task}' has no answer list or no held-out example`);
  const prompt = instructionIds(data.template, carrier, lm, true).ids;
  const ids = answers.map((a) => {
    const turns = carrier.turns.map((t, i) => (i === carrier.turns.length - 1 ? { ...t, assistant: a } : t));
    const full = instructionIds(data.template, { ...carrier, turns }, lm);
    const after = Array.from(full.ids.subarray(prompt.length));
    if (prompt.some((id, i) => full.ids[i] !== id) || after.length !== full.answer.subarray(prompt.length).filter((f) => f === 1).length) {
      throw new Error(`answerCandidateIds: in layout '${data.template}' the answer '${a}' does not follow the generation prompt as its own labelled ids`);
    }
    return after;
  });
  return { answers, ids };
}
