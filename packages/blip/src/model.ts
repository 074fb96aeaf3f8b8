import {
  itmLogOdds, clampTemperature, distillationAlpha,
  BertEncoder, BertLMHead, BertWithLMHead, FeatureQueue, GenerateOptions, GenerateResult, Linear, LossOutput, Module, MomentumContrastiveOutput, MomentumPairs, Rng,
  Tensor, Variable, VisionTransformer, crossEntropy, gatherRows, generate, l2Normalize, momentumContrastiveLoss, sampleItmPairs, stopGradient, tf, scalarInit,
  resolveVocabSize,
} from '@mmzoo/core';
import type { BuildParts } from '@mmzoo/core';
import type { ItmScorer } from '@mmzoo/core';
import { BlipConfig, BlipConfigInput, BlipConfigSchema } from './config';

/** The ITC towers of BLIP (also the shape of the momentum copy). */
export interface BlipEncoders {
  /** ViT image encoder; `tokens` [B, 1 + N, Dv] are the image embeddings */
  visual: VisionTransformer;
  /** the MED text transformer: unimodal encoder without context, image-grounded encoder with it (section 3.1) */
  text: BertEncoder;
  visionProj: Linear;
  textProj: Linear;
}

/** Options of {@link BLIP} (the non-architectural part of {@link BlipConfig}). */
export interface BlipOptions {
  embedDim: number;
  queueSize: number;
  momentum: number;
  temp: number;
  /** whether tau is a trainable parameter (it is saved either way) */
  learnableTemp: boolean;
  tempClamp: [number, number] | null;
  alpha: number;
  alphaRampSteps: number;
  labelSmoothing: number;
  hardNegativeEps: number;
  padId: number;
  /** [ENC]: replaces [CLS] for the image-grounded text encoder (ITM) */
  encId: number;
  /** [DEC] (BLIP's bos): replaces [CLS] for the image-grounded text decoder (LM) */
  decId: number;
}

/** Inputs of one {@link BLIP.step}. */
export interface BlipStepInputs {
  /** float32 [B, C, H, W] */
  images: Tensor;
  /** int32 [B, L]: [CLS] words [SEP] [PAD]... */
  ids: Tensor;
  /** [B, L] 0/1 attention mask; default ids != padId */
  valid?: Tensor;
  /** the B image ids (equal ids: ITC positives, never ITM negatives) */
  imageIds: ArrayLike<number>;
  /** ITC distillation weight of this step */
  alpha: number;
  /** draws the hard negatives */
  rng: Rng;
}

/** Everything one {@link BLIP.step} computes (batch B, text length L, image tokens N + 1, vocabulary V). */
export interface BlipStepOutput {
  /** float32 scalar: itc + itm + lm (pretrain.py) */
  total: Tensor;
  /** the objective terms; `lmNll` is the unsmoothed LM negative log-likelihood (reported, not optimised) */
  parts: { itc: Tensor; itm: Tensor; lm: Tensor; lmNll: Tensor };
  /** float32 [B, N + 1, Dv] */
  imageEmbeds: Tensor;
  /** float32 [B, L, D] unimodal text encoder output */
  textEmbeds: Tensor;
  imageFeat: Tensor;
  textFeat: Tensor;
  imageFeatM: Tensor;
  textFeatM: Tensor;
  itc: MomentumContrastiveOutput;
  itm: {
    /** int32 [B, L] ids with [ENC] first */
    encoderIds: Tensor;
    weightsT2i: Float32Array;
    weightsI2t: Float32Array;
    negImageForText: Int32Array;
    negTextForImage: Int32Array;
    /** text and image index of each scored pair, positives first */
    textIndex: Int32Array;
    imageIndex: Int32Array;
    /** float32 [P, D] image-grounded encoder [CLS] of each pair */
    vlEmbeddings: Tensor;
    /** float32 [P, 2] (class 1 = match) */
    logits: Tensor;
    labels: Tensor;
  };
  lm: {
    /** int32 [B, L] ids with [DEC] first, and the targets (-100 on padding) */
    decoderIds: Tensor;
    targets: Tensor;
    /** float32 [B, L, V] next-token logits of the image-grounded decoder */
    logits: Tensor;
  };
}

