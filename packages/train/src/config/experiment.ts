import { z } from 'zod';
import { BACKEND_NAMES } from '../backend';
import { StagesSchema, totalStageSteps } from './stages';
import { TokenizerConfigSchema, TokenizersSchema } from '../tokenizers/config';
import { FrozenSchema, InitSchema } from './init';
import { INSTRUCTION_TEMPLATE_NAMES } from '../data/instruction-templates';

/**
 * Text encodings accepted by `data.encoding` for caption files (csv, coco json, jsonl): names Node's TextDecoder
 * supports (WHATWG Encoding Standard labels; `latin1` and `iso-8859-1` decode as windows-1252 there).
 */
export const CAPTION_ENCODINGS = [
  'utf-8', 'utf-16le', 'utf-16be', 'latin1', 'iso-8859-1', 'windows-1252', 'iso-8859-2', 'iso-8859-15', 'windows-1251',
  'koi8-r', 'shift_jis', 'euc-jp', 'euc-kr', 'gbk', 'gb18030', 'big5',
] as const;
/** One of {@link CAPTION_ENCODINGS}. */
export type CaptionEncoding = (typeof CAPTION_ENCODINGS)[number];

/**
 * The `data.text:` options of `dataset: text` (data/text-batches.ts). `trainLimit` limits the training documents.
 */
export const TextDataSchema = z
  .object({
    /** the Brown corpus files */
    brown: z.boolean().default(true),
    /** the WordNet glosses */
    wordnet: z.boolean().default(true),
    /** add the training captions of the fmnist data (items and `scenes.train` scenes) to the training documents */
    captions: z.boolean().default(false),
    /**
     * true: the training documents, each followed by `<|endoftext|>`, as one stream cut into windows of
     * contextLength + 1 ids (GPT-2's packing); false: each document `<|endoftext|> ids <|endoftext|>` cut on its own,
     * its last window padded
     */
    pack: z.boolean().default(true),
    /** score only the first this many held-out documents (corpus order: Brown, then WordNet; default all, the issue's measure): for quick runs */
    heldOutLimit: z.number().int().positive().optional(),
  })
  .strict();

/** The validated `data.text:` options. */
export type TextDataConfig = z.infer<typeof TextDataSchema>;

/**
 * The `data.dialogue:` options of `dataset: dialogue` (data/dialogue-batches.ts, data/dialogues.ts): the chat template
 * (data/chat-templates.ts), how many training dialogues and of which kinds, and the sizes of the fixed held-out set.
 */
export const DialogueDataSchema = z
  .object({
    /** `llava_v1` (LLaVA's v1 conversation), `minigpt4` (`###Human: ... ###Assistant: ...###`), or `mix` (alternately) */
    template: z.enum(['llava_v1', 'minigpt4', 'mix']).default('llava_v1'),
    /** training dialogues drawn (those longer than the context are dropped) */
    train: z.number().int().positive().default(20000),
    /** relative weights of the kinds of training dialogue */
    mix: z
      .object({
        scene: z.number().nonnegative().default(1),
        definition: z.number().nonnegative().default(1),
        shortAnswer: z.number().nonnegative().default(1),
        yesNo: z.number().nonnegative().default(1),
      })
      .strict()
      .default({ scene: 1, definition: 1, shortAnswer: 1, yesNo: 1 }),
    /** the fraction of training yes/no questions about a definition (the rest are about a scene) */
    glossYesNo: z.number().min(0).max(1).default(0.25),
    /** held-out yes/no questions scored by the `chat` task (fixed; 3/4 about scenes, half answered Yes) */
    heldOutYesNo: z.number().int().positive().default(400),
    /** held-out short-answer scene questions answered greedily by the `chat` task (exact match; 0: none) */
    heldOutShortAnswers: z.number().int().nonnegative().default(100),
  })
  .strict();

/**
 * The `data.instructions:` options of `dataset: sceneInstructions` (data/scene-instructions.ts,
 * data/instruction-batches.ts): the layout of one bridge system, the training examples and their task mix, and the
 * held-out sets. The scenes and wordings are seeded by `data.seed` (default `train.seed`); the held-out sets by a fixed
 * seed.
 */
