import {
  BertEmbeddings, BertLMHead, Embedding, KMeansVisualTokenizer, Linear, Module, MultiwayEncoder, MultiwaySegment, PatchEmbedding, RelativePositionBias,
  RelativePositionIndex, Rng, StageData, StageSelection, Tensor, Variable, blockMaskBatch, contrastiveLoss, crossEntropy, drawnInit, firstToken,
  imageRelativePositionIndex, itmLogOdds, keyPaddingMask, l2Normalize, maskTextTokens, maskedImageModelingLoss, maskedPredictionLoss, maskedTextPositions,
  normalInit, resolveStageSelection, resolveVocabSize, sampleItmPairs, scalarInit, stepRng, stopGradient, tf, vlmoFusionRelativePositionIndex,
  vlmoRelativeLayout, vlmoTextRelativePositionIndex, weightedObjective,
} from '@mmzoo/core';
import type { BuildParts, ImageTextBatch, ItmScorer, LossOutput, ParamInit } from '@mmzoo/core';
import { VlmoConfig, VlmoConfigInput, VlmoConfigSchema } from './config';

/** Outputs of {@link VLMo.inferImage} and {@link VLMo.inferText} (dual-encoder mode). */
export type VlmoUnimodalOutput = {
  /** float32 [B, N, width]: the final `norm` of the last layer on every token (N = 1 + patches, or L) */
  feats: Tensor;
  /** float32 [B, width]: L2-normalised ITC feature, `itc_{image,text}_proj(feats[:, 0])` */
  cls: Tensor;
  /** float32 [B, width]: L2-normalised ITC feature of the VL-FFN path (the top layers re-run with the VL expert
   * from layer vlStart - 1's output, then norm, `itc_vl_*_proj`); undefined when the model has no VL layers */
  clsVl?: Tensor;
  /** float32 [B, width]: the last layer's token 0 before the final norm */
  rawCls: Tensor;
};

/** Outputs of {@link VLMo.infer} (fusion mode, text first then image). */
export type VlmoFusionOutput = {
  /** float32 [B, L, width]: normed text tokens */
  textFeats: Tensor;
  /** float32 [B, 1 + patches, width]: normed image tokens */
  imageFeats: Tensor;
  /** float32 [B, width]: pooler output tanh(dense(norm(x)[:, 0])) (norm(x)[:, 0] when built without ITM heads) */
  cls: Tensor;
  /** float32 [B, width]: norm(x)[:, 0] */
  rawCls: Tensor;
  /** float32 [B, 2]: ITM logits (index 1 = match); zeros when built without ITM heads (objectives.itm: 0) */
  itmLogits: Tensor;
};

/** The training objective's value: total and parts `itc`, `itm`, `mlm`, `mim` (those that ran). */
export type VlmoLoss = LossOutput;

/**
 * A training batch as the harness builds it (core's ImageTextBatch); the image ids may be left out (then every pair
 * is its own image: 0..B-1). Masks and negatives come from core's `stepRng('vlmo', batch)`.
 */
export type VlmoBatch = Omit<ImageTextBatch, 'imageIds'> & Partial<Pick<ImageTextBatch, 'imageIds'>>;

/** The built parts of a {@link VLMo} ({@link buildVlmo} makes them from a config), in mmzoo's names. */
export interface VlmoParts {
  /** `patch_embed`: the stride-P patch projection with bias */
  patchEmbed: PatchEmbedding;
  /** initial values of `cls_token` [1, 1, width] and, with `model.absolutePositions`, `pos_embed` [1, 1 + patches, width] */
  clsToken: ParamInit;
  posEmbed?: ParamInit;
  /** `transformer`: the multiway transformer (shared attention, V/L-FFN, VL-FFN from vlStart, final norm) */
  transformer: MultiwayEncoder;
  /** `text_embeddings`: BERT's word (and, with absolute positions, position) embeddings and LayerNorm */
  textEmbeddings: BertEmbeddings;
  /** `token_type_embeddings` [2, width]: row 0 on text tokens, row 1 on image tokens */
  tokenTypeEmbeddings: Embedding;
  /** `relative_position_bias_table`, one table for image, text and fusion layouts */
  relPos: RelativePositionBias;
  /** ITM (`objectives.itm` > 0): `pooler.dense` (width -> width, tanh) and `itm_score.fc` (width -> 2) */
  itm?: { pooler: Linear; head: Linear };
  /** ITC projections `itc_{text,image}_proj.fc` and, with VL-FFN layers, `itc_vl_{text,image}_proj.fc` (no bias) */
  itc: { textProj: Linear; imageProj: Linear; vl?: { textProj: Linear; imageProj: Linear } };
  /** `mlm_score` (`objectives.mlm` > 0): BERT's prediction head, not tied to the word embeddings */
  mlmHead?: BertLMHead;
  /** MIM (`objectives.mim` > 0): the initial `mask_token` [1, 1, width], `mim_head` (width -> K) and the visual tokenizer */
  mim?: { maskToken: ParamInit; head: Linear; visualTokenizer: KMeansVisualTokenizer };
}