/** A batch as the trainer gives it (structurally `ImageTextBatch` of @mmzoo/train). */
export interface BlipBatch {
  images: Tensor;
  ids: Tensor;
  imageIds: ArrayLike<number>;
  index: number;
  seed: number;
}

/**
 * BLIP (Li et al. 2022, "BLIP: Bootstrapping Language-Image Pre-training for Unified Vision-Language Understanding
 * and Generation"), the pre-training model (MED, section 3.1-3.2): a ViT; a unimodal BERT text encoder for ITC with
 * momentum encoders, queues and distillation (as ALBEF); the same encoder with cross-attention and an [ENC] token
 * for ITM with contrastive hard negatives; an image-grounded causal decoder with a [DEC] token for LM, sharing every
 * parameter with the encoder except self-attention (one tensor each, not copies), whose LM head is tied to the
 * word embeddings.
 *
 * Names follow salesforce/BLIP `BLIP_Pretrain`: `visual_encoder.*` (core ViT names; timm names load through
 * weights.ts), `text_encoder.*` (HF BERT), `text_decoder.bert.encoder.layer.{i}.attention.*`,
 * `text_decoder.cls.predictions.*`, `vision_proj`, `text_proj`, `itm_head`, `temp`, queues and the `_m` copies.
 */
export class BLIP extends Module implements ItmScorer {
  readonly temp: Variable;
  readonly queue: FeatureQueue;
  readonly momentumPairs: MomentumPairs;

  /**
   * @param online the trainable towers
   * @param momentumCopy the same architecture again; made non-trainable and set equal to `online`
   * @param decoder the image-grounded decoder: a BertEncoder built with `share = online.text` and a tied LM head
   * @param itmHead Linear(D, 2)
   * @throws Error when the decoder does not share the encoder's cross-attention
   */
  constructor(
    readonly online: BlipEncoders, readonly momentumCopy: BlipEncoders, readonly decoder: BertWithLMHead, readonly itmHead: Linear,
    readonly opts: BlipOptions,
  ) {
    super();
    if (!decoder.cls) throw new Error('BLIP: the text decoder needs an LM head');
    if (decoder.bert.layers[0]?.crossAttention !== online.text.layers[0]?.crossAttention) {
      throw new Error('BLIP: the decoder must share the encoder\'s cross-attention and feed-forward layers (build it with share = encoder)');
    }
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
    this.module('text_decoder', decoder);
    this.momentumPairs = new MomentumPairs([
      [online.visual, momentumCopy.visual], [online.text, momentumCopy.text],
      [online.visionProj, momentumCopy.visionProj], [online.textProj, momentumCopy.textProj],
    ]);
    this.momentumPairs.copy();
  }

  /** The 0/1 attention mask `ids != padId`, int32 [B, L]. */
  validMask(ids: Tensor): Tensor {
    return tf.tidy(() => ids.notEqual(tf.scalar(this.opts.padId, 'int32')).toInt());
  }

  /** `ids` with its first column replaced by `first` ([ENC] or [DEC]), int32 [B, L]. */
  withFirstToken(ids: Tensor, first: number): Tensor {
    return tf.tidy(() => {
      const [b, l] = ids.shape as number[];
      return tf.concat([tf.fill([b, 1], first, 'int32'), ids.slice([0, 1], [b, l - 1])], 1);
    });
  }

  /** Image embeddings: all ViT tokens. @param images float32 [B, C, H, W] @returns float32 [B, N + 1, Dv] */
  imageEmbeds(images: Tensor, enc: BlipEncoders = this.online): Tensor {
    return enc.visual.apply(images).tokens;
  }

  /** Unimodal text encoder (no cross-attention). @param ids int32 [B, L] @returns float32 [B, L, D] */
  textEmbeds(ids: Tensor, valid: Tensor, enc: BlipEncoders = this.online): Tensor {
    return enc.text.apply(ids, valid);
  }

  /** Projected image [CLS], not normalised (DualEncoder). @returns float32 [B, E] */
  encodeImage(images: Tensor): Tensor {
    return tf.tidy(() => this.online.visionProj.apply(first(this.imageEmbeds(images))));
  }