export const InstructionsDataSchema = z
  .object({
    /**
     * how an example is laid out for the language model (data/instruction-templates.ts): `blip2_opt` ([image] "Question:
     * {} Answer:" / "a photo of"), `instructblip` ([image] InstructBLIP's instruction templates), `minigpt4`
     * (`###Human: <Img><ImageHere></Img> {} ###Assistant: {}###`), `llava_v1` (LLaVA's v1 conversation), `visualglm`
     * (`<img>` [image] `</img>Q: {}\nA: {}` + the end token)
     */
    template: z.enum(INSTRUCTION_TEMPLATE_NAMES).default('instructblip'),
    /** training examples drawn (those longer than the `lm` context are dropped) */
    train: z.number().int().positive().default(20000),
    /** training scenes rendered from the training images (the examples' images) */
    scenes: z.number().int().positive().default(4000),
    /** scene grid, rows = columns (2: 2-4 items on a 56x56 canvas) */
    grid: z.number().int().min(2).max(4).default(2),
    /**
     * which tasks train: `heldIn` (InstructBLIP's instruction tuning: captions, descriptions, conversations, cell,
     * location and existence questions) or `all` (adds the held-out counting, neighbour and relation questions, e.g.
     * BLIP-2's VQA fine-tuning); held-out tasks are always evaluated
     */
    tasks: z.enum(['heldIn', 'all']).default('heldIn'),
    /**
     * relative weights of the tasks among those `tasks` selects (conversations only in the multi-turn templates
     * minigpt4 and llava_v1; a single-turn template leaves them out)
     */
    mix: z
      .object({
        caption: z.number().nonnegative().default(1),
        description: z.number().nonnegative().default(1),
        conversation: z.number().nonnegative().default(1),
        cell: z.number().nonnegative().default(1),
        location: z.number().nonnegative().default(1),
        exists: z.number().nonnegative().default(1),
        count: z.number().nonnegative().default(1),
        neighbour: z.number().nonnegative().default(1),
        relation: z.number().nonnegative().default(1),
      })
      .strict()
      .default({ caption: 1, description: 1, conversation: 1, cell: 1, location: 1, exists: 1, count: 1, neighbour: 1, relation: 1 }),
    /** test scenes the held-out sets are drawn from (rendered from the test images) */
    testScenes: z.number().int().positive().default(1000),
    /** held-out examples per task (fixed seed; yes/no ones half yes) */
    heldOutPerTask: z.number().int().positive().default(200),
    /**
     * every image, in training and in evaluation, all zeros: the question-only baseline of issue 17 (the same system
     * trained and evaluated without seeing the scenes)
     */
    blankImages: z.boolean().default(false),
  })
  .strict();

/** The validated `data.instructions:` options. */
export type InstructionsDataConfig = z.infer<typeof InstructionsDataSchema>;

/**
 * The `data:` section: which images and captions to train and evaluate on (DESIGN.md, "Data").
 * - `fmnist`: Fashion-MNIST from `root` (default: the embedded subset under data/fashion-mnist), each
 *   training image captioned from templates and synonyms, plus `scenes.train` compositional scenes.
 * - `csv` | `coco` | `jsonl`: user image-caption files (`train`, optional `test`) decoded and resized to the
 *   model's image size.
 * - `text`: the text corpus (data/text-corpus.ts: Brown files and WordNet glosses with their fixed held-out 10%,
 *   optionally the scene captions), for language models; options under `text:` (`TextDataSchema`).
 * - `dialogue`: text dialogues in a chat template, answers only supervised (instruction-tuning a chat LM); options
 *   under `dialogue:` (`DialogueDataSchema`, filled in with its defaults for this dataset).
 * - `sceneInstructions`: image-conditioned tasks about Fashion-MNIST scenes in a bridge system's layout (BLIP-2,
 *   InstructBLIP, MiniGPT-4, LLaVA), answers only supervised; options under `instructions:` (`InstructionsDataSchema`).
 */
