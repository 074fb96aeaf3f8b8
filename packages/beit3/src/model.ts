import {
  Embedding, KMeansVisualTokenizer, Linear, Module, MultiwayEncoder, MultiwaySegment, PatchEmbedding, Rng, StageData, StageSelection, Tensor, Variable,
  blockMaskBatch, contrastiveLoss, drawnInit, firstToken, keyPaddingMask, l2Normalize, maskTextTokens, maskedImageModelingLoss, maskedPredictionLoss,
  maskedTextPositions, normalInit, resolveStageSelection, resolveVocabSize, scalarInit, stepRng, tf, weightedObjective,
} from '@mmzoo/core';
import type { BuildParts, ImageFeatureExtractor, ImageTextBatch, LossOutput, ParamInit } from '@mmzoo/core';
import { Beit3Config, Beit3ConfigInput, Beit3ConfigSchema } from './config';

/** Inputs of {@link BEiT3.forward}: images, texts or both (image-text pairs). */
export interface Beit3Inputs {
  /** float32 [B, C, H, W] */
  images?: Tensor;
  /** int32 [B, L] */
  ids?: Tensor;
  /** [B, L], 1 on padding (torchscale `text_padding_position`); default: ids == padId */
  textPadding?: Tensor;
  /** float32 [B, patches], 1 where the patch is replaced by `mask_token` (torchscale `vision_masked_position`) */
  maskedPatches?: Tensor;
}

/** Outputs of {@link BEiT3.forward}. */
export type Beit3Output = {
  /** float32 [B, N, width]: the per-modality final LayerNorm on every token (N = 1 + patches, L, or both) */
  encoderOut: Tensor;
  /** float32 [B, N, width]: the embedded tokens with padded positions zeroed (the input of layer 0) */
  layerInput: Tensor;
  /** float32 [B, N, width] per layer: each block's output */
  hidden: Tensor[];
  /** float32 [B, N]: 1 on padded text positions */
  padding: Tensor;
  /** torchscale's multiway_split_position: -1 image-only, 0 text-only, 1 + patches for image-text */
  splitPosition: number;
};

/** The training objective: total and parts (`mim`, `mlm`, `vlm` of masked data modeling; `itc`). */
export type Beit3Loss = LossOutput;

/** A training batch as the harness builds it (core's ImageTextBatch; BEiT-3 reads no image ids). */
export type Beit3Batch = Omit<ImageTextBatch, 'imageIds'>;

/** The built parts of a {@link BEiT3} ({@link buildBeit3} makes them from a config), in torchscale's names. */
export interface Beit3Parts {
  /** `text_embed`: the token embedding [V, width] (V is the model's vocabulary size) */
  textEmbed: Embedding;
  /** `vision_embed.proj`: the stride-P patch projection with bias */
  patchEmbed: PatchEmbedding;
  /** initial values of `vision_embed.mask_token` and `vision_embed.cls_token`, float32 [1, 1, width] */
  maskToken: ParamInit;
  clsToken: ParamInit;
  /** `embed_positions.vision` [patches + 3, width] and `embed_positions.language` [rows, width]; rows 0-1 unused */
  visionPositions: Embedding;
  textPositions: Embedding;
  /** `encoder`: the multiway transformer with its per-modality final LayerNorm */
  encoder: MultiwayEncoder;
  /** masked data modeling (`objectives.mdm` > 0): `mlm_head` (width -> V), `mim_head` (width -> K) and the visual tokenizer */
  mdm?: { mlmHead: Linear; mimHead: Linear; visualTokenizer: KMeansVisualTokenizer };
  /** retrieval (`retrievalHeads`): `vision_head` and `language_head`, width -> width without bias */
  retrieval?: { visionHead: Linear; languageHead: Linear };
}