/**
 * VLMo (Bao et al., NeurIPS 2022, "VLMo: Unified Vision-Language Pre-Training with Mixture-of-Modality-Experts"):
 * one multiway transformer (core's {@link MultiwayEncoder}: shared self-attention, V-FFN, L-FFN and, in the top
 * layers from `vlStart`, the VL-FFN; layer scale; q/v-only attention biases; a relative position bias shared
 * through one table) used as an image encoder, a text encoder (dual-encoder mode, ITC) or a fusion encoder over
 * [text; image] (ITM, MLM), section 3.1-3.2. Parameter names are mmzoo's; {@link vlmoRename} maps unilm's.
 */
export class VLMo extends Module implements ItmScorer {
  readonly patchEmbed: PatchEmbedding;
  readonly clsToken: Variable;
  /** `model.absolutePositions`: the image's learned 1D position embeddings V_pos, float32 [1, 1 + patches, width] (section 3.1) */
  readonly posEmbed?: Variable;
  readonly transformer: MultiwayEncoder;
  readonly textEmbeddings: BertEmbeddings;
  readonly tokenTypeEmbeddings: Embedding;
  readonly relPos: RelativePositionBias;
  readonly pooler?: Linear;
  /** the ITM head `itm_score.fc` (width -> 2) on the pooled fusion [CLS] */
  readonly itmHead?: Linear;
  readonly itcTextProj: Linear;
  readonly itcImageProj: Linear;
  readonly itcVlTextProj?: Linear;
  readonly itcVlImageProj?: Linear;
  readonly logitScale: Variable;
  readonly logitVlScale?: Variable;
  readonly mlmScore?: BertLMHead;
  /** masked image modelling (objectives.mim > 0): the [MASK] patch embedding [1, 1, width], the head and the tokenizer */
  readonly maskToken?: Variable;
  readonly mimHead?: Linear;
  readonly visualTokenizer?: KMeansVisualTokenizer;
  readonly grid: [number, number];
  readonly vocabSize: number;
  /** end-of-text id (never masked by MLM) */
  readonly endId: number;
  private readonly imageIndex: RelativePositionIndex;
  private readonly textIndex = new Map<number, RelativePositionIndex>();
  private readonly fusionIndex = new Map<number, RelativePositionIndex>();