  /** Projected text [CLS] of the unimodal encoder, not normalised (DualEncoder). @returns float32 [B, E] */
  encodeText(ids: Tensor): Tensor {
    return tf.tidy(() => this.online.textProj.apply(first(this.textEmbeds(ids, this.validMask(ids)))));
  }

  /**
   * ITM logits of the image-grounded text encoder.
   * @param image float32 [K, N + 1, Dv] @param encoderIds int32 [K, L] with [ENC] first @param valid [K, L]
   * @returns float32 [K, 2]; column 1 is the match logit
   */
  itmLogits(image: Tensor, encoderIds: Tensor, valid: Tensor): Tensor {
    return tf.tidy(() => this.itmHead.apply(first(this.online.text.apply(encoderIds, valid, { context: image }))));
  }

  /**
   * Next-token logits of the image-grounded decoder (causal self-attention, cross-attention to the image).
   * @param image float32 [B, N + 1, Dv] @param decoderIds int32 [B, L] with [DEC] first @param valid [B, L]
   * @returns float32 [B, L, V]: row t predicts token t + 1
   */
  lmLogits(image: Tensor, decoderIds: Tensor, valid: Tensor): Tensor {
    return tf.tidy(() => this.decoder.cls!.apply(this.decoder.bert.apply(decoderIds, valid, { context: image, causal: true })));
  }

  /**
   * Captions images with the image-grounded decoder (section 3.1; used by CapFilt's captioner, section 3.3): decoding
   * starts from [DEC] and runs through core `generate` (greedy, beam or nucleus). The prefix is re-encoded at every
   * step (no key/value cache).
   * @param images float32 [B, C, H, W]
   * @param opts decoding options; suppress [ENC], [DEC], [PAD] and other specials through `suppressIds`
   * @returns sequences without the [DEC] prompt in `tokens`
   * @throws RangeError when maxLength does not fit the text context after [DEC]
   */
  caption(images: Tensor, opts: GenerateOptions): GenerateResult {
    const room = this.decoder.bert.opts.maxPositions - 1;
    if (opts.maxLength > room) throw new RangeError(`caption maxLength ${opts.maxLength} exceeds the text context (at most ${room} after [DEC])`);
    const image = tf.keep(tf.tidy(() => this.imageEmbeds(images)));
    try {
      const next = (prefixes: number[][], sources: number[]): Float32Array[] => tf.tidy(() => {
        const [n, l] = [prefixes.length, prefixes[0].length];
        const ids = tf.tensor2d(Int32Array.from(prefixes.flat()), [n, l], 'int32');
        const logits = this.lmLogits(tf.gather(image, Int32Array.from(sources)), ids, tf.onesLike(ids));
        const v = logits.shape[2] as number;
        const last = logits.slice([0, l - 1, 0], [n, 1, v]).reshape([n, v]).dataSync() as Float32Array;
        return Array.from({ length: n }, (_, i) => last.slice(i * v, (i + 1) * v));
      });
      return generate(next, Array.from({ length: images.shape[0] as number }, () => [this.opts.decId]), opts);
    } finally {
      image.dispose();
    }
  }

  /** ItmScorer: image tokens to cache per gallery image. @returns float32 [B, N + 1, Dv] */
  itmImageFeatures(images: Tensor): Tensor {
    return this.imageEmbeds(images);
  }

  /** ItmScorer: [ENC]-first ids and attention mask per caption. @returns [int32 [B, L], int32 [B, L]] */
  itmTextFeatures(ids: Tensor): Tensor[] {
    return tf.tidy(() => [this.withFirstToken(ids, this.opts.encId), this.validMask(ids)]);
  }