/**
 * BEiT-3 (Wang et al., CVPR 2023, "Image as a Foreign Language: BEiT Pretraining for Vision and Vision-Language
 * Tasks"): a multiway transformer (core's {@link MultiwayEncoder}) over [vision tokens; text tokens] trained by
 * masked data modeling on images, texts and image-text pairs (section 2.2). By default the block follows
 * torchscale's released code: per-modality copies of every LayerNorm and of the q/k/v/out projections around one
 * shared softmax, sub-LayerNorms (Magneto) in attention and FFN, no vision-language expert, learned absolute
 * positions that restart per modality (rows 2.. of each table). `layout: 'paper'` gives the paper's shared
 * attention with V/L-FFNs and the VL-FFN in the top `vlLayers` layers. Parameter names are mmzoo's;
 * {@link beit3Rename} maps torchscale's.
 */
export class BEiT3 extends Module implements ImageFeatureExtractor {
  readonly patchEmbed: PatchEmbedding;
  readonly clsToken: Variable;
  readonly maskToken: Variable;
  readonly textEmbed: Embedding;
  readonly visionPositions: Embedding;
  readonly textPositions: Embedding;
  readonly encoder: MultiwayEncoder;
  readonly mlmHead?: Linear;
  readonly mimHead?: Linear;
  readonly visualTokenizer?: KMeansVisualTokenizer;
  readonly visionHead?: Linear;
  readonly languageHead?: Linear;
  readonly logitScale?: Variable;
  readonly grid: [number, number];
  readonly numPatches: number;
  readonly vocabSize: number;
  readonly endId: number;

  /**
   * @param cfg a validated config (its masking, objectives and text ids; the parts carry the sizes)
   * @param parts the built modules and the initial values of the tokens (see {@link buildBeit3})
   * @param endId the end-of-text id, never masked (the config's, else the tokenizer's)
   */
  constructor(readonly cfg: Beit3Config, parts: Beit3Parts, endId: number) {
    super();
    this.vocabSize = parts.textEmbed.numEmbeddings;
    this.endId = endId;
    const g = cfg.vision.imageSize / cfg.vision.patchSize;
    this.grid = [g, g];
    this.numPatches = g * g;
    this.textEmbed = this.module('text_embed', parts.textEmbed);
    this.patchEmbed = this.module('vision_embed.proj', parts.patchEmbed);
    this.maskToken = this.param('vision_embed.mask_token', parts.maskToken);
    this.clsToken = this.param('vision_embed.cls_token', parts.clsToken);
    this.visionPositions = this.module('embed_positions.vision', parts.visionPositions);
    this.textPositions = this.module('embed_positions.language', parts.textPositions);
    this.encoder = this.module('encoder', parts.encoder);
    if (parts.mdm) {
      this.mlmHead = this.module('mlm_head', parts.mdm.mlmHead);
      this.mimHead = this.module('mim_head', parts.mdm.mimHead);
      this.visualTokenizer = this.module('visual_tokenizer', parts.mdm.visualTokenizer);
    }
    if (parts.retrieval) {
      this.visionHead = this.module('vision_head', parts.retrieval.visionHead);
      this.languageHead = this.module('language_head', parts.retrieval.languageHead);
      this.logitScale = this.param('logit_scale', scalarInit(cfg.initLogitScale));
    }
  }

  /**
   * Vision tokens (torchscale `VisionEmbedding`): patches, masked ones replaced by `mask_token`, `cls_token` at
   * position 0, plus rows 2 .. 2 + patches of the vision position table.
   * @param images float32 [B, C, H, W] @param maskedPatches float32 [B, patches] 0/1
   * @returns float32 [B, 1 + patches, width]
   */
  embedVision(images: Tensor, maskedPatches?: Tensor): Tensor {
    return tf.tidy(() => {
      let p = this.patchEmbed.apply(images);
      const b = (p.shape as number[])[0];
      if (maskedPatches) {
        const m = maskedPatches.toFloat().expandDims(2);
        p = p.mul(tf.scalar(1).sub(m)).add(this.maskToken.mul(m));
      }
      const x = tf.concat([this.clsToken.tile([b, 1, 1]), p], 1);
      return x.add(this.visionPositions.weight.slice([2, 0], [(x.shape as number[])[1], -1]));
    });
  }

