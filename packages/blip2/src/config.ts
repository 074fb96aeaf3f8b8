import { z } from 'zod';
import { CaptionDecodingSchema, VitConfigSchema, headsDivideWidth, textTowerShape } from '@mmzoo/core';
import { LmConfigSchema } from '@mmzoo/lm';

const namesBlock = (v: { layers: number; featureLayer: number }) => v.featureLayer >= -v.layers && v.featureLayer < v.layers;

/**
 * The `model.vision` section: the frozen image encoder (Li et al. 2023, section 3.3), a ViT as core's timm-style
 * section (patch projection with bias, no `ln_pre`, exact GELU) plus what BLIP-2 changes: the output of the
 * second-to-last block (`featureLayer: -2`), no final LayerNorm (`finalNorm: false`), and EVA's q/v-only attention
 * biases (`attnBias: qv`). torchmultimodal's BLIP-2 ViT (the golden) uses the last block, keeps its final LayerNorm
 * and has a full qkv bias: `featureLayer: -1`, `finalNorm: true`, `attnBias: qkv`.
 */
export const Blip2VisionSchema = z.strictObject({
  ...VitConfigSchema.shape,
  /** the block whose output is used: -1 last, -2 second-to-last (section 3.3), k >= 0 block k; only blocks up to it are built */
  featureLayer: z.number().int().default(-2),
  /** LayerNorm on the ViT's output tokens (`ln_post`); EVA as LAVIS builds it has none */
  finalNorm: z.boolean().default(false),
  /** attention projection biases: `qv` (EVA: `q_bias`, `v_bias`) or `qkv` (a fused bias of all three) */
  attnBias: z.enum(['qv', 'qkv']).default('qv'),
}).refine(namesBlock, { message: 'featureLayer names no block of the ViT (valid: -layers..layers-1)', path: ['featureLayer'] });

/** The keys of a Q-Former section that every model on it shares (stage 1 and the stage-2 bridges). */
const qformerShape = {
  // contextLength (text tokens per caption; LAVIS max_txt_len: 32), vocabSize (default: the tokenizer's), sizes
  ...textTowerShape(),
  width: z.number().int().positive().default(768),
  layers: z.number().int().positive().default(12),
  numHeads: z.number().int().positive().default(12),
  /** position-table rows (bert-base: 512); default contextLength */
  maxPositions: z.number().int().positive().optional(),
  /** learned query tokens (section 3.1: 32) */
  numQueries: z.number().int().positive().default(32),
  /** cross-attention in layers i % crossAttentionFreq == 0 (section 3.1: every other block) */
  crossAttentionFreq: z.number().int().positive().default(2),
  /** LayerNorm epsilon (BERT: 1e-12) */
  lnEps: z.number().positive().default(1e-12),
  /** init std of weights, tables and queries (BERT initializer_range: 0.02) */
  initStd: z.number().positive().default(0.02),
  /** additive constant of masked keys (LAVIS Qformer.py: (1 - m) * -10000) */
  maskValue: z.number().default(-10000),
  /** [PAD] id; default: the tokenizer's */
  padId: z.number().int().nonnegative().optional(),
};

/**
 * The `model.qformer` section: the Q-Former (section 3.1), a BERT-base (LAVIS initialises it from bert-base-uncased)
 * with learned queries and cross-attention every `crossAttentionFreq` layers. Its text side is the run's `text` input
 * (a BERT-style tokenizer: [CLS] words [SEP] [PAD]...).
 */
export const Blip2QformerSchema = z
  .strictObject({
    ...qformerShape,
    /**
     * the decoder's first token, which replaces [CLS] for ITG (section 3.2; LAVIS adds `bos_token: [DEC]` to BERT's
     * tokenizer); when omitted it is appended after the vocabulary (id V, the table then has V + 1 rows)
     */
    bosId: z.number().int().nonnegative().optional(),
    /** the ITG head's decoder weight: tied to the word embeddings (LAVIS) or its own (torchmultimodal) */
    lmHead: z.enum(['tied', 'untied']).default('tied'),
  })
  .refine(...headsDivideWidth)
  .refine((q) => (q.maxPositions ?? q.contextLength) >= q.contextLength, { message: 'maxPositions must be at least contextLength', path: ['maxPositions'] });

/**
 * The `model.qformer` section of a stage-2 bridge (BLIP-2 with a frozen LM, InstructBLIP, MiniGPT-4): the Q-Former of
 * {@link Blip2QformerSchema} without the ITG head, which LAVIS's Blip2OPT and MiniGPT-4 delete. Its text side (the
 * run's `text` input) is read only by models whose instruction enters the Q-Former (`qformerText`).
 */
export const BridgeQformerSchema = z.strictObject(qformerShape).refine(...headsDivideWidth);

