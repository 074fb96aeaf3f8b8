import {
  IMAGE_TOKEN_INDEX, LayerNorm, Linear, Module, QFormer, Tensor, VisionTransformer, causalLmLoss, generateFromEmbeds, labelLogProbs,
  prefixLengthsFromLabels, resolveVocabSize, spliceImageEmbeds, tf,
} from '@mmzoo/core';
import type { Batch, BuildParts, CausalGenerateOptions, CausalGenerateResult, ImagePromptOptions, ImagePromptedLM, LossOutput } from '@mmzoo/core';
import { buildLm } from '@mmzoo/lm';
import type { LmModel } from '@mmzoo/lm';
import type { AnswerDecoding, BridgeConfig } from './config';
import { buildBlip2Vision } from './vision';
import { addLmLora } from './lm-lora';

/** How a {@link QFormerBridge} reads its inputs and answers (the non-architectural part of its config). */
export interface QFormerBridgeOptions {
  /**
   * whether the instruction (the batch's `text`, in the Q-Former's own tokenizer) enters the Q-Former beside the
   * queries: InstructBLIP's instruction-aware Q-Former (Dai et al. 2023, section 2.2) and BLIP-2's VQA fine-tuning
   * (Li et al. 2023, section 4.3: the question tokens interact with the queries through self-attention)
   */
  qformerText: boolean;
  /** the Q-Former tokenizer's [PAD] id (the instruction's padding mask) */
  qformerPadId: number;
  /** the LM tokenizer's pad id (generation prompts are left-padded with it; it is masked) */
  lmPadId: number;
  /** how answers are decoded unless a call says otherwise */
  answer: AnswerDecoding;
  /**
   * the LM reads each prompt as a prefix LM's prefix (GLM; VisualGLM's ChatGLM-6B): bidirectionally, through the LM's
   * `prefixLength` (default false: causal)
   */
  prefixLm?: boolean;
}

/** Prompt-candidate pairs scored in one forward pass by {@link QFormerBridge.scoreAnswers}. */
const SCORE_ROWS = 128;

/**
 * Checks prompts about images: one per image, each with exactly one IMAGE_TOKEN_INDEX.
 * @throws Error `who: ...` naming the counts or the prompt
 */
function checkImagePrompts(who: string, images: Tensor, prompts: readonly number[][]): void {
  const b = images.shape[0];
  if (prompts.length !== b) throw new Error(`${who}: ${prompts.length} prompts for ${b} images`);
  prompts.forEach((p, i) => {
    const n = p.filter((t) => t === IMAGE_TOKEN_INDEX).length;
    if (n !== 1) throw new Error(`${who}: prompt ${i} holds ${n} image placeholders (${IMAGE_TOKEN_INDEX}); it needs exactly one`);
  });
}

/**
 * A frozen image encoder and a frozen decoder-only language model joined by a Q-Former (Li et al. 2023, "BLIP-2",
 * section 3.3, Fig. 3; Dai et al. 2023, "InstructBLIP", section 2.2, Fig. 3; Zhu et al. 2023, "MiniGPT-4", section 3):
 * the image features (`visual_encoder`, then the LayerNorm `ln_vision`) are read by the Q-Former's learned queries
 * (with the instruction beside them when `qformerText`), and a linear layer (`llm_proj`) maps the query outputs to the
 * LM's width: a soft visual prompt of Nq embeddings that takes the place of the one IMAGE_TOKEN_INDEX in each row of the
 * LM's ids (first for BLIP-2 and InstructBLIP, mid-text for MiniGPT-4; core spliceImageEmbeds). The loss is the LM's
 * next-token cross-entropy on the answer tokens only (the batch's labels); which parts train is the config's
 * `frozen:` list (BLIP-2: the ViT and the LM; MiniGPT-4: everything but `llm_proj`; VisualGLM's fine-tuning: everything
 * but the LoRA adapters on the LM, which `lmLora` attaches). With `prefixLm` the LM reads the prompt, soft prompt
 * included, bidirectionally (GLM's prefix LM, THUDM VisualGLM-6B: the image's query outputs mid-text after `<img>`).
 *
 * Names follow LAVIS's InstructBLIP (`visual_encoder`, `ln_vision`, `query_tokens`, `Qformer.*`, `llm_proj`,
 * `llm_model`); the LM keeps its own names under `llm_model` (@mmzoo/lm); LAVIS's Blip2OPT (`opt_proj`, `opt_model`)
 * and MiniGPT-4 (`llama_proj`, `llama_model`) map onto them (weights.ts).
 */
