import type { z } from 'zod';
import { tf, Tensor, Tensor2D } from '../tf';
import { matMul2d } from '../ops/matmul';
import type { Module } from '../nn/module';
import type { LossOutput, TrainableModel } from '../losses/objective';
import type { ItmScorer } from '../losses/itm';
import type { StageData, StageSelection } from '../config/stage-selection';
import type { TextTokenizer } from '../tokenizers/types';
import type { PrepareContext } from './prepare';
import type { CausalLM } from '../generate/causal-lm';
import type { CausalGenerateResult, EmbedsGenerateOptions } from '../generate/causal-generate';

/**
 * The modality keys of a batch (the run contract, docs/architecture.md "The run contract"): each names one input
 * tensor of a batch and the spec input it feeds. `image` float32 [B, C, H, W] in [0, 1]; `text` int32 [B, L] token
 * ids (a tokenized key has a tokenizer of the same name, `tokenizers.text`); the others are reserved for the models to
 * come (`lm`: token ids of a decoder-only language model's own tokenizer; `audio`, `depth`, `thermal`, `imu`,
 * `video`: ImageBind's modalities).
 */
export const BATCH_KEYS = ['image', 'text', 'lm', 'audio', 'depth', 'thermal', 'imu', 'video'] as const;

/** One of {@link BATCH_KEYS}. */
export type BatchKey = (typeof BATCH_KEYS)[number];

/**
 * The id that marks where a visual soft prompt goes in a language model's token ids (the `lm` key of a bridge
 * model's batch: BLIP-2, InstructBLIP, MiniGPT-4, LLaVA): the model replaces the one occurrence per row by its N image
 * or query embeddings, and the label at that position by N - 1 ignored labels followed by the original (LLaVA's
 * `IMAGE_TOKEN_INDEX`, -200, in llava/constants.py; negative, so it is never a real vocabulary id).
 */
export const IMAGE_TOKEN_INDEX = -200;

/**
 * A training batch: a record keyed by modality ({@link BatchKey}) plus optional supervision. What a dataset yields
 * and what a model's `trainingLoss` receives; which modality keys are present is declared on both sides (the
 * dataset's keys, the spec's {@link ModelSpec.inputs}) and a mismatch is refused when the config is loaded.
 */
export type Batch = { [K in BatchKey]?: Tensor } & {
  /**
   * int32 [B, L]: target ids for a language-model loss, aligned with the language model's ids (`lm` when the batch has
   * it, else `text`): `labels[:, t]` the target of position t (already shifted: the id after `ids[:, t]`), -100 where
   * not scored (absent: the model derives its targets from its inputs)
   */
  labels?: Tensor;
  /** float32 [B, L]: 1 where a position of `labels` counts in the loss, 0 where it is ignored (prompt, padding) */
  lossMask?: Tensor;
  /** per sample [B]: samples with equal ids show the same image (contrastive positives, never hard negatives) */
  imageIds?: Int32Array;
  /** the global micro-batch index and the run's data seed: models derive their own randomness (MLM masks,
   * hard-negative draws) from `new Rng(seed).fork(...index...)` so resumed runs repeat it exactly */
  index: number;
  seed: number;
};

/**
 * A batch of image-text pairs (the `image` and `text` keys of a {@link Batch}): what the harness feeds an image-text
 * model's training objective.
 */
export type ImageTextBatch = Batch & {
  /** float32 [B, C, H, W] in [0, 1] */
  image: Tensor;
  /** int32 [B, L] token ids of the `text` tokenizer */
  text: Tensor;
  /** image id of each pair [B] (same-image pairs share it) */
  imageIds: Int32Array;
};

/** The tensors of a batch (modality keys, `labels`, `lossMask`), e.g. to dispose of them after a step. */
export function batchTensors(batch: Batch): Tensor[] {
  const out: Tensor[] = [];
  for (const k of [...BATCH_KEYS, 'labels', 'lossMask'] as const) {
    const t = batch[k];
    if (t) out.push(t);
  }
  return out;
}

/**
 * A model with separate image and text embeddings (CLIP, the unimodal encoders of ALBEF / BLIP, VLMo and BEiT-3 in
 * dual mode, BLIP-2's Q-Former): what zero-shot classification and retrieval evaluate.
 */
