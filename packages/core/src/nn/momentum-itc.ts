import { tf, Tensor, Variable } from '../tf';
import type { VitConfig } from '../config/vit';
import { Rng } from '../data/rng';
import { crossEntropy } from '../losses/cross-entropy';
import { l2Normalize } from '../losses/contrastive';
import { SampledItmPairs, sampleItmPairs } from '../losses/hard-negatives';
import { ItmScorer, itmLogOdds } from '../losses/itm';
import {
  MomentumContrastiveOutput, clampTemperature, distillationAlpha, momentumContrastiveLoss,
} from '../losses/momentum-contrastive';
import { firstToken } from '../ops/first-token';
import { stopGradient } from '../ops/stop-gradient';
import { FeatureQueue } from './feature-queue';
import { scalarInit } from './init';
import { Linear } from './linear';
import { Module } from './module';
import { MomentumPairs } from './momentum';
import { VisionTransformer, timmVisionTransformer } from './vision-transformer';

/**
 * The towers of image-text contrastive learning (ITC) of ALBEF (Li et al. 2021, section 3.1-3.2) and BLIP (Li et
 * al. 2022, section 3.2), and the shape of their momentum copy.
 * @typeParam T the text encoder (ALBEF: BERT with its MLM head; BLIP: the MED's BERT)
 */
export interface ItcTowers<T extends Module = Module> {
  /** ViT image encoder; its `tokens` output [B, 1 + N, Dv] are the image embeddings */
  visual: VisionTransformer;
  text: T;
  /** [CLS] projections g_v, g_w to the ITC space, [Dv -> E] and [D -> E] */
  visionProj: Linear;
  textProj: Linear;
}

/**
 * Builds {@link ItcTowers} in the authors' order: the image encoder (a timm-style ViT from `model.vision`), the text
 * encoder, then the two [CLS] projections to `embedDim` (the order of the initial weights' seeds).
 * @param makeText builds the text encoder
 * @param textWidth D, the width of the text encoder's [CLS] state
 */
export function buildItcTowers<T extends Module>(vision: VitConfig, embedDim: number, textWidth: number, makeText: () => T): ItcTowers<T> {
  const visual = timmVisionTransformer(vision);
  const text = makeText();
  return { visual, text, visionProj: new Linear(vision.width, embedDim), textProj: new Linear(textWidth, embedDim) };
}

/** Options of a {@link MomentumItcModel} (the `momentumItcShape` and `itmShape` keys of its config). */
export interface MomentumItcOptions {
  embedDim: number;
  queueSize: number;
  momentum: number;
  /** initial temperature tau, and whether it is trained (it is saved either way) */
  temp: number;
  learnableTemp: boolean;
  tempClamp: [number, number] | null;
  alpha: number;
  alphaRampSteps: number;
  hardNegativeEps: number;
  padId: number;
}

/**
 * The {@link MomentumItcOptions} of a validated config holding core's `momentumItcShape` and `itmShape` keys.
 * @param padId the padding id (the config's, else the tokenizer's)
 */
export function momentumItcOptions(cfg: Omit<MomentumItcOptions, 'padId'>, padId: number): MomentumItcOptions {
  return {
    embedDim: cfg.embedDim, queueSize: cfg.queueSize, momentum: cfg.momentum, temp: cfg.temp, learnableTemp: cfg.learnableTemp,
    tempClamp: cfg.tempClamp, alpha: cfg.alpha, alphaRampSteps: cfg.alphaRampSteps, hardNegativeEps: cfg.hardNegativeEps, padId,
  };
}

/** Inputs of one pre-training step of a {@link MomentumItcModel}. */
export interface MomentumItcStepInputs {
  /** float32 [B, C, H, W] */
  images: Tensor;
  /** int32 [B, L]: [CLS] words [SEP] [PAD]... */
  ids: Tensor;
  /** [B, L] 0/1 attention mask; default ids != padId */
  valid?: Tensor;
  /** the B image ids: equal ids are ITC positives and never ITM negatives */
  imageIds: ArrayLike<number>;
  /** distillation weight of this step */
  alpha: number;
  /** draws the hard negatives */
  rng: Rng;
}

/** The ITC half of a step (batch B, text length L, image tokens N + 1). A type, so that it can leave `tf.tidy`. */
export type MomentumItcStates = {
  /** [B, L] the attention mask used */
  valid: Tensor;
  /** float32 [B, N + 1, Dv] online and momentum image embeddings */
  imageEmbeds: Tensor;
  imageEmbedsM: Tensor;
  /** float32 [B, L, D] text-encoder outputs, online and momentum */
  textEmbeds: Tensor;
  textEmbedsM: Tensor;
  /** float32 [B, E] projected [CLS] before normalisation, and the normalised features (online, momentum) */
  visionProjCls: Tensor;
  textProjCls: Tensor;
  imageFeat: Tensor;
  textFeat: Tensor;
  imageFeatM: Tensor;
  textFeatM: Tensor;
  itc: MomentumContrastiveOutput;
};