  /**
   * @param cfg a validated config (objective weights, masking, text ids, relative-position layout)
   * @param parts the built modules and the initial values of the tokens (see {@link buildVlmo})
   * @param endId the end-of-text id, never masked by MLM (the config's, else the tokenizer's)
   */
  constructor(readonly cfg: VlmoConfig, parts: VlmoParts, endId: number) {
    super();
    this.vocabSize = parts.textEmbeddings.opts.vocabSize;
    this.endId = endId;
    const g = cfg.vision.imageSize / cfg.vision.patchSize;
    this.grid = [g, g];
    this.patchEmbed = this.module('patch_embed', parts.patchEmbed);
    this.clsToken = this.param('cls_token', parts.clsToken);
    if (parts.posEmbed) this.posEmbed = this.param('pos_embed', parts.posEmbed);
    this.transformer = this.module('transformer', parts.transformer);
    this.textEmbeddings = this.module('text_embeddings', parts.textEmbeddings);
    this.tokenTypeEmbeddings = this.module('token_type_embeddings', parts.tokenTypeEmbeddings);
    this.relPos = this.module('', parts.relPos);
    this.imageIndex = imageRelativePositionIndex(this.grid);
    if (parts.itm) {
      this.pooler = this.module('pooler.dense', parts.itm.pooler);
      this.itmHead = this.module('itm_score.fc', parts.itm.head);
    }
    this.itcTextProj = this.module('itc_text_proj.fc', parts.itc.textProj);
    this.itcImageProj = this.module('itc_image_proj.fc', parts.itc.imageProj);
    if (parts.itc.vl) {
      this.itcVlTextProj = this.module('itc_vl_text_proj.fc', parts.itc.vl.textProj);
      this.itcVlImageProj = this.module('itc_vl_image_proj.fc', parts.itc.vl.imageProj);
    }
    this.logitScale = this.param('logit_scale', scalarInit(cfg.initLogitScale));
    if (parts.itc.vl) this.logitVlScale = this.param('logit_vl_scale', scalarInit(cfg.initLogitScale));
    if (parts.mlmHead) this.mlmScore = this.module('mlm_score', parts.mlmHead);
    if (parts.mim) {
      this.maskToken = this.param('mask_token', parts.mim.maskToken);
      this.mimHead = this.module('mim_head', parts.mim.head);
      this.visualTokenizer = this.module('visual_tokenizer', parts.mim.visualTokenizer);
    }
  }

  private textRel(len: number): RelativePositionIndex {
    let r = this.textIndex.get(len);
    if (!r) this.textIndex.set(len, (r = vlmoTextRelativePositionIndex(len, this.grid, this.cfg.text.maxTextLenOfInitCkpt)));
    return r;
  }

  private fusionRel(len: number): RelativePositionIndex {
    let r = this.fusionIndex.get(len);
    if (!r) this.fusionIndex.set(len, (r = vlmoFusionRelativePositionIndex(len, this.grid, this.cfg.text.maxTextLenOfInitCkpt)));
    return r;
  }

  /** The relative position index matrices the model uses for text length `textLen` (image, text, vl). */
  relativePositionIndices(textLen: number): { image: RelativePositionIndex; text: RelativePositionIndex; vl: RelativePositionIndex } {
    return { image: this.imageIndex, text: this.textRel(textLen), vl: this.fusionRel(textLen) };
  }

  /**
   * Image tokens: stride-P patch projection (with bias), class token at position 0, no absolute position
   * embedding, plus `token_type_embeddings[1]` on every token. Masked patches (masked image modelling) are
   * replaced by `mask_token` before the class token is prepended (BEiT section 2.3).
   * @param images float32 [B, C, H, W] @param maskedPatches float32 [B, patches] 0/1 (needs objectives.mim > 0)
   * @returns float32 [B, 1 + patches, width]
   * @throws Error when `maskedPatches` is given to a model without `mask_token`
   */
  embedImage(images: Tensor, maskedPatches?: Tensor): Tensor {
    if (maskedPatches && !this.maskToken) throw new Error('VLMo was built without mask_token (model.objectives.mim is 0)');
    return tf.tidy(() => {
      let p = this.patchEmbed.apply(images);
      if (maskedPatches) {
        const m = maskedPatches.toFloat().expandDims(2);
        p = p.mul(tf.scalar(1).sub(m)).add(this.maskToken!.mul(m));
      }
      const b = (p.shape as number[])[0];
      const cls = this.clsToken.tile([b, 1, 1]);
      const x = tf.concat([cls, p], 1);
      return (this.posEmbed ? x.add(this.posEmbed) : x).add(this.tokenTypeEmbeddings.weight.slice([1, 0], [1, -1]));
    });
  }

  /** Text tokens: BERT's embeddings `LayerNorm(word[id] + token_type[0])` (+ position[t] with model.absolutePositions) plus VLMo's `token_type_embeddings[0]`. @param ids int32 [B, L] @returns float32 [B, L, width] */
  embedText(ids: Tensor): Tensor {
    return tf.tidy(() => this.textEmbeddings.apply(ids).add(this.tokenTypeEmbeddings.weight.slice([0, 0], [1, -1])));
  }

