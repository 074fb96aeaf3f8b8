import {
  itmLogOdds, clampTemperature, distillationAlpha,
  BertEncoder, BertLMHead, BertWithLMHead, FeatureQueue, Linear, LossOutput, MaskedTokens, Module, MomentumContrastiveOutput, MomentumPairs, Rng,
  Tensor, Variable, VisionTransformer, crossEntropy, gatherRows, l2Normalize, logSoftmax, maskTokens, momentumContrastiveLoss,
  sampleItmPairs, stopGradient, tf, scalarInit, resolveVocabSize,
} from '@mmzoo/core';
import type { BuildParts } from '@mmzoo/core';
import type { ItmScorer } from '@mmzoo/core';
import { AlbefConfig, AlbefConfigInput, AlbefConfigSchema } from './config';

/** The trainable towers and heads of ALBEF (also the shape of its momentum copy, without `itmHead`). */
export interface AlbefEncoders {
  /** ViT image encoder; its `tokens` output [B, 1 + N, Dv] are the image embeddings */
  visual: VisionTransformer;
  /** BERT text encoder (layers [0, textLayers)) + fusion encoder (the rest, with cross-attention) and MLM head `cls` */
  text: BertWithLMHead;
  /** [CLS] projections g_v, g_w to the ITC space (section 3.2) */
  visionProj: Linear;
  textProj: Linear;
}

/** Options of {@link ALBEF} (the non-architectural part of {@link AlbefConfig}). */
export interface AlbefOptions {
  /** number of text-only layers T; layers [T, L) form the fusion encoder */
  textLayers: number;
  embedDim: number;
  queueSize: number;
  momentum: number;
  temp: number;
  /** whether tau is a trainable parameter (it is saved either way) */
  learnableTemp: boolean;
  tempClamp: [number, number] | null;
  alpha: number;
  alphaRampSteps: number;
  mlmProbability: number;
  mlmDistill: boolean;
  hardNegativeEps: number;
  padId: number;
  maskId: number;
  numSpecial: number;
}

/** Inputs of one {@link ALBEF.step}. */
export interface AlbefStepInputs {
  /** float32 [B, C, H, W] */
  images: Tensor;
  /** int32 [B, L]: [CLS] words [SEP] [PAD]... */
  ids: Tensor;
  /** [B, L] 0/1 attention mask; default ids != padId */
  valid?: Tensor;
  /** the B image ids: equal ids are positives (ITC) and never hard negatives (ITM) */
  imageIds: ArrayLike<number>;
  /** distillation weight of this step */
  alpha: number;
  /** MLM inputs: masked ids int32 [B, L] and labels int32 [B, L] (-100 where not predicted); no MLM when absent */
  mlm?: { ids: Tensor; labels: Tensor };
  /** draws the hard negatives */
  rng: Rng;
}

/** Everything one {@link ALBEF.step} computes (shapes for batch B, text length L, image tokens N + 1). */
export interface AlbefStepOutput {
  /** float32 scalar: itc + itm + mlm */
  total: Tensor;
  parts: { itc: Tensor; itm: Tensor; mlm: Tensor };
  /** float32 [B, N + 1, Dv] online and momentum image embeddings */
  imageEmbeds: Tensor;
  imageEmbedsM: Tensor;
  /** float32 [B, L, D] text-encoder outputs, online and momentum */
  textEmbeds: Tensor;
  textEmbedsM: Tensor;
  /** float32 [B, L, D] fusion outputs of the positive pairs */
  fusionEmbeds: Tensor;
  /** float32 [B, E] projected [CLS] before normalisation, and the normalised features */
  visionProjCls: Tensor;
  textProjCls: Tensor;
  imageFeat: Tensor;
  textFeat: Tensor;
  imageFeatM: Tensor;
  textFeatM: Tensor;
  itc: MomentumContrastiveOutput;
  itm: {
    /** row-major [B, B] sampling weights (text -> image, image -> text) */
    weightsT2i: Float32Array;
    weightsI2t: Float32Array;
    /** chosen negative per text / per image (-1: none exists) */
    negImageForText: Int32Array;
    negTextForImage: Int32Array;
    /** float32 [P - B, L, D] fusion outputs of the negative pairs */
    fusionNeg: Tensor;
    /** float32 [P, D] fusion [CLS] of every pair, positives first */
    vlEmbeddings: Tensor;
    /** float32 [P, 2] ITM logits (class 1 = match) */
    logits: Tensor;
    /** int32 [P] */
    labels: Tensor;
  };
  mlm?: { textEmbeds: Tensor; fusionEmbeds: Tensor; logits: Tensor };
}