export interface DualEncoder {
  /**
   * float32 [B, C, H, W] -> float32 [B, E] (normalised or not; evaluation normalises the last axis), or [B, ..., E]
   * for a model with its own {@link similarity} (BLIP-2: one embedding per query, [B, Nq, E])
   */
  encodeImage(images: Tensor): Tensor;
  /** int32 [M, L] -> float32 [M, E] */
  encodeText(ids: Tensor): Tensor;
  /**
   * the image-text scores of L2-normalised embeddings when they are not the cosine `image @ text^T` (BLIP-2, Li et
   * al. 2023 section 3.2: the highest query-text cosine): image [N, ..., E], text [M, E] -> float32 [N, M]
   */
  similarity?(imageEmbeddings: Tensor, textEmbeddings: Tensor): Tensor;
}

/**
 * The scores evaluation ranks by: the model's {@link DualEncoder.similarity}, else the cosine of normalised
 * embeddings `image @ text^T`.
 * @param image float32 [N, E] (or [N, ..., E] for a model with its own similarity) @param text float32 [M, E]
 * @returns float32 [N, M]
 */
export function dualEncoderScores(model: Pick<DualEncoder, 'similarity'>, image: Tensor, text: Tensor): Tensor {
  return model.similarity ? model.similarity(image, text) : tf.tidy(() => matMul2d(image as Tensor2D, text.transpose() as Tensor2D));
}

/** A model whose frozen image features a linear probe can classify (BEiT section 3.1 protocol). */
export interface ImageFeatureExtractor {
  /** float32 [B, C, H, W] in [0, 1] -> float32 [B, D] features (e.g. the final layer's class token) */
  imageFeatures(images: Tensor): Tensor;
}

/**
 * What the Node harness trains and evaluates: a module with a training objective on image-text batches (`stage`:
 * stagewise runs, the objectives and data of the running stage) that embeds images and texts as a dual encoder.
 */
export type ImageTextModel = Module & TrainableModel & DualEncoder & {
  trainingLoss(batch: ImageTextBatch, stage?: StageSelection): LossOutput;
};

/**
 * What the harness trains: a module with a training objective on the batches its dataset yields (`stage`: stagewise
 * runs, the objectives and data of the running stage). {@link ImageTextModel}s are ones; so is a decoder-only LM
 * trained on `text` + `labels` batches. The batch is typed `Partial<Batch>` so that each model's own signature can
 * name the keys it reads (`Pick<ImageTextBatch, 'image' | 'text'>`); the run contract guarantees they are present.
 */
export type TrainingModel = Module & TrainableModel & {
  trainingLoss(batch: Partial<Batch>, stage?: StageSelection): LossOutput;
};

/**
 * Options of {@link ImagePromptedLM.generateFromImages}: any generation setting overrides the model's own, and
 * `startIds` (ids counted by the repetition penalty and returned first, never fed: MiniGPT-4's [bos] under
 * transformers 4.30) as generateFromEmbeds takes them.
 */
export interface ImagePromptOptions extends Partial<EmbedsGenerateOptions> {
  /** int32 [B, Lq]: the instructions in the Q-Former's tokenizer, for a model that {@link ImagePromptedLM.readsInstruction} */
  text?: Tensor;
}

/**
 * A model that continues a language model's prompts about images: the vision-to-LM bridges (BLIP-2 with an LM,
 * InstructBLIP, MiniGPT-4; LLaVA), whose prompts hold one {@link IMAGE_TOKEN_INDEX} where the image goes. What the
 * `sceneVqa` evaluation and `mmzoo generate --image` drive.
 */
export interface ImagePromptedLM {
  /** the language model inside (the question-only baseline runs it without the image) */
  readonly lm: CausalLM;
  /** whether generation needs the instruction in the Q-Former's own tokenizer (`ImagePromptOptions.text`) */
  readonly readsInstruction: boolean;
  /** the LM positions an image takes in place of its one placeholder (a Q-Former's queries; LLaVA's patches) */
  readonly imageTokens: number;
  /**
   * whether the LM reads a prompt as a prefix LM's prefix (bidirectionally; CausalLmForwardOptions `prefixLength`:
   * VisualGLM's GLM), so that the question-only baseline reads its prompts so too; absent: causal
   */
  readonly prefixLm?: boolean;
  /**
   * @param images float32 [B, C, H, W]
   * @param prompts B rows of LM ids, each with one IMAGE_TOKEN_INDEX, ending where the answer starts
   * @param opts generation settings over the model's own (its config's answer decoding)
   */
  generateFromImages(images: Tensor, prompts: number[][], opts?: ImagePromptOptions): CausalGenerateResult;
  /**
   * Ranks candidate answers (LAVIS InstructBLIP `predict_class`, BLIP's VQA `rank_answers`): the LM's log-probability
   * of each candidate's ids after each prompt with its image, log p(candidate | image, prompt), summed over the
   * candidate's ids in float32.
   * @param images float32 [B, C, H, W]
   * @param prompts B rows of LM ids, each with one IMAGE_TOKEN_INDEX, ending where the answer starts
   * @param candidates K non-empty rows of LM ids (an answer with its end, as trained), shared by every prompt
   * @param opts `text`: the instructions, for a model that {@link readsInstruction}
   * @returns B rows of K natural-log probabilities
   * @throws Error when the counts disagree, a prompt has no placeholder or several, a candidate is empty, or a prompt
   *   with a candidate does not fit the LM's context
   */
  scoreAnswers(images: Tensor, prompts: number[][], candidates: number[][], opts?: Pick<ImagePromptOptions, 'text'>): number[][];
}