  /** 1 on real tokens, 0 on padding: float32 [B, L]. */
  textMask(ids: Tensor): Tensor {
    return tf.tidy(() => ids.notEqual(tf.scalar(this.cfg.text.padId, 'int32')).toFloat());
  }

  private unimodal(x: Tensor, modality: 'vision' | 'language', rel: RelativePositionIndex, mask: Tensor | undefined, proj: Linear, vlProj?: Linear): VlmoUnimodalOutput {
    return tf.tidy(() => {
      const segments: MultiwaySegment[] = [{ modality, length: (x.shape as number[])[1] }];
      const biases = this.relPos.layerBiases(rel);
      const enc = this.transformer;
      const { output, hidden } = enc.forward(x, { segments, mask, biases });
      const cls = l2Normalize(proj.apply(firstToken(output)));
      const rawCls = firstToken(hidden[hidden.length - 1]);
      let clsVl: Tensor | undefined;
      if (vlProj) {
        const start = enc.vlStart;
        const from = start === 0 ? x : hidden[start - 1];
        const vl = enc.apply(from, { segments, mask, biases, vl: 'force', from: start });
        clsVl = l2Normalize(vlProj.apply(firstToken(vl)));
      }
      return { feats: output, cls, clsVl, rawCls };
    });
  }

  /**
   * Image-only mode (unilm `infer_image`): V-FFN in every layer.
   * @param images float32 [B, C, H, W]
   * @param opts.vl compute `clsVl` (default true; retrieval embeddings skip it)
   */
  inferImage(images: Tensor, opts: { vl?: boolean } = {}): VlmoUnimodalOutput {
    const vlProj = opts.vl ?? true ? this.itcVlImageProj : undefined;
    return tf.tidy(() => this.unimodal(this.embedImage(images), 'vision', this.imageIndex, undefined, this.itcImageProj, vlProj));
  }

  /**
   * Text-only mode (unilm `infer_text`): L-FFN in every layer, padded keys masked with -inf.
   * @param ids int32 [B, L]
   * @param opts.vl compute `clsVl` (default true)
   */
  inferText(ids: Tensor, opts: { vl?: boolean } = {}): VlmoUnimodalOutput {
    const vlProj = opts.vl ?? true ? this.itcVlTextProj : undefined;
    return tf.tidy(() => {
      const mask = keyPaddingMask(this.textMask(ids));
      return this.unimodal(this.embedText(ids), 'language', this.textRel((ids.shape as number[])[1]), mask, this.itcTextProj, vlProj);
    });
  }

  /**
   * Fusion mode (unilm `infer`): [text; image] tokens, L-FFN on text and V-FFN on image tokens below vlStart,
   * the VL-FFN on all tokens from vlStart; padded text keys are masked for every query.
   * @param images float32 [B, C, H, W] @param ids int32 [B, L]
   */
  infer(images: Tensor, ids: Tensor): VlmoFusionOutput {
    return tf.tidy(() => {
      const t = this.embedText(ids);
      const v = this.embedImage(images);
      const L = (t.shape as number[])[1];
      const segments: MultiwaySegment[] = [{ modality: 'language', length: L }, { modality: 'vision', length: (v.shape as number[])[1] }];
      const valid = tf.concat([this.textMask(ids), tf.ones([(v.shape as number[])[0], (v.shape as number[])[1]])], 1);
      const x = this.transformer.apply(tf.concat([t, v], 1), {
        segments, mask: keyPaddingMask(valid), biases: this.relPos.layerBiases(this.fusionRel(L)),
      });
      const rawCls = firstToken(x);
      const cls = this.pooler ? tf.tanh(this.pooler.apply(rawCls)) : rawCls;
      const itmLogits = this.itmHead ? this.itmHead.apply(cls) : tf.zeros([(x.shape as number[])[0], 2]);
      return { textFeats: x.slice([0, 0, 0], [-1, L, -1]), imageFeats: x.slice([0, L, 0], [-1, -1, -1]), cls, rawCls, itmLogits };
    });
  }

  /** Dual-encoder image embedding for retrieval: the L2-normalised ITC feature. float32 [B, C, H, W] -> [B, width] */
  encodeImage(images: Tensor): Tensor {
    return tf.tidy(() => this.inferImage(images, { vl: false }).cls);
  }