/** A batch as the trainer gives it (structurally `ImageTextBatch` of @mmzoo/train). */
export interface AlbefBatch {
  images: Tensor;
  ids: Tensor;
  imageIds: ArrayLike<number>;
  index: number;
  seed: number;
}

/**
 * ALBEF (Li et al. 2021, "Align before Fuse: Vision and Language Representation Learning with Momentum
 * Distillation"): a ViT image encoder, a BERT text encoder and a BERT fusion encoder with cross-attention to the
 * image tokens (section 3.1), trained with image-text contrastive learning against queues of momentum features
 * (ITC, section 3.2), image-text matching on the fusion [CLS] with contrastive hard negatives (ITM) and masked
 * language modelling (MLM), with momentum distillation of ITC and MLM targets (section 3.3).
 *
 * Parameter names follow the authors' release: `visual_encoder.*` (core ViT names; see weights.ts for timm and
 * torchvision layouts), `text_encoder.bert.*`, `text_encoder.cls.predictions.*`, `vision_proj`, `text_proj`, `temp`,
 * `itm_head`, `image_queue`, `text_queue`, `idx_queue`, `queue_ptr`, and the momentum copies `visual_encoder_m`,
 * `vision_proj_m`, `text_encoder_m`, `text_proj_m` (non-trainable parameters: checkpointed, never optimised).
 */
export class ALBEF extends Module implements ItmScorer {
  readonly temp: Variable;
  readonly queue: FeatureQueue;
  readonly momentumPairs: MomentumPairs;

  /**
   * @param online the trainable encoders
   * @param momentumCopy the same architecture again (its `text.cls` only when MLM distillation is on); made
   *   non-trainable and set equal to `online`
   * @param itmHead Linear(D, 2) on the fusion [CLS]
   * @throws Error when textLayers leaves no fusion layer, or the momentum copy does not match
   */
  constructor(readonly online: AlbefEncoders, readonly momentumCopy: AlbefEncoders, readonly itmHead: Linear, readonly opts: AlbefOptions) {
    super();
    const depth = online.text.bert.layers.length;
    if (!(opts.textLayers > 0 && opts.textLayers < depth)) throw new Error(`ALBEF: textLayers ${opts.textLayers} must leave at least one of ${depth} layers for fusion`);
    if (!online.text.cls) throw new Error('ALBEF: the text encoder needs an MLM head (cls)');
    this.module('visual_encoder', online.visual);
    this.module('text_encoder', online.text);
    this.module('vision_proj', online.visionProj);
    this.module('text_proj', online.textProj);
    this.temp = this.param('temp', scalarInit(opts.temp), opts.learnableTemp);
    this.module('itm_head', itmHead);
    this.queue = this.module('', new FeatureQueue({ dim: opts.embedDim, size: opts.queueSize, names: ['image_queue', 'text_queue'] }));
    this.module('visual_encoder_m', momentumCopy.visual);
    this.module('vision_proj_m', momentumCopy.visionProj);
    this.module('text_encoder_m', momentumCopy.text);
    this.module('text_proj_m', momentumCopy.textProj);
    const pairs: [Module, Module][] = [
      [online.visual, momentumCopy.visual], [online.text.bert, momentumCopy.text.bert],
      [online.visionProj, momentumCopy.visionProj], [online.textProj, momentumCopy.textProj],
    ];
    if (opts.mlmDistill) {
      if (!momentumCopy.text.cls) throw new Error('ALBEF: MLM distillation needs the momentum text encoder to have an MLM head');
      pairs.push([online.text.cls, momentumCopy.text.cls]);
    }
    this.momentumPairs = new MomentumPairs(pairs);
    this.momentumPairs.copy();
  }

  /** The 0/1 attention mask `ids != padId`, int32 [B, L]. */
  validMask(ids: Tensor): Tensor {
    return tf.tidy(() => ids.notEqual(tf.scalar(this.opts.padId, 'int32')).toInt());
  }

  /** Image embeddings: all ViT tokens. @param images float32 [B, C, H, W] @returns float32 [B, N + 1, Dv] */
  imageEmbeds(images: Tensor, enc: AlbefEncoders = this.online): Tensor {
    return enc.visual.apply(images).tokens;
  }

  /** Text-encoder outputs (layers [0, T)). @param ids int32 [B, L] @param valid [B, L] @returns float32 [B, L, D] */
  textEmbeds(ids: Tensor, valid: Tensor, enc: AlbefEncoders = this.online): Tensor {
    return enc.text.bert.apply(ids, valid, { to: this.opts.textLayers });
  }