/**
 * The new tokens the LM's context leaves after prompts of these lengths about images: its `maxSeqLen` less the
 * longest prompt with its placeholder grown to the image's `imageTokens` positions (0 or less: no room).
 * @param promptLengths each prompt's id count, its one IMAGE_TOKEN_INDEX included
 */
export function imagePromptRoom(model: ImagePromptedLM, promptLengths: readonly number[]): number {
  return model.lm.maxSeqLen - (Math.max(...promptLengths) - 1 + model.imageTokens);
}

/** True when `model` implements {@link ImagePromptedLM}. */
export function isImagePromptedLM(model: object): model is ImagePromptedLM {
  return 'generateFromImages' in model && typeof model.generateFromImages === 'function' && 'scoreAnswers' in model && 'lm' in model && 'readsInstruction' in model;
}

/** True when `model` implements {@link DualEncoder} (zero-shot classification, retrieval). */
export function isDualEncoder(model: object): model is DualEncoder {
  return 'encodeImage' in model && typeof model.encodeImage === 'function' && 'encodeText' in model && typeof model.encodeText === 'function';
}

/** True when `model` implements {@link ItmScorer} (an image-text matching head: ITM re-ranking and accuracy). */
export function isItmScorer(model: object): model is ItmScorer {
  return 'itmImageFeatures' in model && typeof model.itmImageFeatures === 'function'
    && 'itmTextFeatures' in model && typeof model.itmTextFeatures === 'function'
    && 'itmScore' in model && typeof model.itmScore === 'function';
}

/** True when `model` implements {@link ImageFeatureExtractor} (linear probe). */
export function isImageFeatureExtractor(model: object): model is ImageFeatureExtractor {
  return 'imageFeatures' in model && typeof model.imageFeatures === 'function';
}

/**
 * The options of each evaluation task a spec may request (the harness's `EVAL_TASKS` implement them):
 * - `zeroShot`: Fashion-MNIST class prompts against the test split (`eval.zeroShot`); needs a {@link DualEncoder}.
 * - `retrieval`: image-text recall@1/5/10 on the fixed gallery (`eval.retrievalGallery`); a {@link DualEncoder}.
 * - `itm`: ITC top-`k` re-ranked by the ITM head (`addItc`: by ITM + ITC, BLIP's evaluation) and ITM accuracy against
 *   hard negatives; needs an {@link ItmScorer}.
 * - `captioning`: BLEU / CIDEr-D of captions of `images` test scenes beside the constant-caption baselines; needs the
 *   spec's `caption`.
 * - `linearProbe`: logistic regression on the frozen features of `trainImages` training images, top-1 on the test
 *   split (Fashion-MNIST only); needs an {@link ImageFeatureExtractor}.
 * - `perplexity`: held-out perplexity of a causal language model over the text corpus's held-out documents, beside
 *   interpolated Kneser-Ney bigram and trigram models fitted on the training tokens and chance (the vocabulary
 *   size); needs a `CausalLM` (issue 16, "Done when").
 * - `sceneVqa`: a model that answers prompts about images ({@link ImagePromptedLM}) on the fixed held-out sets of
 *   `data.dataset: sceneInstructions`: answers ranked among the task's candidates (ImagePromptedLM.scoreAnswers) and
 *   generated, scored by exact match after VQA normalisation, per task and over the held-in and held-out question
 *   tasks, beside the majority answer and the model's own LM given the prompt without the image; captions and
 *   descriptions by BLEU-4 / CIDEr (issue 17, "Evaluation tasks").
 * - `chat`: a chat LM on the fixed held-out questions of `data.dataset: dialogue`: yes/no accuracy by comparing the
 *   log-probabilities of the answers ` Yes` and ` No` after the prompt, beside the training set's majority answer and
 *   chance, and the exact match of greedy short answers; needs a `CausalLM` (issue 16, "A chat LM").
 */