  /** Dual-encoder text embedding for retrieval. int32 [M, L] -> float32 [M, width] */
  encodeText(ids: Tensor): Tensor {
    return tf.tidy(() => this.inferText(ids, { vl: false }).cls);
  }

  /**
   * ITC (section 3.2, "Image-Text Contrast"): symmetric InfoNCE of exp(logit_scale) * image cls @ text cls^T,
   * averaged (as unilm's `compute_itc`) with the same loss on the VL-FFN features and exp(logit_vl_scale).
   * @returns the loss and the (scaled) image-to-text similarities [B, B] without gradient, for hard negatives
   * @throws Error when B < 2
   */
  itcLoss(images: Tensor, ids: Tensor): { loss: Tensor; sims: Tensor } {
    return tf.tidy(() => {
      const img = this.inferImage(images);
      const txt = this.inferText(ids);
      const scale = this.logitScale.exp();
      let loss = contrastiveLoss(img.cls, txt.cls, scale).total;
      if (img.clsVl && txt.clsVl && this.logitVlScale) loss = loss.add(contrastiveLoss(img.clsVl, txt.clsVl, this.logitVlScale.exp()).total).div(2);
      const sims = stopGradient(img.cls.matMul(txt.cls, false, true).mul(scale));
      return { loss, sims };
    });
  }

  /**
   * ITM with hard negatives (section 3.2, "Image-Text Matching", following ALBEF): core {@link sampleItmPairs} draws
   * for each text a negative image and for each image a negative text from softmax of the ITC similarities (+
   * `model.hardNegativeEps`; same-image pairs excluded); the B positive and up to 2B negative pairs run in fusion
   * mode and a 2-way cross-entropy scores them.
   * @param images float32 [B, C, H, W] @param ids int32 [B, L]
   * @param sims float32 [B, B] image-to-text similarities (no gradient)
   * @param rng the draw of the negatives
   * @param imageIds int32 [B] image ids (default 0..B-1): captions of one image are never each other's negatives
   * @returns float32 scalar: mean cross-entropy over the pairs
   */
  itmLoss(images: Tensor, ids: Tensor, sims: Tensor, rng: Rng, imageIds?: Int32Array): Tensor {
    const b = (images.shape as number[])[0];
    const hostIds = imageIds ?? Int32Array.from({ length: b }, (_, i) => i);
    const simT2i = tf.tidy(() => sims.transpose());
    const pairs = sampleItmPairs(sims, simT2i, hostIds, rng, { eps: this.cfg.hardNegativeEps });
    simT2i.dispose();
    return tf.tidy(() => {
      const out = this.infer(tf.gather(images, tf.tensor1d(pairs.imageIndex, 'int32')), tf.gather(ids, tf.tensor1d(pairs.textIndex, 'int32')));
      return crossEntropy(out.itmLogits, tf.tensor1d(pairs.labels, 'int32'));
    });
  }

  /** ItmScorer (core eval/itm-rerank): fusion mode runs on raw inputs, so the cached image "features" are the images. float32 [B, C, H, W] */
  itmImageFeatures(images: Tensor): Tensor {
    return images.clone();
  }

  /** ItmScorer: the token ids. int32 [B, L] -> [int32 [B, L]] */
  itmTextFeatures(ids: Tensor): Tensor[] {
    return [ids.clone()];
  }

  /**
   * ItmScorer: match log-odds of K (image, caption) pairs in fusion mode.
   * @param image float32 [K, C, H, W] @param text [int32 [K, L]] @returns float32 [K]
   * @throws Error when the model was built without ITM heads (objectives.itm: 0)
   */
  itmScore(image: Tensor, text: Tensor[]): Tensor {
    if (!this.itmHead) throw new Error('VLMo was built without the ITM head (model.objectives.itm is 0)');
    return tf.tidy(() => itmLogOdds(this.infer(image, text[0]).itmLogits));
  }