  /**
   * Fusion-encoder outputs (layers [T, L), cross-attending to the image embeddings, no image mask).
   * @param text float32 [K, L, D] text-encoder outputs @param valid [K, L] @param image float32 [K, N + 1, Dv]
   * @returns float32 [K, L, D]
   */
  fuse(text: Tensor, valid: Tensor, image: Tensor, enc: AlbefEncoders = this.online): Tensor {
    return enc.text.bert.encode(text, valid, { context: image, from: this.opts.textLayers });
  }

  /** Projected image [CLS], not normalised (DualEncoder). @param images float32 [B, C, H, W] @returns float32 [B, E] */
  encodeImage(images: Tensor): Tensor {
    return tf.tidy(() => this.online.visionProj.apply(first(this.imageEmbeds(images))));
  }

  /** Projected text [CLS], not normalised (DualEncoder). @param ids int32 [B, L] @returns float32 [B, E] */
  encodeText(ids: Tensor): Tensor {
    return tf.tidy(() => this.online.textProj.apply(first(this.textEmbeds(ids, this.validMask(ids)))));
  }

  /**
   * ITM logits of image-text pairs from precomputed embeddings (retrieval re-ranking, section 4.1).
   * @param image float32 [K, N + 1, Dv] @param text float32 [K, L, D] text-encoder outputs @param valid [K, L]
   * @returns float32 [K, 2]; column 1 is the match logit
   */
  itmLogits(image: Tensor, text: Tensor, valid: Tensor): Tensor {
    return tf.tidy(() => this.itmHead.apply(first(this.fuse(text, valid, image))));
  }

  /** ItmScorer: the image tokens to cache per gallery image. @param images float32 [B, C, H, W] @returns float32 [B, N + 1, Dv] */
  itmImageFeatures(images: Tensor): Tensor {
    return this.imageEmbeds(images);
  }

  /** ItmScorer: text-encoder states and attention mask per caption. @param ids int32 [B, L] @returns [float32 [B, L, D], int32 [B, L]] */
  itmTextFeatures(ids: Tensor): Tensor[] {
    return tf.tidy(() => {
      const valid = this.validMask(ids);
      return [this.textEmbeds(ids, valid), valid];
    });
  }

  /**
   * ItmScorer: the match log-odds `logit_match - logit_no_match` of K pairs (> 0: predicted match).
   * @param image float32 [K, N + 1, Dv] @param text [states float32 [K, L, D], valid [K, L]] @returns float32 [K]
   */
  itmScore(image: Tensor, text: Tensor[]): Tensor {
    return tf.tidy(() => itmLogOdds(this.itmLogits(image, text[0], text[1])));
  }

  /** Clamps tau into tempClamp in place (no gradient), as the authors do at the start of each forward. */
  clampTemp(): void {
    clampTemperature(this.temp, this.opts.tempClamp);
  }

  /** alpha at micro-batch `index`: linear ramp from 0 over alphaRampSteps, then constant. */
  alphaAt(index: number): number {
    return distillationAlpha(this.opts.alpha, this.opts.alphaRampSteps, index);
  }