  /**
   * Text tokens: `text_embed[id]` (not scaled) plus rows 2 .. 2 + L of the text position table.
   * @param ids int32 [B, L] @returns float32 [B, L, width]
   * @throws Error when L + 2 exceeds the position table
   */
  embedText(ids: Tensor): Tensor {
    const L = (ids.shape as number[])[1];
    if (L + 2 > this.textPositions.numEmbeddings) throw new Error(`text length ${L} needs ${L + 2} position rows; the table has ${this.textPositions.numEmbeddings}`);
    return tf.tidy(() => this.textEmbed.apply(ids).add(this.textPositions.weight.slice([2, 0], [L, -1])));
  }

  /**
   * The encoder over images, texts or both (torchscale `BEiT3.forward`): [vision; text] tokens, padded text
   * positions zeroed and excluded as keys (-inf) for every query, experts routed at the split position.
   * @throws Error when neither images nor ids are given
   */
  forward(inputs: Beit3Inputs): Beit3Output {
    const { images, ids } = inputs;
    if (!images && !ids) throw new Error('BEiT3.forward needs images, ids or both');
    return tf.tidy(() => {
      const parts: Tensor[] = [];
      const pads: Tensor[] = [];
      const segments: MultiwaySegment[] = [];
      if (images) {
        const v = this.embedVision(images, inputs.maskedPatches);
        parts.push(v);
        pads.push(tf.zeros([(v.shape as number[])[0], (v.shape as number[])[1]]));
        segments.push({ modality: 'vision', length: (v.shape as number[])[1] });
      }
      if (ids) {
        parts.push(this.embedText(ids));
        pads.push(inputs.textPadding ? inputs.textPadding.toFloat() : ids.equal(tf.scalar(this.cfg.text.padId, 'int32')).toFloat());
        segments.push({ modality: 'language', length: (ids.shape as number[])[1] });
      }
      const padding = parts.length > 1 ? tf.concat(pads, 1) : pads[0];
      const x = (parts.length > 1 ? tf.concat(parts, 1) : parts[0]).mul(tf.scalar(1).sub(padding).expandDims(2));
      const mask = ids ? keyPaddingMask(tf.scalar(1).sub(padding)) : undefined;
      const { output, hidden } = this.encoder.forward(x, { segments, mask });
      const splitPosition = images && ids ? segments[0].length : images ? -1 : 0;
      return { encoderOut: output, layerInput: x, hidden, padding, splitPosition };
    });
  }

  /**
   * Retrieval image embedding (BEiT3ForRetrieval): L2-normalised `vision_head(encoder_out[:, 0])`, or the
   * normalised class token when built without retrieval heads. float32 [B, C, H, W] -> [B, width]
   */
  encodeImage(images: Tensor): Tensor {
    return tf.tidy(() => {
      const cls = firstToken(this.forward({ images }).encoderOut);
      return l2Normalize(this.visionHead ? this.visionHead.apply(cls) : cls);
    });
  }

  /** Retrieval text embedding: L2-normalised `language_head(encoder_out[:, 0])`. int32 [M, L] -> float32 [M, width] */
  encodeText(ids: Tensor): Tensor {
    return tf.tidy(() => {
      const cls = firstToken(this.forward({ ids }).encoderOut);
      return l2Normalize(this.languageHead ? this.languageHead.apply(cls) : cls);
    });
  }

  /**
   * Frozen image features for a linear probe (BEiT section 3.1 protocol; core `ImageFeatureExtractor`): the
   * image-only class token of the final layer, after the encoder's final LayerNorm, without the retrieval head.
   * float32 [B, C, H, W] in [0, 1] -> [B, width]
   */
  imageFeatures(images: Tensor): Tensor {
    return tf.tidy(() => firstToken(this.forward({ images }).encoderOut));
  }

  /**
   * Image-text contrastive loss on the dual-encoder mode (retrieval fine-tuning, section 3.2; BEiT3ForRetrieval
   * with `ClipLoss`): symmetric InfoNCE with scale exp(logit_scale).
   * @throws Error when built without retrieval heads or B < 2
   */
  itcLoss(images: Tensor, ids: Tensor): Tensor {
    if (!this.logitScale) throw new Error('BEiT3 was built without retrieval heads (model.retrievalHeads: false)');
    return tf.tidy(() => contrastiveLoss(this.encodeImage(images), this.encodeText(ids), this.logitScale!.exp()).total);
  }