  /** BERT masking of 15% of the text tokens (not start, end or padding), 80/10/10; the masked ids and flat label positions. */
  private maskText(ids: Tensor, rng: Rng): { ids: Tensor; positions: number[]; labels: number[] } {
    const [b, l] = ids.shape as [number, number];
    const m = maskTextTokens(ids.dataSync() as Int32Array, [b, l], rng, {
      probability: this.cfg.mlmProbability, vocabSize: this.vocabSize, tokens: { ...this.cfg.text, endId: this.endId },
    });
    return { ids: tf.tensor2d(m.ids, [b, l], 'int32'), ...maskedTextPositions(m.labels, l) };
  }

  private mlmHead(): BertLMHead {
    if (!this.mlmScore) throw new Error('VLMo was built without the MLM head (model.objectives.mlm is 0)');
    return this.mlmScore;
  }

  /**
   * MLM in fusion mode (section 3.2, "Masked Language Modeling"): 15% of the text tokens (not start, end or
   * padding) are selected, 80/10/10 [MASK]/random/unchanged; the MLM head predicts the originals.
   * @throws Error when the model was built without the MLM head (objectives.mlm: 0)
   */
  mlmLoss(images: Tensor, ids: Tensor, rng: Rng): Tensor {
    const head = this.mlmHead();
    return tf.tidy(() => {
      const m = this.maskText(ids, rng);
      if (m.positions.length === 0) return tf.scalar(0);
      const out = this.infer(images, m.ids);
      return maskedPredictionLoss(out.textFeats, m.positions, m.labels, (x) => head.apply(x));
    });
  }

  /**
   * MLM on text-only data in text-only mode (the text-only stage, section 3.3: L-FFN in every layer, the text
   * relative positions), masking as {@link mlmLoss}; the head reads the final norm of each masked token.
   * @param ids int32 [B, L]
   * @throws Error when the model was built without the MLM head
   */
  textMlmLoss(ids: Tensor, rng: Rng): Tensor {
    const head = this.mlmHead();
    return tf.tidy(() => {
      const m = this.maskText(ids, rng);
      if (m.positions.length === 0) return tf.scalar(0);
      const mask = keyPaddingMask(this.textMask(ids));
      const L = (ids.shape as number[])[1];
      const { output } = this.transformer.forward(this.embedText(m.ids), {
        segments: [{ modality: 'language', length: L }], mask, biases: this.relPos.layerBiases(this.textRel(L)),
      });
      return maskedPredictionLoss(output, m.positions, m.labels, (x) => head.apply(x));
    });
  }

  /**
   * Masked image modelling in image-only mode (the image-only stage, section 3.3, which is BEiT's pre-training,
   * BEiT section 2): `mim.ratio` of the patches are masked block-wise (core's blockMaskBatch), replaced by
   * `mask_token`, and `mim_head` predicts their visual tokens (core's KMeansVisualTokenizer, fitted before
   * training) from the final norm of the V-FFN path.
   * @param images float32 [B, C, H, W]
   * @throws Error when built without MIM (objectives.mim: 0) or the tokenizer is not fitted
   */
  mimLoss(images: Tensor, rng: Rng): Tensor {
    const tok = this.visualTokenizer;
    const head = this.mimHead;
    if (!tok || !head) throw new Error('VLMo was built without masked image modelling (model.objectives.mim is 0)');
    const b = (images.shape as number[])[0];
    const np = this.grid[0] * this.grid[1];
    return tf.tidy(() => {
      const targets = tok.encode(images).dataSync() as Int32Array;
      const masks = blockMaskBatch(this.grid, b, this.cfg.mim.ratio, rng, { minBlock: this.cfg.mim.minBlock });
      const x = this.embedImage(images, tf.tensor2d(masks.mask, [b, np]));
      const { output } = this.transformer.forward(x, {
        segments: [{ modality: 'vision', length: 1 + np }], biases: this.relPos.layerBiases(this.imageIndex),
      });
      return maskedImageModelingLoss(output, masks.rows, targets, np, (f) => head.apply(f));
    });
  }

  /**
   * The objectives a stage may select (`stages[i].objectives`, section 3.3) with the data each accepts: `itc`,
   * `itm` (pairs), `mlm` (texts: text-only mode; pairs: fusion mode) and `mim` (images, or the images of pairs),
   * each only when its `model.objectives` weight is non-zero.
   */
  stageObjectives(): Record<string, readonly StageData[]> {
    return vlmoStageObjectives(this.cfg);
  }