  /**
   * One pre-training forward with every intermediate (what the parity test checks). In order, as the reference
   * code: clamp tau and update the momentum model (no gradient); encode; ITC against [momentum features | queue]
   * (queue as before this step); enqueue the momentum features; sample hard negatives from the online similarities
   * of the batch; ITM on the positive and negative pairs; MLM through text and fusion encoders, distilled from the
   * momentum model when mlmDistill. Momentum outputs, targets and negative choices are constants for autograd.
   * Call inside `tf.variableGrads` to train; the returned tensors belong to the caller.
   * @throws Error from the parts on inconsistent shapes
   */
  step(x: AlbefStepInputs): AlbefStepOutput {
    this.clampTemp();
    this.momentumPairs.update(this.opts.momentum);
    const m = this.momentumCopy;
    const hostIds = Array.from(x.imageIds);
    let itmHost!: { weightsT2i: Float32Array; weightsI2t: Float32Array; negImageForText: Int32Array; negTextForImage: Int32Array };
    const out = tf.tidy(() => {
      const b = x.ids.shape[0] as number;
      const valid = x.valid ?? this.validMask(x.ids);
      const imageEmbeds = this.imageEmbeds(x.images);
      const visionProjCls = this.online.visionProj.apply(first(imageEmbeds));
      const imageFeat = l2Normalize(visionProjCls);
      const textEmbeds = this.textEmbeds(x.ids, valid);
      const textProjCls = this.online.textProj.apply(first(textEmbeds));
      const textFeat = l2Normalize(textProjCls);

      const imageEmbedsM = stopGradient(this.imageEmbeds(x.images, m));
      const imageFeatM = stopGradient(l2Normalize(m.visionProj.apply(first(imageEmbedsM))));
      const textEmbedsM = stopGradient(this.textEmbeds(x.ids, valid, m));
      const textFeatM = stopGradient(l2Normalize(m.textProj.apply(first(textEmbedsM))));

      const itc = momentumContrastiveLoss({
        imageFeat, textFeat, imageFeatM, textFeatM, imageQueue: this.queue.get('image_queue'), textQueue: this.queue.get('text_queue'),
        ids: hostIds, queueIds: this.queue.queuedIds(), temp: this.temp, alpha: x.alpha,
      });
      this.queue.enqueue({ image_queue: imageFeatM, text_queue: textFeatM }, hostIds);

      // ITM with contrastive hard negatives (section 3.2): a negative image per text, then a negative text per image
      const pairs = sampleItmPairs(itc.simI2t, itc.simT2i, hostIds, x.rng, { eps: this.opts.hardNegativeEps });
      itmHost = { weightsT2i: pairs.weightsT2i, weightsI2t: pairs.weightsI2t, negImageForText: pairs.negImageForText, negTextForImage: pairs.negTextForImage };
      const fusion = this.fuse(gatherRows(textEmbeds, pairs.textIndex), tf.gather(valid, pairs.textIndex), gatherRows(imageEmbeds, pairs.imageIndex));
      const p = pairs.labels.length;
      const [, l, d] = fusion.shape as number[];
      const vlEmbeddings = first(fusion);
      const itmLogits = this.itmHead.apply(vlEmbeddings);
      const itmLabels = tf.tensor1d(pairs.labels, 'int32');
      const itm = crossEntropy(itmLogits, itmLabels);

      let mlm: Tensor = tf.scalar(0);
      let mlmOut: AlbefStepOutput['mlm'];
      if (x.mlm) {
        const maskedText = this.textEmbeds(x.mlm.ids, valid);
        const maskedFusion = this.fuse(maskedText, valid, imageEmbeds);
        const logits = this.online.text.cls!.apply(maskedFusion);
        const v = logits.shape[2] as number;
        const flat = logits.reshape([-1, v]);
        const labels = x.mlm.labels.reshape([-1]);
        mlm = crossEntropy(flat, labels);
        if (this.opts.mlmDistill && x.alpha > 0) {
          // section 3.3 eq. 7: cross-entropy against the momentum model's predicted vocabulary distribution
          const fusedM = this.fuse(this.textEmbeds(x.mlm.ids, valid, m), valid, imageEmbedsM, m);
          const soft = stopGradient(tf.softmax(m.text.cls!.apply(fusedM).reshape([-1, v]), -1));
          const labelled = labels.notEqual(tf.scalar(-100, 'int32')).toFloat();
          const perToken = soft.mul(logSoftmax(flat)).sum(-1).neg();
          const distill = perToken.mul(labelled).sum().div(labelled.sum().maximum(tf.scalar(1)));
          mlm = mlm.mul(1 - x.alpha).add(distill.mul(x.alpha));
        }
        mlmOut = { textEmbeds: maskedText, fusionEmbeds: maskedFusion, logits };
      }
      const itcLoss = itc.total;
      return {
        total: itcLoss.add(itm).add(mlm), parts: { itc: itcLoss, itm, mlm },
        imageEmbeds, imageEmbedsM, textEmbeds, textEmbedsM, fusionEmbeds: fusion.slice([0, 0, 0], [b, l, d]),
        visionProjCls, textProjCls, imageFeat, textFeat, imageFeatM, textFeatM, itc,
        itm: { fusionNeg: fusion.slice([b, 0, 0], [p - b, l, d]), vlEmbeddings, logits: itmLogits, labels: itmLabels },
        mlm: mlmOut,
      };
    });
    return { ...out, itm: { ...out.itm, ...itmHost } };
  }

  /**
   * MLM corruption of a batch (section 3.2, BERT's recipe): each non-special token is selected with
   * mlmProbability; selected tokens become [MASK] (80%), a random non-special id (10%) or stay (10%). Ids below
   * numSpecial ([PAD], [CLS], [SEP], [MASK], ...) are never selected nor drawn. Rows may have no selected token.
   * @param ids int32 row-major [B, L] @returns masked ids and labels (-100 where not selected), row-major [B, L]
   */
  mlmMask(ids: Int32Array, shape: [number, number], rng: Rng): MaskedTokens {
    return maskTokens(ids, shape, rng, {
      probability: this.opts.mlmProbability, maskId: this.opts.maskId, vocabSize: this.online.text.bert.opts.vocabSize,
      special: Array.from({ length: this.opts.numSpecial }, (_, i) => i), firstRandomId: this.opts.numSpecial, atLeastOne: false,
    });
  }