  /** ItmScorer: match log-odds of K pairs (> 0: predicted match). @returns float32 [K] */
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
   * One pre-training forward (BLIP_Pretrain.forward) with every intermediate: clamp tau and update the momentum
   * encoders (no gradient); ITC of the unimodal encoders against [momentum features | queue] with soft targets;
   * enqueue; ITM of the image-grounded encoder ([ENC]) on the positives and one hard negative image per text and text
   * per image; LM of the image-grounded decoder ([DEC], causal) with label smoothing. Call inside
   * `tf.variableGrads` to train; the returned tensors belong to the caller.
   */
  step(x: BlipStepInputs): BlipStepOutput {
    this.clampTemp();
    this.momentumPairs.update(this.opts.momentum);
    const m = this.momentumCopy;
    const hostIds = Array.from(x.imageIds);
    let host!: Pick<BlipStepOutput['itm'], 'weightsT2i' | 'weightsI2t' | 'negImageForText' | 'negTextForImage' | 'textIndex' | 'imageIndex'>;
    const out = tf.tidy(() => {
      const [b, l] = x.ids.shape as number[];
      const valid = x.valid ?? this.validMask(x.ids);
      const imageEmbeds = this.imageEmbeds(x.images);
      const imageFeat = l2Normalize(this.online.visionProj.apply(first(imageEmbeds)));
      const textEmbeds = this.textEmbeds(x.ids, valid);
      const textFeat = l2Normalize(this.online.textProj.apply(first(textEmbeds)));

      const imageFeatM = stopGradient(l2Normalize(m.visionProj.apply(first(this.imageEmbeds(x.images, m)))));
      const textFeatM = stopGradient(l2Normalize(m.textProj.apply(first(this.textEmbeds(x.ids, valid, m)))));
      const itc = momentumContrastiveLoss({
        imageFeat, textFeat, imageFeatM, textFeatM, imageQueue: this.queue.get('image_queue'), textQueue: this.queue.get('text_queue'),
        ids: hostIds, queueIds: this.queue.queuedIds(), temp: this.temp, alpha: x.alpha,
      });
      this.queue.enqueue({ image_queue: imageFeatM, text_queue: textFeatM }, hostIds);

      // ITM (section 3.2): the image-grounded encoder on positives, then a negative image per text, a negative text per image
      const encoderIds = this.withFirstToken(x.ids, this.opts.encId);
      const pairs = sampleItmPairs(itc.simI2t, itc.simT2i, hostIds, x.rng, { eps: this.opts.hardNegativeEps });
      host = {
        weightsT2i: pairs.weightsT2i, weightsI2t: pairs.weightsI2t, negImageForText: pairs.negImageForText,
        negTextForImage: pairs.negTextForImage, textIndex: pairs.textIndex, imageIndex: pairs.imageIndex,
      };
      const grounded = this.online.text.apply(tf.gather(encoderIds, pairs.textIndex), tf.gather(valid, pairs.textIndex), {
        context: gatherRows(imageEmbeds, pairs.imageIndex),
      });
      const vlEmbeddings = first(grounded);
      const itmLogits = this.itmHead.apply(vlEmbeddings);
      const itmLabels = tf.tensor1d(pairs.labels, 'int32');
      const itm = crossEntropy(itmLogits, itmLabels);

      // LM (section 3.2): predict token t + 1 from tokens <= t and the image; padding is ignored
      const decoderIds = this.withFirstToken(x.ids, this.opts.decId);
      const targets = tf.where(valid.cast('bool'), decoderIds, tf.fill([b, l], -100, 'int32'));
      const logits = this.lmLogits(imageEmbeds, decoderIds, valid);
      const v = logits.shape[2] as number;
      const shiftedLogits = logits.slice([0, 0, 0], [b, l - 1, v]).reshape([-1, v]);
      const shiftedTargets = targets.slice([0, 1], [b, l - 1]).reshape([-1]);
      const lm = crossEntropy(shiftedLogits, shiftedTargets, { labelSmoothing: this.opts.labelSmoothing });
      const lmNll = this.opts.labelSmoothing > 0 ? stopGradient(crossEntropy(shiftedLogits, shiftedTargets)) : stopGradient(lm);

      const itcLoss = itc.total;
      return {
        total: itcLoss.add(itm).add(lm), parts: { itc: itcLoss, itm, lm, lmNll },
        imageEmbeds, textEmbeds, imageFeat, textFeat, imageFeatM, textFeatM, itc,
        itm: { encoderIds, vlEmbeddings, logits: itmLogits, labels: itmLabels },
        lm: { decoderIds, targets, logits },
      };
    });
    return { ...out, itm: { ...out.itm, ...host } };
  }