  /** Block-wise patch masks for B images, exactly round(ratio * patches) each: float32 [B, patches] and the masked indices per image. */
  private patchMasks(b: number, ratio: number, rng: Rng): { mask: Tensor; rows: number[][] } {
    const m = blockMaskBatch(this.grid, b, ratio, rng, { minBlock: this.cfg.masking.minBlock });
    return { mask: tf.tensor2d(m.mask, [b, this.numPatches]), rows: m.rows };
  }

  private maskText(ids: Tensor, ratio: number, rng: Rng) {
    return maskTextTokens(ids.dataSync() as Int32Array, ids.shape as [number, number], rng, {
      probability: ratio, vocabSize: this.vocabSize, tokens: { ...this.cfg.text, endId: this.endId },
    });
  }

  /**
   * Masked data modeling (section 2.2): a shared encoder predicts masked image patches' visual tokens (`mim`,
   * image-only data, block-wise masking of `masking.image` of the patches), masked text tokens (`mlm`, text-only
   * data, `masking.text` of the tokens) and masked text tokens of image-text pairs (`vlm`, `masking.pairText`,
   * plus masked patches when `masking.pairImage` > 0). Each part is a mean cross-entropy over masked positions.
   * Each part draws its masks from its own fork of `rng`, so computing only some parts leaves the others' draws as
   * they are.
   * @param images float32 [B, C, H, W] (unused when `parts` has neither `mim` nor `vlm`)
   * @param ids int32 [B, L] (unused when `parts` is only `mim`)
   * @param parts which parts to compute (default all three)
   * @throws Error when the model was built without MDM heads or the visual tokenizer is not fitted
   */
  mdmLoss(images: Tensor, ids: Tensor, rng: Rng, parts: readonly string[] = ['mim', 'mlm', 'vlm']): Record<string, Tensor> {
    const tok = this.visualTokenizer;
    const mimHead = this.mimHead;
    const mlmHead = this.mlmHead;
    if (!tok || !mimHead || !mlmHead) throw new Error('BEiT3 was built without masked-data-modeling heads (model.objectives.mdm is 0)');
    const mk = this.cfg.masking;
    const b = (images.shape as number[])[0];
    const np = this.numPatches;
    const L = (ids.shape as number[])[1];
    const mim = (x: Tensor) => mimHead.apply(x);
    return tf.tidy(() => {
      const needImages = parts.includes('mim') || (parts.includes('vlm') && mk.pairImage > 0);
      const targets = needImages ? (tok.encode(images).dataSync() as Int32Array) : new Int32Array(0);
      const out: Record<string, Tensor> = {};
      const mlmPart = (feats: Tensor, stride: number, offset: number, labelsAll: Int32Array): Tensor => {
        const m = maskedTextPositions(labelsAll, L, { stride, offset });
        return maskedPredictionLoss(feats, m.positions, m.labels, (x) => mlmHead.apply(x));
      };
      // image-only data
      if (parts.includes('mim')) {
        const im = this.patchMasks(b, mk.image, rng.fork('image'));
        out.mim = maskedImageModelingLoss(this.forward({ images, maskedPatches: im.mask }).encoderOut, im.rows, targets, np, mim);
      }
      const padding = ids.equal(tf.scalar(this.cfg.text.padId, 'int32')).toFloat();
      // text-only data
      if (parts.includes('mlm')) {
        const tm = this.maskText(ids, mk.text, rng.fork('text'));
        const textOut = this.forward({ ids: tf.tensor2d(tm.ids, [b, L], 'int32'), textPadding: padding }).encoderOut;
        out.mlm = mlmPart(textOut, L, 0, tm.labels);
      }
      // image-text pairs
      if (parts.includes('vlm')) {
        const pm = this.maskText(ids, mk.pairText, rng.fork('pair-text'));
        const pi = mk.pairImage > 0 ? this.patchMasks(b, mk.pairImage, rng.fork('pair-image')) : undefined;
        const pairOut = this.forward({ images, ids: tf.tensor2d(pm.ids, [b, L], 'int32'), textPadding: padding, maskedPatches: pi?.mask }).encoderOut;
        out.vlm = mlmPart(pairOut, 1 + np + L, 1 + np, pm.labels);
        if (pi) out.vlm = out.vlm.add(maskedImageModelingLoss(pairOut, pi.rows, targets, np, mim)).div(2);
      }
      return out;
    });
  }