  /**
   * The trainer's objective ITC + ITM + MLM (section 3.2) on a batch. Randomness (MLM masks, hard negatives) comes
   * from `new Rng(batch.seed).fork('albef-<index>')`, so a resumed run repeats it exactly; alpha follows
   * {@link alphaAt}.
   */
  trainingLoss(batch: AlbefBatch): LossOutput {
    const rng = new Rng(batch.seed).fork(`albef-${batch.index}`);
    const [b, l] = batch.ids.shape as number[];
    const masked = this.mlmMask(batch.ids.dataSync() as Int32Array, [b, l], rng.fork('mlm'));
    return tf.tidy(() => {
      const out = this.step({
        images: batch.images, ids: batch.ids, imageIds: batch.imageIds, alpha: this.alphaAt(batch.index), rng: rng.fork('negatives'),
        mlm: { ids: tf.tensor2d(masked.ids, [b, l], 'int32'), labels: tf.tensor2d(masked.labels, [b, l], 'int32') },
      });
      return { total: out.total, parts: out.parts };
    });
  }
}

/** Token 0 ([CLS]) of [B, N, D] states: float32 [B, D]. */
function first(x: Tensor): Tensor {
  const [b, , d] = x.shape as number[];
  return x.slice([0, 0, 0], [b, 1, d]).reshape([b, d]);
}

/**
 * Builds ALBEF from a `model:` config: the encoders twice (online and momentum), the ITM head and the queues.
 * @param parts the tokenizer's vocabulary size and padding id, used where the config leaves them out
 * @throws ZodError for an invalid config; Error when no vocabulary size is known
 */
export function buildAlbef(input: AlbefConfigInput | AlbefConfig, parts: BuildParts = {}): ALBEF {
  const cfg = AlbefConfigSchema.parse(input);
  const v = cfg.vision;
  const t = cfg.text;
  const vocabSize = resolveVocabSize(t.vocabSize, parts);
  const encoders = (withHead: boolean): AlbefEncoders => {
    const visual = new VisionTransformer({
      imageSize: v.imageSize, patchSize: v.patchSize, channels: v.channels, width: v.width, layers: v.layers, numHeads: v.numHeads,
      mlpWidth: Math.round(v.width * v.mlpRatio), activation: 'gelu', lnEps: v.lnEps, lnPre: false, lnPost: true, patchBias: true,
    });
    const bert = new BertEncoder({
      vocabSize, maxPositions: t.contextLength, width: t.width, layers: t.textLayers + t.fusionLayers, numHeads: t.numHeads,
      mlpWidth: Math.round(t.width * t.mlpRatio), lnEps: t.lnEps, typeVocabSize: t.typeVocabSize, maskValue: t.maskValue,
      crossAttention: { kvWidth: v.width, fromLayer: t.textLayers }, std: t.initStd,
    });
    const cls = withHead ? new BertLMHead({
      width: t.width, vocabSize, lnEps: t.lnEps, tiedWeight: cfg.tieMlmHead ? bert.embeddings.wordEmbeddings.weight : undefined, std: t.initStd,
    }) : undefined;
    return {
      visual, text: new BertWithLMHead(bert, cls),
      visionProj: new Linear(v.width, cfg.embedDim), textProj: new Linear(t.width, cfg.embedDim),
    };
  };
  const online = encoders(true);
  const itmHead = new Linear(t.width, 2);
  const momentum = encoders(cfg.mlmDistill);
  return new ALBEF(online, momentum, itmHead, {
    textLayers: t.textLayers, embedDim: cfg.embedDim, queueSize: cfg.queueSize, momentum: cfg.momentum, temp: cfg.temp, learnableTemp: cfg.learnableTemp,
    tempClamp: cfg.tempClamp, alpha: cfg.alpha, alphaRampSteps: cfg.alphaRampSteps, mlmProbability: cfg.mlmProbability,
    mlmDistill: cfg.mlmDistill, hardNegativeEps: cfg.hardNegativeEps, padId: t.padId ?? parts.padId ?? 0, maskId: t.maskId,
    numSpecial: t.numSpecial,
  });
}