/** The whole `model:` section for `name: blip2` (stage 1, section 3.2). Defaults are the paper's and LAVIS's. */
export const Blip2ConfigSchema = z.strictObject({
  name: z.literal('blip2'),
  /** ITC projection width (section 3.2: 256) */
  embedDim: z.number().int().positive().default(256),
  /** initial ITC temperature (LAVIS: 0.07), learnable */
  temp: z.number().positive().default(0.07),
  /** whether the temperature is trained (LAVIS: yes) */
  learnableTemp: z.boolean().default(true),
  /** clamp of the temperature before each step (LAVIS blip2_qformer.py: [0.001, 0.5]); null: none (torchmultimodal) */
  tempClamp: z.tuple([z.number().positive(), z.number().positive()]).nullable().default([0.001, 0.5]),
  /** label smoothing of ITC and ITG (LAVIS: 0.1) */
  labelSmoothing: z.number().min(0).lt(1).default(0.1),
  /** constant added to the hard-negative softmax weights (LAVIS: 1e-4; see core hardNegativeWeights) */
  hardNegativeEps: z.number().nonnegative().default(1e-4),
  /** ITC candidates re-ranked by ITM at retrieval (LAVIS k_test: 128) */
  itmRerankK: z.number().int().positive().default(128),
  /** epsilon of `ln_vision`, the trainable LayerNorm on the frozen image features (section 3.3; nn.LayerNorm: 1e-5) */
  lnVisionEps: z.number().positive().default(1e-5),
  vision: Blip2VisionSchema,
  qformer: Blip2QformerSchema,
  /** caption decoding with the Q-Former's ITG head (`mmzoo caption`, bleu4 / cider in results.json) */
  caption: CaptionDecodingSchema.default(CaptionDecodingSchema.parse({})),
});

/** A validated BLIP-2 stage-1 config. */
export type Blip2Config = z.infer<typeof Blip2ConfigSchema>;
/** A BLIP-2 stage-1 config before defaults are applied (what a YAML file holds). */
export type Blip2ConfigInput = z.input<typeof Blip2ConfigSchema>;

/**
 * How a bridge answers (LAVIS `predict_answers` / `generate`; core generateFromEmbeds): the search, its lengths in new
 * tokens and penalties; the `sceneVqa` evaluation and `mmzoo generate` use it.
 */
export const AnswerDecodingSchema = z.strictObject({
  /** greedy (the tiny configs), beam (LAVIS: 5 beams) or sample */
  strategy: z.enum(['greedy', 'beam', 'sample']).default('beam'),
  /** most new tokens, the end token included (LAVIS VQA: max_len 10) */
  maxNewTokens: z.number().int().positive().default(10),
  /** the end token is suppressed before this many new tokens (LAVIS: min_len 1) */
  minNewTokens: z.number().int().nonnegative().default(1),
  numBeams: z.number().int().positive().default(5),
  /** LAVIS VQA: -1 (shorter answers); captioning: 1 */
  lengthPenalty: z.number().default(-1),
  /** CTRL repetition penalty (LAVIS generate: 1; InstructBLIP: 1.5) */
  repetitionPenalty: z.number().positive().default(1),
  temperature: z.number().positive().default(1),
  topP: z.number().gt(0).max(1).default(0.9),
  seed: z.number().int().default(0),
});

/** A validated answer-decoding section. */
export type AnswerDecoding = z.infer<typeof AnswerDecodingSchema>;

/**
 * The `model.lmLora` section: LoRA adapters (Hu et al. 2021; core `addLora`) on the bridge's LM, in some of its blocks
 * only: VisualGLM-6B's fine-tuning (THUDM finetune/finetune_visualglm.sh: `--lora_rank 10 --layer_range 0 14`, sat's
 * LoraMixin on each chosen layer's `query_key_value` and `dense`, lora_alpha 1). The adapters are a component of their
 * own (`lora`), so that `frozen:` can hold every other part and train them alone.
 */
export const LmLoraSchema = z.strictObject({
  /** r, the rank of each update (VisualGLM: 10) */
  rank: z.number().int().positive(),
  /** the update is scaled by alpha / r; none: alpha = r, scale 1 (PEFT's usual choice); VisualGLM (sat LoraMixin): 1 */
  alpha: z.number().positive().optional(),
  /** the LM blocks that get adapters, by index from 0 (VisualGLM: [0, 14] of ChatGLM-6B's 28) */
  layers: z.array(z.number().int().nonnegative()).min(1).refine((l) => new Set(l).size === l.length, { message: 'a layer is listed twice' }),
  /**
   * the Linear layers of each chosen block that get one, as core `addLora`'s targets (a module-path suffix: LLaMA `wq`,
   * `wk`, `wv`, `wo`; GPT-2 `c_attn`, `c_proj`; OPT `q_proj`, ...); VisualGLM: the attention's q, k, v and output
   */
  targets: z.array(z.string().min(1)).min(1),
});