  /**
   * The objectives a stage may select (`stages[i].objectives`) with the data each accepts: `mim` (images or
   * pairs), `mlm` (texts or pairs), `vlm` (pairs) when built with MDM heads, `itc` (pairs) when its weight is
   * non-zero (section 2.2; the retrieval fine-tuning of section 3.2 is a stage with `[itc]`).
   */
  stageObjectives(): Record<string, readonly StageData[]> {
    return beit3StageObjectives(this.cfg);
  }

  /**
   * One step's objective: `mdm * (mim + mlm + vlm) + itc * ITC`, weights from `model.objectives`; with `stage`,
   * only the objectives it names (e.g. `[mim, mlm, vlm]` for masked data modeling, then `[itc]` for retrieval
   * fine-tuning). Masks come from `new Rng(batch.seed).fork(...)` keyed by `batch.index`, so resumed runs repeat
   * them exactly.
   * @throws Error as {@link mdmLoss} and {@link itcLoss}; Error for an objective the model does not offer
   */
  trainingLoss(batch: Beit3Batch, stage?: StageSelection): Beit3Loss {
    const o = this.cfg.objectives;
    const rng = stepRng('beit3', batch);
    const { objectives: run } = resolveStageSelection('BEiT3', this.stageObjectives(), stage);
    return tf.tidy(() => {
      const mdmParts = run.filter((n) => n !== 'itc');
      return weightedObjective([
        { parts: mdmParts.length > 0 ? this.mdmLoss(batch.image, batch.text, rng.fork('mdm'), mdmParts) : {}, weight: o.mdm },
        { parts: run.includes('itc') ? { itc: this.itcLoss(batch.image, batch.text) } : {}, weight: o.itc },
      ]);
    });
  }
}

/**
 * The objectives a BEiT-3 built from `cfg` offers to stages, with the data each accepts: `mim` (images or pairs),
 * `mlm` (texts or pairs), `vlm` (pairs) when `objectives.mdm` > 0 (section 2.2), `itc` (pairs) when `objectives.itc`
 * > 0 (retrieval fine-tuning on the dual-encoder mode, section 3.2).
 */
export function beit3StageObjectives(cfg: Pick<Beit3Config, 'objectives'>): Record<string, readonly StageData[]> {
  const o = cfg.objectives;
  const out: Record<string, readonly StageData[]> = {};
  if (o.mdm > 0) Object.assign(out, { mim: ['images', 'pairs'], mlm: ['texts', 'pairs'], vlm: ['pairs'] });
  if (o.itc > 0) out.itc = ['pairs'];
  return out;
}

const EXPERT: Record<string, string> = { A: 'vision', B: 'language', C: 'vl' };
const FFN_LAYER: Record<string, string> = { fc1: 'c_fc', fc2: 'c_proj', ffn_layernorm: 'ffn_layernorm' };

/**
 * Maps a torchscale BEiT3 state-dict name onto this implementation's (for `loadStateDict(..., { rename })`):
 * experts `A`/`B` (and `C` for a VL expert) -> `vision`/`language`/`vl`; `encoder.layers.i` ->
 * `encoder.blocks.i`; `self_attn_layer_norm` -> `norm1`; `self_attn.{q,k,v,out}_proj`, `inner_attn_ln` ->
 * `attn[.expert].*`; `final_layer_norm` -> `norm2`; `ffn.fc1/fc2` -> `ffn.c_fc/c_proj`; `encoder.layer_norm`
 * -> `encoder.norm`; `encoder.embed_positions` -> `embed_positions`. Names without an expert letter (the
 * paper's shared attention) map to the shared modules.
 */
