import {
  Embedding, KMeansVisualTokenizer, Linear, Module, MultiwayEncoder, MultiwaySegment, PatchEmbedding, Rng, StageData, StageSelection, Tensor, Variable,
  blockMaskBatch, contrastiveLoss, keyPaddingMask, l2Normalize, maskTokens, maskedImageModelingLoss, maskedPredictionLoss, resolveStageSelection, tf, normalInit, scalarInit,
} from '@mmzoo/core';
import type { Batch, ImageFeatureExtractor } from '@mmzoo/core';
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
export type Beit3Loss = {
  total: Tensor;
  parts: Record<string, Tensor>;
};

/** A training batch: core's {@link Batch} with `image` and `text` (image ids are not used). */
export type Beit3Batch = Batch & { image: Tensor; text: Tensor };

function firstToken(x: Tensor): Tensor {
  return x.slice([0, 0, 0], [-1, 1, -1]).reshape([(x.shape as number[])[0], (x.shape as number[])[2]]);
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
   * @param cfg a validated config
   * @param opts.vocabSize and opts.endId from the tokenizer, used where the config leaves them out
   * @throws Error when no vocabulary size is known
   */
  constructor(readonly cfg: Beit3Config, opts: { vocabSize?: number; endId?: number } = {}) {
    super();
    const w = cfg.width;
    const vocabSize = cfg.text.vocabSize ?? opts.vocabSize;
    if (vocabSize === undefined) throw new Error('model.text.vocabSize is not set and no tokenizer gives it');
    this.vocabSize = vocabSize;
    this.endId = cfg.text.endId ?? opts.endId ?? 3;
    const g = cfg.vision.imageSize / cfg.vision.patchSize;
    this.grid = [g, g];
    this.numPatches = g * g;
    this.textEmbed = this.module('text_embed', new Embedding(vocabSize, w));
    this.patchEmbed = this.module('vision_embed.proj', new PatchEmbedding(cfg.vision.channels, w, cfg.vision.patchSize, { bias: true }));
    this.maskToken = this.param('vision_embed.mask_token', normalInit([1, 1, w], 0.02));
    this.clsToken = this.param('vision_embed.cls_token', normalInit([1, 1, w], 0.02));
    this.visionPositions = this.module('embed_positions.vision', new Embedding(this.numPatches + 3, w));
    this.textPositions = this.module('embed_positions.language', new Embedding(cfg.text.maxPositions ?? cfg.text.contextLength + 2, w));
    const released = cfg.layout === 'released';
    this.encoder = this.module('encoder', new MultiwayEncoder({
      width: w, numHeads: cfg.numHeads, layers: cfg.layers, mlpWidth: Math.round(w * cfg.mlpRatio), activation: 'gelu',
      lnEps: cfg.lnEps, attention: released ? 'per-modality' : 'shared', qkvLayout: 'separate', qkvBias: true, subLn: true,
      vlStart: cfg.layers - cfg.vlLayers, finalNorm: 'per-modality', init: { attnInStd: 0.02, attnOutStd: 0.02 },
    }));
    if (cfg.objectives.mdm > 0) {
      this.mlmHead = this.module('mlm_head', new Linear(w, vocabSize));
      this.mimHead = this.module('mim_head', new Linear(w, cfg.tokenizer.codebookSize));
      this.visualTokenizer = this.module('visual_tokenizer', new KMeansVisualTokenizer(cfg.tokenizer.codebookSize, cfg.vision.channels, cfg.vision.patchSize));
    }
    if (cfg.retrievalHeads) {
      this.visionHead = this.module('vision_head', new Linear(w, w, { bias: false }));
      this.languageHead = this.module('language_head', new Linear(w, w, { bias: false }));
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
    const [b, l] = ids.shape as [number, number];
    const t = this.cfg.text;
    return maskTokens(ids.dataSync() as Int32Array, [b, l], rng, {
      probability: ratio, maskId: t.maskId, vocabSize: this.vocabSize, special: [t.padId, t.startId, this.endId],
      firstRandomId: Math.min(t.firstWordId, this.vocabSize - 1),
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
      const mlmPart = (feats: Tensor, n: number, offset: number, labelsAll: Int32Array): Tensor => {
        const positions: number[] = [];
        const labels: number[] = [];
        labelsAll.forEach((v, k) => {
          if (v === -100) return;
          positions.push(Math.floor(k / L) * n + offset + (k % L));
          labels.push(v);
        });
        return maskedPredictionLoss(feats, positions, labels, (x) => mlmHead.apply(x));
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
    const rng = new Rng(batch.seed).fork(`beit3-${batch.index}`);
    const { objectives: run } = resolveStageSelection('BEiT3', this.stageObjectives(), stage);
    return tf.tidy(() => {
      const parts: Record<string, Tensor> = {};
      let total: Tensor = tf.scalar(0);
      const mdmParts = run.filter((n) => n !== 'itc');
      if (mdmParts.length > 0) {
        const m = this.mdmLoss(batch.image, batch.text, rng.fork('mdm'), mdmParts);
        Object.assign(parts, m);
        total = total.add(tf.addN(Object.values(m)).mul(o.mdm));
      }
      if (run.includes('itc')) {
        parts.itc = this.itcLoss(batch.image, batch.text);
        total = total.add(parts.itc.mul(o.itc));
      }
      return { total, parts };
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
 * Builds a BEiT-3 from a `model:` config.
 * @throws ZodError for an invalid config; Error when no vocabulary size is known
 */
export function buildBeit3(input: Beit3ConfigInput | Beit3Config, opts: { vocabSize?: number; endId?: number } = {}): BEiT3 {
  return new BEiT3(Beit3ConfigSchema.parse(input), opts);
}