export const DataSchema = z
  .object({
    dataset: z.enum(['fmnist', 'csv', 'coco', 'jsonl', 'text', 'dialogue', 'sceneInstructions']).default('fmnist'),
    /** `dataset: text` only: which sources, and how documents become training windows */
    text: TextDataSchema.optional(),
    /** `dataset: dialogue` only: the template, the training dialogues and the held-out set */
    dialogue: DialogueDataSchema.optional(),
    /** `dataset: sceneInstructions` only: the layout, the task mix, the training examples and the held-out sets */
    instructions: InstructionsDataSchema.optional(),
    /** Fashion-MNIST folder with the IDX .gz files; the full set is /usr/share/datasets/fashion-mnist */
    root: z.string().optional(),
    /** include single Fashion-MNIST items with template captions (false: scenes only) */
    items: z.boolean().default(true),
    /** use at most this many training images (default: all) */
    trainLimit: z.number().int().positive().optional(),
    /** compositional scenes (issue 3): how many to mix into training, grid size of the canvas */
    scenes: z
      .object({
        train: z.number().int().nonnegative().default(0),
        grid: z.number().int().min(2).max(4).default(2),
        /**
         * how scene captions are worded (data/scenes `SceneCaptionStyle`), for training, the retrieval gallery,
         * ITM negatives and caption references alike: `varied` (templates, synonyms, relations; the default) or
         * `layout` (every occupied cell in reading order, "top left: a sneaker, top right: a bag.", one fixed
         * wording per scene, varied only in synonyms): use `layout` where BLEU / CIDEr are to measure the
         * captions (eval/caption-eval `evaluateCaptioning` gives the numbers)
         */
        captionStyle: z.enum(['varied', 'layout']).default('varied'),
        /**
         * swapped twins (data/scenes `buildScenes` option `twins`): the fraction of training layouts (true = 1,
         * false = 0) followed by the same items with two positions exchanged (re-rendered, own captions, own
         * image id; `train` counts twins too), kept next to their layout in batches, so that ITM's hard
         * negatives (sampled by ITC similarity, ALBEF section 3.2) are often the twin: a negative that only
         * spatial grounding rejects
         */
        twins: z.union([z.boolean(), z.number().min(0).max(1)]).default(0).transform((v) => (v === true ? 1 : v === false ? 0 : v)),
      })
      .strict()
      .default({ train: 0, grid: 2, captionStyle: 'varied', twins: 0 }),
    /** user caption files (csv/coco/jsonl) */
    train: z.string().optional(),
    test: z.string().optional(),
    /**
     * text encoding of the caption files ({@link CAPTION_ENCODINGS}: WHATWG names as Node's TextDecoder
     * reads them, `latin1` being windows-1252). Left out: UTF-8, where an invalid byte is an error naming the file
     * and line, never a silent U+FFFD. Not filled in by default, so configs without it keep their hash.
     */
    encoding: z.enum(CAPTION_ENCODINGS).optional(),
    /** seed of the caption and scene generators (default: train.seed) */
    seed: z.number().int().optional(),
  })
  .strict();

/** The `train:` section: optimisation (AdamW, warmup + cosine; Loshchilov & Hutter 2019). */
export const TrainSchema = z
  .object({
    seed: z.number().int().default(0),
    batchSize: z.number().int().min(2).default(128),
    /** optimizer steps; one step sees batchSize * accumSteps samples */
    steps: z.number().int().positive(),
    /** micro-batches whose gradients are averaged before each optimizer step */
    accumSteps: z.number().int().positive().default(1),
    lr: z.number().positive(),
    /** decoupled weight decay; none on biases, norms, embeddings and the logit scale */
    weightDecay: z.number().nonnegative().default(0.2),
    /** Adam betas and eps (CLIP paper section 2.5: 0.9, 0.98, 1e-6) */
    betas: z.tuple([z.number().min(0).max(1), z.number().min(0).max(1)]).default([0.9, 0.98]),
    eps: z.number().positive().default(1e-6),
    /** linear warmup steps, then cosine decay to minLr */
    warmupSteps: z.number().int().nonnegative().default(0),
    minLr: z.number().nonnegative().default(0),
    /** clip the global gradient norm to this (none when omitted) */
    gradClipNorm: z.number().positive().optional(),
    /** checkpoint every N optimizer steps (and always at the end) */
    checkpointEvery: z.number().int().positive().default(500),
    /** log every N steps */
    logEvery: z.number().int().positive().default(20),
  })
  .strict();