export interface EvalTaskOptions {
  zeroShot: Record<string, never>;
  retrieval: Record<string, never>;
  itm: { k: number; addItc?: boolean };
  captioning: { images: number };
  linearProbe: { trainImages: number };
  perplexity: Record<string, never>;
  chat: Record<string, never>;
  sceneVqa: Record<string, never>;
}

/** The name of an evaluation task: `zeroShot`, `retrieval`, `itm`, `captioning`, `linearProbe`, `perplexity`, `chat` or `sceneVqa`. */
export type EvalTaskName = keyof EvalTaskOptions;

/** Every evaluation task name (a spec's `evalTasks` decides which run, and in which order). */
export const EVAL_TASK_NAMES: readonly EvalTaskName[] = ['zeroShot', 'retrieval', 'itm', 'captioning', 'linearProbe', 'perplexity', 'chat', 'sceneVqa'];

/**
 * The metric columns each task writes into results.json `metrics` (top-level keys; a task leaves out what the data
 * cannot give, never writes a key not listed here).
 */
export const EVAL_TASK_COLUMNS: { readonly [T in EvalTaskName]: readonly string[] } = {
  zeroShot: ['zeroShotTop1', 'zeroShotTop5'],
  retrieval: ['retrieval'],
  itm: ['retrievalItmRerank', 'itmAccuracy', 'itmAccuracyDetail'],
  captioning: [
    'bleu1', 'bleu2', 'bleu3', 'bleu4', 'cider', 'bleu4ConstantBaseline', 'ciderConstantBaseline', 'constantCaptions',
    'captionedImages', 'examples',
  ],
  linearProbe: ['linearProbeTop1'],
  perplexity: ['perplexity', 'knBigramPerplexity', 'knTrigramPerplexity', 'chancePerplexity', 'perplexityTokens'],
  chat: [
    'yesNoAccuracy', 'yesNoMajorityAccuracy', 'yesNoChanceAccuracy', 'yesNoYesRatio', 'yesNoQuestions', 'yesNoSceneAccuracy',
    'yesNoDefinitionAccuracy', 'shortAnswerExactMatch', 'shortAnswerMajorityExactMatch', 'shortAnswerQuestions',
  ],
  sceneVqa: [
    'vqaAccuracy', 'vqaMajorityAccuracy', 'vqaQuestionOnlyAccuracy', 'vqaGeneratedAccuracy', 'heldOutAccuracy', 'heldOutMajorityAccuracy',
    'heldOutQuestionOnlyAccuracy', 'heldOutGeneratedAccuracy', 'yesNoVqaAccuracy', 'captionBleu4', 'captionCider', 'descriptionBleu4',
    'descriptionCider', 'vqaByTask', 'vqaExamples',
  ],
};

/**
 * One evaluation a model asks for: the task, its options and the metric columns it writes into results.json.
 * `EvalTaskRequest<'itm'>` is the request of one task; plain `EvalTaskRequest` any of them.
 */
export type EvalTaskRequest<T extends EvalTaskName = EvalTaskName> = {
  [K in T]: { task: K; options: EvalTaskOptions[K]; columns: readonly string[] };
}[T];

/** A request for `task` with `options` and the task's columns ({@link EVAL_TASK_COLUMNS}). */
export function evalTask<T extends EvalTaskName>(task: T, options: EvalTaskOptions[T]): { task: T; options: EvalTaskOptions[T]; columns: readonly string[] } {
  return { task, options, columns: EVAL_TASK_COLUMNS[task] };
}

/** A tokenized input: int32 [B, contextLength] ids of the tokenizer of the same key. */
export interface TokenInput {
  contextLength: number;
}

/**
 * The batch keys a model needs ({@link BatchKey}), with their shapes: `image` [channels, height, width]; tokenized
 * keys (`text`, `lm`) their context length. A tokenized key needs a tokenizer of the same name in the run.
 */
export interface ModelInputs {
  /** images float32 [B, channels, height, width]: the shape [channels, height, width] */
  image?: [number, number, number];
  /** token ids int32 [B, contextLength] of the `text` tokenizer */
  text?: TokenInput;
  /** token ids int32 [B, contextLength] of the `lm` tokenizer (a language model's own vocabulary) */
  lm?: TokenInput;
}