  /**
   * One pre-training step's objective (section 3.2): `itc * ITC + itm * ITM + mlm * MLM (+ mim * MIM)` with the
   * weights of `model.objectives`. With `stage` (stagewise pre-training, section 3.3) only the objectives it names
   * run, on its data: `mlm` on `texts` is text-only MLM ({@link textMlmLoss}), on `pairs` fusion MLM. The random
   * draws (masks, ITM negatives) come from `new Rng(batch.seed).fork(...)` keyed by `batch.index`, so a resumed run
   * repeats them.
   * @throws Error when B < 2 (ITC), or for an objective the model does not offer or a data kind it cannot use
   */
  trainingLoss(batch: VlmoBatch, stage?: StageSelection): VlmoLoss {
    const o = this.cfg.objectives;
    const rng = stepRng('vlmo', batch);
    const { objectives: run, data } = resolveStageSelection('VLMo', this.stageObjectives(), stage);
    return tf.tidy(() => {
      const itc = run.includes('itc') || run.includes('itm') ? this.itcLoss(batch.image, batch.text) : undefined;
      const term = (name: string, weight: number, loss: () => Tensor) => ({ parts: run.includes(name) ? { [name]: loss() } : {}, weight });
      return weightedObjective([
        term('itc', o.itc, () => itc!.loss),
        term('itm', o.itm, () => this.itmLoss(batch.image, batch.text, itc!.sims, rng.fork('itm'), batch.imageIds)),
        term('mlm', o.mlm, () => (data === 'texts' ? this.textMlmLoss(batch.text, rng.fork('mlm')) : this.mlmLoss(batch.image, batch.text, rng.fork('mlm')))),
        term('mim', o.mim, () => this.mimLoss(batch.image, rng.fork('mim'))),
      ]);
    });
  }
}

/**
 * The objectives a VLMo built from `cfg` offers to stages (section 3.3), with the data each accepts: `itc`, `itm`
 * (pairs), `mlm` (texts: text-only mode; pairs: fusion mode), `mim` (images, or the images of pairs); each only when
 * its `model.objectives` weight is non-zero (its head exists).
 */
export function vlmoStageObjectives(cfg: Pick<VlmoConfig, 'objectives'>): Record<string, readonly StageData[]> {
  const o = cfg.objectives;
  const out: Record<string, readonly StageData[]> = {};
  if (o.itc > 0) out.itc = ['pairs'];
  if (o.itm > 0) out.itm = ['pairs'];
  if (o.mlm > 0) out.mlm = ['texts', 'pairs'];
  if (o.mim > 0) out.mim = ['images', 'pairs'];
  return out;
}

/**
 * Maps a unilm VLMo checkpoint name onto this implementation's (for `loadStateDict(..., { rename })`):
 * `transformer.cls_token` -> `cls_token`, `transformer.patch_embed.proj.*` -> `patch_embed.*`,
 * `attn.qkv.weight` -> `attn.in_proj_weight`, `attn.proj` -> `attn.out_proj`, `norm2_{imag,text,vl}` ->
 * `norm2.{vision,language,vl}`, `mlp_{imag,text,vl}.fc1/fc2` -> `ffn.{...}.c_fc/c_proj`, `mlm_score.{transform,
 * decoder,bias}` -> `mlm_score.predictions.*` (core's BertLMHead). BERT's
 * `text_embeddings.position_embeddings.weight` is unused with relative positions and is skipped (null).
 */
export function vlmoRename(name: string): string | null {
  if (name === 'text_embeddings.position_embeddings.weight' || name === 'text_embeddings.position_ids') return null;
  const expert: Record<string, string> = { imag: 'vision', text: 'language', vl: 'vl' };
  return name
    .replace(/^transformer\.(cls_token|pos_embed)$/, '$1')
    .replace(/^transformer\.patch_embed\.proj\./, 'patch_embed.')
    .replace(/\.attn\.qkv\.weight$/, '.attn.in_proj_weight')
    .replace(/\.attn\.proj\./, '.attn.out_proj.')
    .replace(/\.norm2_(imag|text|vl)\./, (_, e: string) => `.norm2.${expert[e]}.`)
    .replace(/^mlm_score\.(transform|decoder|bias)/, 'mlm_score.predictions.$1')
    .replace(/\.mlp_(imag|text|vl)\.fc([12])\./, (_, e: string, k: string) => `.ffn.${expert[e]}.${k === '1' ? 'c_fc' : 'c_proj'}.`);
}