export class QFormerBridge extends Module implements ImagePromptedLM {
  /**
   * @param visual the image encoder
   * @param lnVision LayerNorm over its width
   * @param qformer the Q-Former (no LM head)
   * @param proj Linear(Q-Former width, LM width)
   * @param lm the decoder-only language model
   * @throws Error when the widths do not chain, or the Q-Former should read instructions and has no text side
   */
  constructor(
    readonly visual: VisionTransformer, readonly lnVision: LayerNorm, readonly qformer: QFormer, readonly proj: Linear,
    readonly lm: LmModel, readonly opts: QFormerBridgeOptions,
  ) {
    super();
    if (qformer.opts.visionWidth !== visual.opts.width) {
      throw new Error(`QFormerBridge: the Q-Former cross-attends to width ${qformer.opts.visionWidth}, the image encoder gives ${visual.opts.width}`);
    }
    if (proj.inFeatures !== qformer.opts.width || proj.outFeatures !== lm.embedDim) {
      throw new Error(`QFormerBridge: llm_proj maps ${proj.inFeatures} -> ${proj.outFeatures}; the Q-Former is ${qformer.opts.width} wide and the LM ${lm.embedDim}`);
    }
    if (opts.qformerText && qformer.opts.text === false) throw new Error('QFormerBridge: qformerText needs a Q-Former with a text side (text: true)');
    this.module('visual_encoder', visual);
    this.module('ln_vision', lnVision);
    this.module('', qformer);
    this.module('llm_proj', proj);
    this.module('llm_model', lm);
  }

  /** Nq, the length of the soft prompt: the LM positions an image takes. */
  get imageTokens(): number {
    return this.qformer.numQueries;
  }

  /** Whether the instruction enters the Q-Former (`qformerText`). */
  get readsInstruction(): boolean {
    return this.opts.qformerText;
  }

  /** Whether the LM reads its prompt bidirectionally, as a prefix LM's prefix (`prefixLm`). */
  get prefixLm(): boolean {
    return this.opts.prefixLm === true;
  }

  /** `ln_vision(visual_encoder(images))`. @param images float32 [B, C, H, W] @returns float32 [B, M, Dv] */
  imageEmbeds(images: Tensor): Tensor {
    return tf.tidy(() => this.lnVision.apply(this.visual.apply(images).tokens));
  }

  /**
   * The query outputs of the Q-Former over the image (and the instruction with `qformerText`).
   * @param imageEmbeds float32 [B, M, Dv] from {@link imageEmbeds}
   * @param text int32 [B, Lq] the instruction in the Q-Former's tokenizer ([CLS] ... [SEP] [PAD]...)
   * @returns float32 [B, Nq, D]
   * @throws Error when the model reads instructions and `text` is missing
   */
  queryOutput(imageEmbeds: Tensor, text?: Tensor): Tensor {
    if (this.opts.qformerText && !text) throw new Error('QFormerBridge: this model reads the instruction in its Q-Former: the batch needs `text`');
    return tf.tidy(() => {
      const ids = this.opts.qformerText ? text : undefined;
      const valid = ids ? ids.notEqual(tf.scalar(this.opts.qformerPadId, 'int32')).toInt() : undefined;
      return this.qformer.apply({ image: imageEmbeds, ids, valid }).queryOutput!;
    });
  }

  /**
   * The soft visual prompt: `llm_proj` of the query outputs.
   * @param images float32 [B, C, H, W]
   * @param text int32 [B, Lq] (read only with `qformerText`)
   * @returns float32 [B, Nq, lm.embedDim]
   */
  softPrompt(images: Tensor, text?: Tensor): Tensor {
    return tf.tidy(() => this.proj.apply(this.queryOutput(this.imageEmbeds(images), text)));
  }

  /**
   * The LM loss of a batch (BLIP-2 section 3.3): the soft prompt spliced into the `lm` ids, next-token
   * cross-entropy over the labelled (answer) positions, averaged over them. Rows are right-padded, so no mask is
   * needed: no real position attends to a later one, and positions run 0, 1, ... as in the references' training.
   * With `prefixLm` each row's prompt (every position before its answer, the soft prompt included: core
   * prefixLengthsFromLabels of the spliced labels) is the LM's bidirectional prefix, as VisualGLM trains ChatGLM-6B;
   * the prompt ends before the answer, so the padding after it is never attended by a real position either.
   * @param batch `image` float32 [B, C, H, W]; `lm` int32 [B, L] with one IMAGE_TOKEN_INDEX per row; `labels` int32
   *   [B, L] shifted targets, -100 where not scored; `text` int32 [B, Lq] with `qformerText`
   * @returns `{ total, parts: { lm } }`, float32 scalars
   * @throws Error when a key is missing, or from spliceImageEmbeds for a row without exactly one placeholder
   */
  trainingLoss(batch: Partial<Batch>): LossOutput {
    const { image, lm, labels } = batch;
    if (!image || !lm || !labels) throw new Error('QFormerBridge.trainingLoss: the batch needs image, lm and labels');
    return tf.tidy(() => {
      const spliced = spliceImageEmbeds(this.lm, lm, this.softPrompt(image, batch.text), { labels, padId: this.opts.lmPadId });
      const prefixLength = this.prefixLm ? prefixLengthsFromLabels(spliced.labels!) : undefined;
      const loss = causalLmLoss(this.lm.forward(spliced.embeds, { prefixLength }).logits, spliced.labels!, { shifted: true });
      return { total: loss, parts: { lm: loss } };
    });
  }