/** A validated `model.lmLora` section. */
export type LmLora = z.infer<typeof LmLoraSchema>;

/** Each `lmLora.layers` entry names a block of the LM (an issue on `lmLora.layers` naming the first that does not). */
function loraLayersExist(c: { lm: { layers: number }; lmLora?: LmLora }, ctx: z.RefinementCtx): void {
  const bad = c.lmLora?.layers.find((l) => l >= c.lm.layers);
  if (bad !== undefined) ctx.addIssue({ code: 'custom', message: `layer ${bad} is not a block of the ${c.lm.layers}-layer LM (valid: 0..${c.lm.layers - 1})`, path: ['lmLora', 'layers'] });
}

/**
 * The `model:` section of a stage-2 bridge (Li et al. 2023 section 3.3; Dai et al. 2023 section 2.2; Zhu et al. 2023
 * section 3), one schema per model name: the frozen image encoder (`vision`), `ln_vision`, the Q-Former (`qformer`, no
 * ITG head), the frozen decoder-only LM (`lm`: any @mmzoo/lm config), whether the instruction enters the Q-Former, and
 * VisualGLM's two LM options (LoRA on the LM, the prefix-LM mask), both optional without a default so that the configs
 * without them hash as before.
 * @param name `model.name`
 * @param qformerText the default of `qformerText` (InstructBLIP: true)
 */
export function bridgeConfigSchema<N extends string>(name: N, qformerText: boolean) {
  return z.strictObject({
    name: z.literal(name),
    vision: Blip2VisionSchema,
    /** epsilon of `ln_vision` (nn.LayerNorm: 1e-5) */
    lnVisionEps: z.number().positive().default(1e-5),
    qformer: BridgeQformerSchema,
    /** the language model (frozen by the config's `frozen:`), a LLaMA, GPT-2 or OPT config */
    lm: LmConfigSchema,
    /**
     * the instruction (the run's `text`) enters the Q-Former beside the queries: InstructBLIP (section 2.2) and BLIP-2's
     * VQA fine-tuning (section 4.3); false: the queries alone (BLIP-2's stage 2, MiniGPT-4)
     */
    qformerText: z.boolean().default(qformerText),
    /** how answers are decoded */
    answer: AnswerDecodingSchema.default(AnswerDecodingSchema.parse({})),
    /** LoRA adapters on some of the LM's blocks (VisualGLM's fine-tuning); none: the LM as it is */
    lmLora: LmLoraSchema.optional(),
    /**
     * true: the LM reads the prompt as a prefix LM (GLM, Du et al. 2022, section 2.1: bidirectional over the context,
     * causal over the answer; VisualGLM's ChatGLM-6B): in training each row's prefix is its prompt (core
     * `prefixLengthsFromLabels`), in generation the whole prompt context; with a LLaMA of `rope2d: true` the answer also
     * takes GLM's block positions. None: causal, as the other bridges' LMs
     */
    prefixLm: z.boolean().optional(),
  }).superRefine(loraLayersExist);
}

/** The `model:` section of `blip2-lm`, BLIP-2's second stage (section 3.3) and its VQA fine-tuning (section 4.3). */
export const Blip2LmConfigSchema = bridgeConfigSchema('blip2-lm', false);
/** The `model:` section of `instructblip` (Dai et al. 2023): the instruction-aware Q-Former. */
export const InstructBlipConfigSchema = bridgeConfigSchema('instructblip', true);
/** The `model:` section of `minigpt4` (Zhu et al. 2023): BLIP-2's ViT and Q-Former frozen, one linear layer trained. */
export const MiniGpt4ConfigSchema = bridgeConfigSchema('minigpt4', false);

/**
 * The `model:` section of `visualglm` (THUDM VisualGLM-6B, no paper): a BLIP-2 Q-Former into a GLM, here the LLaMA
 * stand-in with `rope2d` and `prefixLm`, LoRA on the LM in fine-tuning (`lmLora`); the queries alone enter the Q-Former.
 */
export const VisualGlmConfigSchema = bridgeConfigSchema('visualglm', false);

/** A validated bridge config (any of the four names). */
export type BridgeConfig = z.infer<typeof Blip2LmConfigSchema> | z.infer<typeof InstructBlipConfigSchema> | z.infer<typeof MiniGpt4ConfigSchema>
  | z.infer<typeof VisualGlmConfigSchema>;
/** A bridge config before defaults are applied. */
export type BridgeConfigInput = z.input<typeof Blip2LmConfigSchema> | z.input<typeof InstructBlipConfigSchema> | z.input<typeof MiniGpt4ConfigSchema>
  | z.input<typeof VisualGlmConfigSchema>;