/** The batch keys `inputs` names, in {@link BATCH_KEYS} order. */
export function inputKeys(inputs: ModelInputs): BatchKey[] {
  return BATCH_KEYS.filter((k) => (inputs as Partial<Record<BatchKey, unknown>>)[k] !== undefined);
}

/** The tokenized batch keys of `inputs` (each needs a tokenizer of that name), in {@link BATCH_KEYS} order. */
export function tokenInputKeys(inputs: ModelInputs): ('text' | 'lm')[] {
  return (['text', 'lm'] as const).filter((k) => inputs[k] !== undefined);
}

/** What a tokenizer tells a builder: the sizes and ids its embedding tables and pooling need. */
export interface TokenizerFacts {
  vocabSize: number;
  /** end-of-text id (undefined: the tokenizer adds none) */
  eotId?: number;
  padId: number;
}

/**
 * What the run's tokenizers give a builder when the config leaves it out: `vocabSize`, `eotId` and `padId` are those
 * of the `text` tokenizer (the one most models have); `tokenizers` has every tokenizer of the run by key.
 */
export interface BuildParts {
  vocabSize?: number;
  /** end-of-text id */
  eotId?: number;
  padId?: number;
  /** each tokenizer of the run by its key (`text`, `lm`) */
  tokenizers?: Partial<Record<'text' | 'lm', TokenizerFacts>>;
}

/**
 * A model, as the harness and the CLI see it: one object per model package (e.g. `clipSpec` of @mmzoo/clip). The
 * CLI's `{ name: spec }` map is the model registry; nothing outside a model package knows a model by name.
 * @typeParam C the validated `model:` config
 * @typeParam M the built model
 */
export interface ModelSpec<C = unknown, M extends Module = Module> {
  /** `model.name` in configs, e.g. `clip` */
  readonly name: string;
  /** one line: the model, the paper and its year, what it trains (`mmzoo --help` lists the models by it) */
  readonly describe: string;
  /** zod schema of the `model:` section (strict; the defaults live here) */
  readonly schema: z.ZodType<C>;
  /** the batch keys a model built from `cfg` needs */
  inputs(cfg: C): ModelInputs;
  /** builds a model from a validated config; `parts` fills what the config leaves to the tokenizer */
  build(cfg: C, parts: BuildParts): M;
  /**
   * Every objective a model built from `cfg` trains, with the data kinds each accepts (e.g. CLIP `{ itc: ['pairs'] }`;
   * VLMo `{ itc: ['pairs'], itm: ['pairs'], mlm: ['texts', 'pairs'], mim: ['images', 'pairs'] }`).
   */
  objectives(cfg: C): Record<string, readonly StageData[]>;
  /** whether a `stages:` list may select among {@link objectives} (stagewise training, VLMo section 3.3) */
  readonly stagewise: boolean;
  /** the evaluations of a model built from `cfg`, in the order their metrics go into results.json */
  evalTasks(cfg: C): EvalTaskRequest[];
  /**
   * How its weights are named: for each component (tower, head, ...) a predicate on trainable parameter names. Every
   * trainable parameter of a built model belongs to exactly one component (parameter counts per component).
   */
  components(cfg: C): Record<string, (paramName: string) => boolean>;
  /** paper-size preset configs, paths from the repository root (e.g. `configs/clip/vit-b-32.yaml`) */
  readonly presets: readonly string[];
  /**
   * Runs once before training starts from scratch (not on resume, whose checkpoint restores what it made), e.g.
   * BEiT-3 fits its k-means visual tokenizer on training images.
   */
  prepare?(model: M, ctx: PrepareContext): void | Promise<void>;
  /**
   * Captions float32 [B, C, H, W] images in [0, 1] with the model's text decoder and the config's decoding settings
   * (`mmzoo caption`, the `captioning` task); models without a decoder leave it out.
   */
  caption?(model: M, images: Tensor, tokenizer: TextTokenizer, cfg: C): string[];
}

/**
 * Trainable parameter count per component of a built model ({@link ModelSpec.components}), in the components' order.
 * @param components from `spec.components(cfg)`
 * @param only counts just the trainable parameters it accepts (e.g. the frozen ones); default all
 */
export function componentCounts(model: Module, components: Record<string, (paramName: string) => boolean>, only: (paramName: string) => boolean = () => true): Record<string, number> {
  const params = [...model.trainableParameters()].filter(([name]) => only(name));
  const out: Record<string, number> = {};
  for (const [component, owns] of Object.entries(components)) {
    out[component] = params.reduce((n, [name, v]) => (owns(name) ? n + v.size : n), 0);
  }
  return out;
}