  /**
   * The trainer's objective ITC + ITM + LM (BLIP pretrain.py), parts `itc`, `itm`, `lm` and the unsmoothed `lmNll`
   * (reported only). Hard negatives come from `new Rng(batch.seed).fork('blip-<index>')`, so a resumed run repeats
   * them exactly; alpha follows {@link alphaAt}.
   */
  trainingLoss(batch: BlipBatch): LossOutput {
    const rng = new Rng(batch.seed).fork(`blip-${batch.index}`);
    return tf.tidy(() => {
      const out = this.step({ images: batch.images, ids: batch.ids, imageIds: batch.imageIds, alpha: this.alphaAt(batch.index), rng });
      return { total: out.total, parts: out.parts };
    });
  }
}

/** Token 0 of [B, N, D] states: float32 [B, D]. */
function first(x: Tensor): Tensor {
  const [b, , d] = x.shape as number[];
  return x.slice([0, 0, 0], [b, 1, d]).reshape([b, d]);
}

/**
 * Builds BLIP from a `model:` config: the ITC towers twice (online and momentum), the decoder sharing all but
 * self-attention with the online encoder, its LM head tied to the word embeddings, the ITM head and the queues.
 * Without configured [ENC]/[DEC] ids the vocabulary is extended by two rows for them (ids V and V + 1).
 * @param parts the tokenizer's vocabulary size and padding id, used where the config leaves them out
 * @throws ZodError for an invalid config; Error when no vocabulary size is known
 */
export function buildBlip(input: BlipConfigInput | BlipConfig, parts: BuildParts = {}): BLIP {
  const cfg = BlipConfigSchema.parse(input);
  const v = cfg.vision;
  const t = cfg.text;
  const baseVocab = resolveVocabSize(t.vocabSize, parts);
  const encId = t.encId ?? baseVocab;
  const decId = t.decId ?? (t.encId === undefined ? baseVocab + 1 : baseVocab);
  const vocabSize = Math.max(baseVocab, encId + 1, decId + 1);
  const towers = (): BlipEncoders => ({
    visual: new VisionTransformer({
      imageSize: v.imageSize, patchSize: v.patchSize, channels: v.channels, width: v.width, layers: v.layers, numHeads: v.numHeads,
      mlpWidth: Math.round(v.width * v.mlpRatio), activation: 'gelu', lnEps: v.lnEps, lnPre: false, lnPost: true, patchBias: true,
    }),
    text: new BertEncoder(textOptions()),
    visionProj: new Linear(v.width, cfg.embedDim),
    textProj: new Linear(t.width, cfg.embedDim),
  });
  function textOptions() {
    return {
      vocabSize, maxPositions: t.contextLength, width: t.width, layers: t.layers, numHeads: t.numHeads,
      mlpWidth: Math.round(t.width * t.mlpRatio), lnEps: t.lnEps, typeVocabSize: t.typeVocabSize, maskValue: t.maskValue,
      crossAttention: { kvWidth: v.width }, std: t.initStd,
    };
  }
  const online = towers();
  const itmHead = new Linear(t.width, 2);
  const momentum = towers();
  const decoderBert = new BertEncoder(textOptions(), online.text);
  const decoder = new BertWithLMHead(decoderBert, new BertLMHead({
    width: t.width, vocabSize, lnEps: t.lnEps, tiedWeight: online.text.embeddings.wordEmbeddings.weight, std: t.initStd,
  }));
  return new BLIP(online, momentum, decoder, itmHead, {
    embedDim: cfg.embedDim, queueSize: cfg.queueSize, momentum: cfg.momentum, temp: cfg.temp, learnableTemp: cfg.learnableTemp, tempClamp: cfg.tempClamp,
    alpha: cfg.alpha, alphaRampSteps: cfg.alphaRampSteps, labelSmoothing: cfg.labelSmoothing, hardNegativeEps: cfg.hardNegativeEps,
    padId: t.padId ?? parts.padId ?? 0, encId, decId,
  });
}