/** The ITM half of a step: P = B positive pairs, then the negatives (a type, so that it can leave `tf.tidy`). */
export type MomentumItmOutput = {
  /** row-major [B, B] sampling weights (text -> image, image -> text) */
  weightsT2i: Float32Array;
  weightsI2t: Float32Array;
  /** chosen negative per text / per image (-1: none exists) */
  negImageForText: Int32Array;
  negTextForImage: Int32Array;
  /** text and image index of each scored pair, positives first */
  textIndex: Int32Array;
  imageIndex: Int32Array;
  /** float32 [P, L, D] image-grounded (fusion) states of every pair */
  pairStates: Tensor;
  /** float32 [P, D] their [CLS] */
  vlEmbeddings: Tensor;
  /** float32 [P, 2] ITM logits (class 1 = match) */
  logits: Tensor;
  /** int32 [P] */
  labels: Tensor;
};

/** A model's own objective after ITC and ITM (ALBEF's MLM, BLIP's LM): the term added to the total, the reported parts. */
export type MomentumStepObjective = {
  /** float32 scalar added to itc + itm */
  loss: Tensor;
  /** float32 scalars reported as parts (e.g. `mlm`; BLIP: `lm` and the unsmoothed `lmNll`) */
  parts: Record<string, Tensor>;
};

/** Everything one {@link MomentumItcModel.momentumStep} computes; `own` is the model's objective with its intermediates. */
export type MomentumItcStepOutput<O extends MomentumStepObjective> = MomentumItcStates & {
  /** float32 scalar: itc + itm + the model's own loss */
  total: Tensor;
  parts: { itc: Tensor; itm: Tensor } & O['parts'];
  itm: MomentumItmOutput;
  own: O;
};

/**
 * The skeleton ALBEF (Li et al. 2021, sections 3.1-3.3) and BLIP (Li et al. 2022, section 3.2, which keeps
 * ALBEF's recipe) share: an image encoder and a text encoder with [CLS] projections, trained with image-text
 * contrastive learning against MoCo-style queues of momentum features with momentum distillation (ITC), and
 * image-text matching on image-grounded [CLS] states with hard negatives drawn from the ITC similarities (ITM); each
 * model adds how a pair is grounded and its own third objective (ALBEF: MLM; BLIP: LM).
 *
 * Parameter names follow the authors' releases: `visual_encoder`, `text_encoder`, `vision_proj`, `text_proj`,
 * `temp`, `itm_head`, `image_queue`, `text_queue`, `idx_queue`, `queue_ptr`, and the momentum copies
 * `visual_encoder_m`, `vision_proj_m`, `text_encoder_m`, `text_proj_m` (non-trainable: checkpointed, never
 * optimised), registered in that order.
 * @typeParam T the text encoder; O the model's options
 */
export abstract class MomentumItcModel<T extends Module, O extends MomentumItcOptions> extends Module implements ItmScorer {
  readonly temp: Variable;
  readonly queue: FeatureQueue;
  readonly momentumPairs: MomentumPairs;

  /**
   * @param online the trainable towers
   * @param momentumCopy the same architecture again; its parameters in `momentumModules` are made non-trainable and
   *   set equal to their online twins
   * @param itmHead Linear(D, 2) on the image-grounded [CLS]
   * @param momentumModules the (online, momentum) module pairs the EMA updates
   * @throws Error when a momentum module does not match its online twin
   */
  constructor(
    readonly online: ItcTowers<T>, readonly momentumCopy: ItcTowers<T>, readonly itmHead: Linear, readonly opts: O,
    momentumModules: [Module, Module][],
  ) {
    super();
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
    this.momentumPairs = new MomentumPairs(momentumModules);
    this.momentumPairs.copy();
  }

  /**
   * Unimodal text-encoder states (no image).
   * @param ids int32 [B, L] @param valid [B, L] 0/1 @param enc the online towers or the momentum copy
   * @returns float32 [B, L, D]
   */
  abstract textEmbeds(ids: Tensor, valid: Tensor, enc?: ItcTowers<T>): Tensor;

  /**
   * ITM logits of image-text pairs from cached features (retrieval re-ranking).
   * @param image float32 [K, N + 1, Dv] @param text the model's cached text tensor [K, ...] @param valid [K, L]
   * @returns float32 [K, 2]; column 1 is the match logit
   */
  abstract itmLogits(image: Tensor, text: Tensor, valid: Tensor): Tensor;

  /** ItmScorer: the text tensor to cache per caption and its attention mask, [K, ...] and [K, L]. */
  abstract itmTextFeatures(ids: Tensor): Tensor[];

  /** The 0/1 attention mask `ids != padId`, int32 [B, L]. */
  validMask(ids: Tensor): Tensor {
    return tf.tidy(() => ids.notEqual(tf.scalar(this.opts.padId, 'int32')).toInt());
  }

  /** Image embeddings: all ViT tokens. @param images float32 [B, C, H, W] @returns float32 [B, N + 1, Dv] */
  imageEmbeds(images: Tensor, enc: ItcTowers<T> = this.online): Tensor {
    return enc.visual.apply(images).tokens;
  }