/**
 * Builds a VLMo from a `model:` config: the patch embedding with the class token (and V_pos), the multiway
 * transformer, BERT's text embeddings, the token types, the relative position table, the ITM, ITC, MLM and MIM heads
 * the objectives need and the visual tokenizer, in unilm's order (that of the initial weights' seeds).
 * @param parts the tokenizer's vocabulary size and end-of-text id, used where the config leaves them out
 * @throws ZodError for an invalid config; Error when no vocabulary size is known
 */
export function buildVlmo(input: VlmoConfigInput | VlmoConfig, parts: BuildParts = {}): VLMo {
  const cfg = VlmoConfigSchema.parse(input);
  const w = cfg.width;
  const vocabSize = resolveVocabSize(cfg.text.vocabSize, parts);
  const { imageSize, patchSize, channels } = cfg.vision;
  const grid: [number, number] = [imageSize / patchSize, imageSize / patchSize];
  const patchEmbed = new PatchEmbedding(channels, w, patchSize, { bias: true });
  const clsToken = drawnInit(normalInit([1, 1, w], 0.02));
  const posEmbed = cfg.absolutePositions ? drawnInit(normalInit([1, 1 + grid[0] * grid[1], w], 0.02)) : undefined;
  const transformer = new MultiwayEncoder({
    width: w, numHeads: cfg.numHeads, layers: cfg.layers, mlpWidth: Math.round(w * cfg.mlpRatio), activation: 'gelu',
    lnEps: cfg.lnEps, attention: 'shared', qkvLayout: 'fused', qkvBias: 'qv', layerScale: cfg.layerScale,
    vlStart: cfg.vlStart, finalNorm: 'shared', init: { attnInStd: cfg.initStd, attnOutStd: cfg.initStd, fcStd: cfg.initStd, projStd: cfg.initStd },
  });
  // the released code's BERT embeddings have position_embedding_type "rel_pos": no absolute positions; the paper's
  // section 3.1 adds T_pos (model.absolutePositions)
  const textEmbeddings = new BertEmbeddings({
    vocabSize, width: w, maxPositions: cfg.text.contextLength, lnEps: cfg.text.lnEps, absolutePositions: cfg.absolutePositions,
  });
  const tokenTypeEmbeddings = new Embedding(2, w);
  const relPos = new RelativePositionBias(vlmoRelativeLayout(grid, cfg.text.maxTextLenOfInitCkpt).total, cfg.layers, cfg.numHeads);
  const itm = cfg.objectives.itm > 0 ? { pooler: new Linear(w, w), head: new Linear(w, 2) } : undefined;
  const projection = () => new Linear(w, w, { bias: false });
  const itc = { textProj: projection(), imageProj: projection(), vl: cfg.vlStart < cfg.layers ? { textProj: projection(), imageProj: projection() } : undefined };
  // VLMo's heads.MLMHead: BERT's prediction head, decoder not tied to the word embeddings
  const mlmHead = cfg.objectives.mlm > 0 ? new BertLMHead({ width: w, vocabSize }) : undefined;
  // the image-only stage (section 3.3) is BEiT's masked image modelling: [MASK] patches, a linear head over the
  // visual tokens (BEiT section 2.3), targets from a visual tokenizer (here k-means, as BEiT-3's in mmzoo)
  const mim = cfg.objectives.mim > 0 ? {
    maskToken: drawnInit(normalInit([1, 1, w], 0.02)),
    head: new Linear(w, cfg.tokenizer.codebookSize),
    visualTokenizer: new KMeansVisualTokenizer(cfg.tokenizer.codebookSize, channels, patchSize),
  } : undefined;
  return new VLMo(cfg, {
    patchEmbed, clsToken, posEmbed, transformer, textEmbeddings, tokenTypeEmbeddings, relPos, itm, itc, mlmHead, mim,
  }, cfg.text.endId ?? parts.eotId ?? 3);
}