/** The `eval:` section. */
export const EvalSchema = z
  .object({
    /** zero-shot classification on the whole Fashion-MNIST test split with class-prompt ensembling */
    zeroShot: z.boolean().default(true),
    /** image-text retrieval on a fixed gallery of test scenes with one caption each (0 disables) */
    retrievalGallery: z.number().int().nonnegative().default(1000),
    /** evaluate every N steps during training for the metric curves (0: only at the end) */
    every: z.number().int().nonnegative().default(0),
    batchSize: z.number().int().positive().default(500),
  })
  .strict();

/** The `runtime:` section. */
export const RuntimeSchema = z
  .object({
    /** tfjs backend (DESIGN.md); default: the first available of tensorflow > native > wasm > cpu */
    backend: z.enum(BACKEND_NAMES).optional(),
  })
  .strict();

/**
 * The `reference:` section of a paper-size preset: the published parameter count it is checked against by
 * `mmzoo info --all`, and where that figure comes from.
 */
export const ReferenceSchema = z
  .object({
    /** the published number of parameters */
    params: z.number().int().positive(),
    /** citation of the figure (paper table, README) */
    source: z.string(),
    /** what the published figure counts, when it differs from mmzoo's count */
    note: z.string().optional(),
  })
  .strict();

/**
 * A whole experiment file: `model` (validated by the model registry's schema for `model.name`), `data`, `train`,
 * `eval`, `runtime`, and optional `reference`, `stages`, `init`, `frozen`. Unknown sections are errors.
 */
export const ExperimentSchema = z
  .object({
    model: z.object({ name: z.string() }).passthrough(),
    data: DataSchema.default(DataSchema.parse({})),
    train: TrainSchema,
    eval: EvalSchema.default(EvalSchema.parse({})),
    runtime: RuntimeSchema.default({}),
    reference: ReferenceSchema.optional(),
    /**
     * the run's tokenizers by tokenized batch key (`text`, `lm`; tokenizers/config.ts); left out: a word tokenizer
     * built from the training captions for `text`
     */
    tokenizers: TokenizersSchema.optional(),
    /** shorthand for `tokenizers: {text: ...}` (a model with one tokenizer) */
    tokenizer: TokenizerConfigSchema.optional(),
    /** stagewise training (config/stages.ts): stages run in order; train.steps is their total */
    stages: StagesSchema.optional(),
    /** weights from elsewhere for the whole model or named components (config/init.ts), on a fresh run */
    init: InitSchema.optional(),
    /** component paths with no gradient and no optimizer state (config/init.ts) */
    frozen: FrozenSchema.optional(),
  })
  .strict()
  .refine((e) => !(e.tokenizer && e.tokenizers), {
    message: 'give either tokenizer: (the text tokenizer) or tokenizers: (one per input), not both', path: ['tokenizer'],
  })
  .superRefine((e, ctx) => {
    // a tokenizer of kind init names an init: entry whose source keeps tokenizers (a run, checkpoint or config)
    const given = e.tokenizers ?? (e.tokenizer ? { text: e.tokenizer } : {});
    for (const [key, t] of Object.entries(given)) {
      if (t?.kind !== 'init') continue;
      const path = e.tokenizers ? ['tokenizers', key, 'entry'] : ['tokenizer', 'entry'];
      const source = e.init?.[t.entry];
      if (!source) ctx.addIssue({ code: 'custom', path, message: `kind init takes the tokenizer of init.${t.entry}'s run, and init: has no entry '${t.entry}'` });
      else if (source.safetensors !== undefined) ctx.addIssue({ code: 'custom', path, message: `init.${t.entry} is a safetensors file, which holds no tokenizer; name a run, checkpoint or config there` });
    }
  })
  .refine((e) => !e.stages || e.train.steps === totalStageSteps(e.stages), {
    message: "with stages, train.steps must equal the sum of the stages' steps (leave it out to have it filled in)", path: ['train', 'steps'],
  });

export type DataConfig = z.infer<typeof DataSchema>;
/** The validated `data.dialogue:` options. */
export type DialogueDataConfig = z.infer<typeof DialogueDataSchema>;
export type TrainConfig = z.infer<typeof TrainSchema>;
export type EvalConfig = z.infer<typeof EvalSchema>;
export type RuntimeConfig = z.infer<typeof RuntimeSchema>;
/** A validated experiment whose `model` is the registry's validated model config `M`. */
export type Experiment<M = { name: string }> = Omit<z.infer<typeof ExperimentSchema>, 'model'> & { model: M };