  /** Projected image [CLS], not normalised (DualEncoder). @param images float32 [B, C, H, W] @returns float32 [B, E] */
  encodeImage(images: Tensor): Tensor {
    return tf.tidy(() => this.online.visionProj.apply(firstToken(this.imageEmbeds(images))));
  }

  /** Projected text [CLS] of the unimodal encoder, not normalised (DualEncoder). @param ids int32 [B, L] @returns float32 [B, E] */
  encodeText(ids: Tensor): Tensor {
    return tf.tidy(() => this.online.textProj.apply(firstToken(this.textEmbeds(ids, this.validMask(ids)))));
  }

  /** ItmScorer: the image tokens to cache per gallery image. @param images float32 [B, C, H, W] @returns float32 [B, N + 1, Dv] */
  itmImageFeatures(images: Tensor): Tensor {
    return this.imageEmbeds(images);
  }

  /**
   * ItmScorer: the match log-odds `logit_match - logit_no_match` of K pairs (> 0: predicted match).
   * @param image float32 [K, N + 1, Dv] @param text the cached [text tensor, valid] @returns float32 [K]
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
   * One pre-training forward with every intermediate, in the reference code's order: clamp tau and update the
   * momentum towers (no gradient); encode; ITC against [momentum features | queue] (the queue as before this step);
   * enqueue the momentum features; sample for each text a negative image, then for each image a negative text, from
   * the online batch similarities; ITM on the positive and negative pairs grounded by `pairStates`; then the model's
   * own objective. Momentum outputs, targets and negative choices are constants for autograd. Call inside
   * `tf.variableGrads` to train; the returned tensors belong to the caller.
   * @param pairStates the image-grounded states float32 [P, L, D] of the sampled pairs (text `pairs.textIndex[p]`
   *   with image `pairs.imageIndex[p]`)
   * @param ownObjective the model's third objective, given the ITC states and the ITM output
   * @throws Error from the parts on inconsistent shapes, or a non-finite similarity
   */
  protected momentumStep<Own extends MomentumStepObjective>(
    x: MomentumItcStepInputs,
    pairStates: (s: MomentumItcStates, pairs: SampledItmPairs) => Tensor,
    ownObjective: (s: MomentumItcStates, itm: MomentumItmOutput) => Own,
  ): MomentumItcStepOutput<Own> {
    this.clampTemp();
    this.momentumPairs.update(this.opts.momentum);
    const m = this.momentumCopy;
    const hostIds = Array.from(x.imageIds);
    return tf.tidy(() => {
      const valid = x.valid ?? this.validMask(x.ids);
      const imageEmbeds = this.imageEmbeds(x.images);
      const visionProjCls = this.online.visionProj.apply(firstToken(imageEmbeds));
      const imageFeat = l2Normalize(visionProjCls);
      const textEmbeds = this.textEmbeds(x.ids, valid);
      const textProjCls = this.online.textProj.apply(firstToken(textEmbeds));
      const textFeat = l2Normalize(textProjCls);

      const imageEmbedsM = stopGradient(this.imageEmbeds(x.images, m));
      const imageFeatM = stopGradient(l2Normalize(m.visionProj.apply(firstToken(imageEmbedsM))));
      const textEmbedsM = stopGradient(this.textEmbeds(x.ids, valid, m));
      const textFeatM = stopGradient(l2Normalize(m.textProj.apply(firstToken(textEmbedsM))));

      const itc = momentumContrastiveLoss({
        imageFeat, textFeat, imageFeatM, textFeatM, imageQueue: this.queue.get('image_queue'), textQueue: this.queue.get('text_queue'),
        ids: hostIds, queueIds: this.queue.queuedIds(), temp: this.temp, alpha: x.alpha,
      });
      this.queue.enqueue({ image_queue: imageFeatM, text_queue: textFeatM }, hostIds);
      const states: MomentumItcStates = {
        valid, imageEmbeds, imageEmbedsM, textEmbeds, textEmbedsM, visionProjCls, textProjCls, imageFeat, textFeat, imageFeatM, textFeatM, itc,
      };

      // ITM with contrastive hard negatives (ALBEF section 3.2): a negative image per text, then a negative text per image
      const pairs = sampleItmPairs(itc.simI2t, itc.simT2i, hostIds, x.rng, { eps: this.opts.hardNegativeEps });
      const grounded = pairStates(states, pairs);
      const vlEmbeddings = firstToken(grounded);
      const logits = this.itmHead.apply(vlEmbeddings);
      const labels = tf.tensor1d(pairs.labels, 'int32');
      const itmLoss = crossEntropy(logits, labels);
      const itm: MomentumItmOutput = {
        weightsT2i: pairs.weightsT2i, weightsI2t: pairs.weightsI2t, negImageForText: pairs.negImageForText,
        negTextForImage: pairs.negTextForImage, textIndex: pairs.textIndex, imageIndex: pairs.imageIndex,
        pairStates: grounded, vlEmbeddings, logits, labels,
      };
      const own = ownObjective(states, itm);
      return {
        ...states, total: itc.total.add(itmLoss).add(own.loss), parts: { itc: itc.total, itm: itmLoss, ...own.parts }, itm, own,
      };
    });
  }

}