export function beit3Rename(name: string): string | null {
  const ex = (e?: string) => (e ? `.${EXPERT[e]}` : '');
  return name
    .replace(/^encoder\.embed_positions\.([AB])\./, (_, e: string) => `embed_positions.${EXPERT[e]}.`)
    .replace(/^encoder\.layers\.(\d+)\./, 'encoder.blocks.$1.')
    .replace(/^encoder\.layer_norm\.([AB])\./, (_, e: string) => `encoder.norm.${EXPERT[e]}.`)
    .replace(/\.self_attn_layer_norm\.(?:([AB])\.)?/, (_, e?: string) => `.norm1${ex(e)}.`)
    .replace(/\.self_attn\.(q_proj|k_proj|v_proj|out_proj|inner_attn_ln)\.(?:([AB])\.)?/, (_, p: string, e?: string) => `.attn${ex(e)}.${p}.`)
    .replace(/\.final_layer_norm\.([ABC])\./, (_, e: string) => `.norm2.${EXPERT[e]}.`)
    .replace(/\.ffn\.([ABC])\.(fc1|fc2|ffn_layernorm)\./, (_, e: string, p: string) => `.ffn.${EXPERT[e]}.${FFN_LAYER[p]}.`);
}

/**
 * Builds a BEiT-3 from a `model:` config: the text and patch embeddings with the class and mask tokens, the position
 * tables, the multiway encoder (torchscale's released layout or the paper's), the masked-data-modeling heads with
 * the k-means visual tokenizer and the retrieval heads, in torchscale's order (that of the initial weights' seeds).
 * @param parts the tokenizer's vocabulary size and end-of-text id, used where the config leaves them out
 * @throws ZodError for an invalid config; Error when no vocabulary size is known
 */
export function buildBeit3(input: Beit3ConfigInput | Beit3Config, parts: BuildParts = {}): BEiT3 {
  const cfg = Beit3ConfigSchema.parse(input);
  const w = cfg.width;
  const vocabSize = resolveVocabSize(cfg.text.vocabSize, parts);
  const { imageSize, patchSize, channels } = cfg.vision;
  const textEmbed = new Embedding(vocabSize, w);
  const patchEmbed = new PatchEmbedding(channels, w, patchSize, { bias: true });
  const maskToken = drawnInit(normalInit([1, 1, w], 0.02));
  const clsToken = drawnInit(normalInit([1, 1, w], 0.02));
  const visionPositions = new Embedding((imageSize / patchSize) ** 2 + 3, w);
  const textPositions = new Embedding(cfg.text.maxPositions ?? cfg.text.contextLength + 2, w);
  const encoder = new MultiwayEncoder({
    width: w, numHeads: cfg.numHeads, layers: cfg.layers, mlpWidth: Math.round(w * cfg.mlpRatio), activation: 'gelu',
    lnEps: cfg.lnEps, attention: cfg.layout === 'released' ? 'per-modality' : 'shared', qkvLayout: 'separate', qkvBias: true, subLn: true,
    vlStart: cfg.layers - cfg.vlLayers, finalNorm: 'per-modality', init: { attnInStd: 0.02, attnOutStd: 0.02 },
  });
  const mdm = cfg.objectives.mdm > 0 ? {
    mlmHead: new Linear(w, vocabSize),
    mimHead: new Linear(w, cfg.tokenizer.codebookSize),
    visualTokenizer: new KMeansVisualTokenizer(cfg.tokenizer.codebookSize, channels, patchSize),
  } : undefined;
  const retrieval = cfg.retrievalHeads ? { visionHead: new Linear(w, w, { bias: false }), languageHead: new Linear(w, w, { bias: false }) } : undefined;
  return new BEiT3(cfg, {
    textEmbed, patchEmbed, maskToken, clsToken, visionPositions, textPositions, encoder, mdm, retrieval,
  }, cfg.text.endId ?? parts.eotId ?? 3);
}