  /** The model's answer decoding as generation options. */
  answerOptions(): CausalGenerateOptions {
    const a = this.opts.answer;
    return {
      strategy: a.strategy, maxNewTokens: a.maxNewTokens, minNewTokens: a.minNewTokens, numBeams: a.numBeams, lengthPenalty: a.lengthPenalty,
      repetitionPenalty: a.repetitionPenalty, temperature: a.temperature, topP: a.topP, seed: a.seed, padId: this.opts.lmPadId,
    };
  }

  /**
   * Answers prompts about images (LAVIS `generate` / `predict_answers`): the prompts are left-padded to the longest,
   * each row's soft prompt spliced in at its placeholder, and the LM continues from the embeddings (core
   * generateFromEmbeds: positions from the mask, KV cache). Settings: the config's `answer:` section, overridden by
   * `opts`. With `prefixLm` each row's whole context (its prompt with the soft prompt) is the LM's bidirectional prefix.
   * @param images float32 [B, C, H, W]
   * @param prompts B rows of LM ids, each with one IMAGE_TOKEN_INDEX
   * @returns one result per prompt (`tokens`: the new ids)
   * @throws Error when the counts disagree or a prompt has no placeholder or several
   */
  generateFromImages(images: Tensor, prompts: number[][], opts: ImagePromptOptions = {}): CausalGenerateResult {
    checkImagePrompts('QFormerBridge.generateFromImages', images, prompts);
    const { text, ...settings } = opts;
    const pad = this.opts.lmPadId;
    const longest = Math.max(...prompts.map((p) => p.length));
    const ids = prompts.map((p) => [...new Array<number>(longest - p.length).fill(pad), ...p]);
    // the spliced rows: left padding (masked), then the prompt with its placeholder grown to the soft prompt's length
    const contextMask = prompts.map((p) => [...new Array<number>(longest - p.length).fill(0), ...new Array<number>(p.length - 1 + this.imageTokens).fill(1)]);
    const embeds = tf.tidy(() => spliceImageEmbeds(this.lm, tf.tensor2d(ids, undefined, 'int32'), this.softPrompt(images, text), { padId: pad }).embeds);
    try {
      // a setting left undefined keeps the model's own
      const given = Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined));
      const prefixLength = this.prefixLm ? prompts.map((p) => p.length - 1 + this.imageTokens) : undefined;
      return generateFromEmbeds(this.lm, { embeds, mask: contextMask }, { ...this.answerOptions(), prefixLength, ...given });
    } finally {
      embeds.dispose();
    }
  }

  /**
   * Ranks candidate answers by likelihood (LAVIS Blip2VicunaInstruct `_predict_class`): every prompt is paired with
   * every candidate, each pair laid out as a training row (prompt, then the candidate; right-padded; the soft prompt
   * at the placeholder; labels on the candidate's ids only) and scored by the LM's summed log-probability of the
   * candidate (core labelLogProbs). The soft prompt is computed once per image. LAVIS ranks by the mean over a padded
   * row, which orders candidates as this sum does within one padded batch; it adds no end token, while here a
   * candidate carries its end, as trained, so that an answer that is a prefix of another ("top" of "top left") is
   * not favoured. With `prefixLm` the prompt is the LM's bidirectional prefix, as in training.
   * @param images float32 [B, C, H, W]
   * @param prompts B rows of LM ids, each with one IMAGE_TOKEN_INDEX
   * @param candidates K non-empty rows of LM ids
   * @param opts `text` int32 [B, Lq] with `qformerText`
   * @returns B rows of K natural-log probabilities
   * @throws Error when the counts disagree, a prompt has no placeholder or several, a candidate is empty, or a pair is
   *   longer than the LM's context
   */
  scoreAnswers(images: Tensor, prompts: number[][], candidates: number[][], opts: Pick<ImagePromptOptions, 'text'> = {}): number[][] {
    const who = 'QFormerBridge.scoreAnswers';
    checkImagePrompts(who, images, prompts);
    candidates.forEach((c, j) => {
      if (c.length === 0) throw new Error(`${who}: candidate ${j} has no ids`);
    });
    const longest = Math.max(...prompts.map((p) => p.length)) - 1 + this.imageTokens + Math.max(...candidates.map((c) => c.length));
    if (longest > this.lm.maxSeqLen) throw new Error(`${who}: a prompt with a candidate takes ${longest} positions, more than the LM's context of ${this.lm.maxSeqLen}`);
    const pairs = prompts.flatMap((_, i) => candidates.map((_, j) => [i, j] as const));
    const out = prompts.map(() => new Array<number>(candidates.length).fill(0));
    const soft = this.softPrompt(images, opts.text);
    try {
      for (let from = 0; from < pairs.length; from += SCORE_ROWS) {
        const chunk = pairs.slice(from, from + SCORE_ROWS);
        const rows = chunk.map(([i, j]) => [...prompts[i], ...candidates[j]]);
        const width = Math.max(...rows.map((r) => r.length));
        // shifted labels: the id after position t, where that id is one of the candidate's
        const labels = chunk.map(([i], r) => Array.from({ length: width }, (_, t) => (t >= prompts[i].length - 1 && t < rows[r].length - 1 ? rows[r][t + 1] : -100)));
        const ids = rows.map((r) => [...r, ...new Array<number>(width - r.length).fill(this.opts.lmPadId)]);
        const scores = tf.tidy(() => {
          const image = tf.gather(soft, chunk.map(([i]) => i));
          const spliced = spliceImageEmbeds(this.lm, tf.tensor2d(ids, undefined, 'int32'), image, { labels: tf.tensor2d(labels, undefined, 'int32'), padId: this.opts.lmPadId });
          const prefixLength = this.prefixLm ? chunk.map(([i]) => prompts[i].length - 1 + this.imageTokens) : undefined;
          return labelLogProbs(this.lm.forward(spliced.embeds, { prefixLength }).logits, spliced.labels!, { shifted: true });
        });
        const values = scores.dataSync();
        scores.dispose();
        chunk.forEach(([i, j], r) => (out[i][j] = values[r]));
      }
    } finally {
      soft.dispose();
    }
    return out;
  }
}

/**
 * Builds a bridge from a validated config (LAVIS Blip2OPT / Blip2VicunaInstruct, MiniGPT-4 `MiniGPT4`): the image
 * encoder of `vision` (the shared builder of stage 1), `ln_vision`, a Q-Former without ITG head (without any text side
 * unless `qformerText`, as LAVIS deletes it), `llm_proj` (nn.Linear's default init in LAVIS; here N(0, initStd)) and
 * the LM of `lm`, with LoRA adapters on the blocks of `lmLora` (drawn after the LM's weights; B = 0, so a fresh
 * adapter changes nothing). Vocabulary sizes and pad ids come from the run's `text` (Q-Former) and `lm` tokenizers
 * when the config leaves them out; the Q-Former's word table has one row more than its vocabulary, for [DEC], as
 * stage 1's.
 * @throws Error when the LM's vocabulary size is given neither by the config nor by an `lm` tokenizer, or from
 *   addLmLora when an `lmLora` target names no Linear of a block
 */
export function buildQFormerBridge(cfg: BridgeConfig, parts: BuildParts = {}): QFormerBridge {
  const q = cfg.qformer;
  const lmFacts = parts.tokenizers?.lm;
  const textFacts = parts.tokenizers?.text;
  const visual = buildBlip2Vision(cfg.vision);
  const qformer = new QFormer({
    // the words, plus the [DEC] row LAVIS's init_tokenizer adds (stage 1's ITG start token; a bridge never reads it, but
    // its table is stage 1's, and LAVIS's InstructBLIP checkpoints have the row)
    numQueries: q.numQueries, vocabSize: cfg.qformerText ? resolveVocabSize(q.vocabSize, { vocabSize: textFacts?.vocabSize }, 'model.qformer.vocabSize') + 1 : 1,
    maxPositions: q.maxPositions ?? q.contextLength, width: q.width, layers: q.layers, numHeads: q.numHeads,
    mlpWidth: Math.round(q.width * q.mlpRatio), visionWidth: cfg.vision.width, crossAttentionFreq: q.crossAttentionFreq, lnEps: q.lnEps,
    std: q.initStd, maskValue: q.maskValue, lmHead: 'none', text: cfg.qformerText,
  });
  const lm = buildLm(cfg.lm, { vocabSize: lmFacts?.vocabSize });
  if (cfg.lmLora) addLmLora(lm, cfg.lmLora);
  return new QFormerBridge(visual, new LayerNorm(cfg.vision.width, cfg.lnVisionEps), qformer, new Linear(q.width, lm.embedDim, { std: q.initStd }), lm, {
    qformerText: cfg.qformerText, qformerPadId: q.padId ?? textFacts?.padId ?? 0, lmPadId: lmFacts?.padId ?? 0, answer: cfg.answer,
    prefixLm: cfg.prefixLm,
  });
}
