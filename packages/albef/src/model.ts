import {
  BertEncoder, BertLMHead, BertWithLMHead, ItcTowers, Linear, LossOutput, MaskedTokens, Module, MomentumItcModel, MomentumItcOptions,
  MomentumItcStepInputs, MomentumItcStepOutput, Rng, Tensor, buildItcTowers, crossEntropy, firstToken, gatherRows, logSoftmax, maskTokens,
  momentumItcOptions, resolveVocabSize, stepRng, stopGradient, tf,
} from '@mmzoo/core';
import type { BuildParts, ImageTextBatch } from '@mmzoo/core';
import { AlbefConfig, AlbefConfigInput, AlbefConfigSchema } from './config';

/**
 * The trainable towers of ALBEF (also the shape of its momentum copy): the ViT, the BERT text encoder (layers
 * [0, textLayers)) + fusion encoder (the rest, with cross-attention) with its MLM head `cls`, and the [CLS]
 * projections g_v, g_w to the ITC space (section 3.2).
 */
export type AlbefEncoders = ItcTowers<BertWithLMHead>;

/** Options of {@link ALBEF} (the non-architectural part of {@link AlbefConfig}). */
export interface AlbefOptions extends MomentumItcOptions {
  /** number of text-only layers T; layers [T, L) form the fusion encoder */
  textLayers: number;
  mlmProbability: number;
  mlmDistill: boolean;
  maskId: number;
  numSpecial: number;
}

/** Inputs of one {@link ALBEF.step}: core's momentum-ITC step inputs and the MLM inputs. */
export interface AlbefStepInputs extends MomentumItcStepInputs {
  /** MLM inputs: masked ids int32 [B, L] and labels int32 [B, L] (-100 where not predicted); no MLM when absent */
  mlm?: { ids: Tensor; labels: Tensor };
}

/** ALBEF's MLM term of a step and its intermediates (section 3.2; distilled as section 3.3 eq. 7). */
export type AlbefMlm = {
  loss: Tensor;
  parts: { mlm: Tensor };
  /** float32 [B, L, D] fusion outputs of the positive pairs, and [P - B, L, D] of the negative pairs */
  fusionEmbeds: Tensor;
  fusionNeg: Tensor;
  /** the MLM forward: masked text-encoder and fusion states [B, L, D] and logits [B, L, V]; absent without MLM inputs */
  mlm?: { textEmbeds: Tensor; fusionEmbeds: Tensor; logits: Tensor };
};

/**
 * Everything one {@link ALBEF.step} computes (batch B, text length L, image tokens N + 1; see core's
 * MomentumItcStepOutput): `parts` itc, itm, mlm; `fusionEmbeds`, `itm.fusionNeg` and `mlm` are ALBEF's.
 */
export type AlbefStepOutput = MomentumItcStepOutput<AlbefMlm> & {
  fusionEmbeds: Tensor;
  itm: { fusionNeg: Tensor };
  mlm?: AlbefMlm['mlm'];
};

/** A batch as the trainer gives it (structurally core's `ImageTextBatch`). */
export type AlbefBatch = ImageTextBatch;

/**
 * ALBEF (Li et al. 2021, "Align before Fuse: Vision and Language Representation Learning with Momentum
 * Distillation"): a ViT image encoder, a BERT text encoder and a BERT fusion encoder with cross-attention to the
 * image tokens (section 3.1), trained with image-text contrastive learning against queues of momentum features
 * (ITC, section 3.2), image-text matching on the fusion [CLS] with contrastive hard negatives (ITM) and masked
 * language modelling (MLM), with momentum distillation of ITC and MLM targets (section 3.3). ITC and ITM are core's
 * {@link MomentumItcModel}; ALBEF adds the fusion layers and MLM.
 *
 * Parameter names follow the authors' release: `visual_encoder.*` (core ViT names; see weights.ts for timm and
 * torchvision layouts), `text_encoder.bert.*`, `text_encoder.cls.predictions.*`, `vision_proj`, `text_proj`, `temp`,
 * `itm_head`, `image_queue`, `text_queue`, `idx_queue`, `queue_ptr`, and the momentum copies `visual_encoder_m`,
 * `vision_proj_m`, `text_encoder_m`, `text_proj_m` (non-trainable parameters: checkpointed, never optimised).
 */
export class ALBEF extends MomentumItcModel<BertWithLMHead, AlbefOptions> {
  /**
   * @param online the trainable encoders
   * @param momentumCopy the same architecture again (its `text.cls` only when MLM distillation is on); made
   *   non-trainable and set equal to `online`
   * @param itmHead Linear(D, 2) on the fusion [CLS]
   * @throws Error when textLayers leaves no fusion layer, or the momentum copy does not match
   */
  constructor(online: AlbefEncoders, momentumCopy: AlbefEncoders, itmHead: Linear, opts: AlbefOptions) {
    super(online, momentumCopy, itmHead, opts, albefMomentumModules(online, momentumCopy, opts));
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

  /**
   * ITM logits of image-text pairs from precomputed embeddings (retrieval re-ranking, section 4.1).
   * @param image float32 [K, N + 1, Dv] @param text float32 [K, L, D] text-encoder outputs @param valid [K, L]
   * @returns float32 [K, 2]; column 1 is the match logit
   */
  itmLogits(image: Tensor, text: Tensor, valid: Tensor): Tensor {
    return tf.tidy(() => this.itmHead.apply(firstToken(this.fuse(text, valid, image))));
  }

  /** ItmScorer: text-encoder states and attention mask per caption. @param ids int32 [B, L] @returns [float32 [B, L, D], int32 [B, L]] */
  itmTextFeatures(ids: Tensor): Tensor[] {
    return tf.tidy(() => {
      const valid = this.validMask(ids);
      return [this.textEmbeds(ids, valid), valid];
    });
  }

  /**
   * One pre-training forward with every intermediate (what the parity test checks): core's momentum ITC and ITM
   * (ITM pairs through the fusion encoder), then MLM through the text and fusion encoders, distilled from the
   * momentum model when mlmDistill (section 3.3 eq. 7). Call inside `tf.variableGrads` to train; the returned
   * tensors belong to the caller.
   * @throws Error from the parts on inconsistent shapes
   */
  step(x: AlbefStepInputs): AlbefStepOutput {
    const out = this.momentumStep(
      x,
      (s, pairs) => this.fuse(gatherRows(s.textEmbeds, pairs.textIndex), tf.gather(s.valid, pairs.textIndex), gatherRows(s.imageEmbeds, pairs.imageIndex)),
      (s, itm): AlbefMlm => {
        const b = x.ids.shape[0] as number;
        const [p, l, d] = itm.pairStates.shape as number[];
        const fusionEmbeds = itm.pairStates.slice([0, 0, 0], [b, l, d]);
        const fusionNeg = itm.pairStates.slice([b, 0, 0], [p - b, l, d]);
        if (!x.mlm) {
          const none = tf.scalar(0);
          return { loss: none, parts: { mlm: none }, fusionEmbeds, fusionNeg };
        }
        const maskedText = this.textEmbeds(x.mlm.ids, s.valid);
        const maskedFusion = this.fuse(maskedText, s.valid, s.imageEmbeds);
        const logits = this.online.text.cls!.apply(maskedFusion);
        const v = logits.shape[2] as number;
        const flat = logits.reshape([-1, v]);
        const labels = x.mlm.labels.reshape([-1]);
        let mlm = crossEntropy(flat, labels);
        if (this.opts.mlmDistill && x.alpha > 0) {
          // section 3.3 eq. 7: cross-entropy against the momentum model's predicted vocabulary distribution
          const m = this.momentumCopy;
          const fusedM = this.fuse(this.textEmbeds(x.mlm.ids, s.valid, m), s.valid, s.imageEmbedsM, m);
          const soft = stopGradient(tf.softmax(m.text.cls!.apply(fusedM).reshape([-1, v]), -1));
          const labelled = labels.notEqual(tf.scalar(-100, 'int32')).toFloat();
          const perToken = soft.mul(logSoftmax(flat)).sum(-1).neg();
          const distill = perToken.mul(labelled).sum().div(labelled.sum().maximum(tf.scalar(1)));
          mlm = mlm.mul(1 - x.alpha).add(distill.mul(x.alpha));
        }
        return { loss: mlm, parts: { mlm }, fusionEmbeds, fusionNeg, mlm: { textEmbeds: maskedText, fusionEmbeds: maskedFusion, logits } };
      },
    );
    return { ...out, fusionEmbeds: out.own.fusionEmbeds, itm: { ...out.itm, fusionNeg: out.own.fusionNeg }, mlm: out.own.mlm };
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
   * from core's `stepRng('albef', batch)`, so a resumed run repeats it exactly; alpha follows {@link alphaAt}.
   */
  trainingLoss(batch: AlbefBatch): LossOutput {
    const rng = stepRng('albef', batch);
    const [b, l] = batch.text.shape as number[];
    const masked = this.mlmMask(batch.text.dataSync() as Int32Array, [b, l], rng.fork('mlm'));
    return tf.tidy(() => {
      const out = this.step({
        images: batch.image, ids: batch.text, imageIds: batch.imageIds, alpha: this.alphaAt(batch.index), rng: rng.fork('negatives'),
        mlm: { ids: tf.tensor2d(masked.ids, [b, l], 'int32'), labels: tf.tensor2d(masked.labels, [b, l], 'int32') },
      });
      return { total: out.total, parts: out.parts };
    });
  }
}

/**
 * The (online, momentum) modules ALBEF's EMA updates: the towers, and the MLM head when MLM is distilled.
 * @throws Error when textLayers leaves no fusion layer, the online text encoder has no MLM head, or MLM distillation
 *   lacks the momentum MLM head
 */
function albefMomentumModules(online: AlbefEncoders, m: AlbefEncoders, opts: AlbefOptions): [Module, Module][] {
  const depth = online.text.bert.layers.length;
  if (!(opts.textLayers > 0 && opts.textLayers < depth)) throw new Error(`ALBEF: textLayers ${opts.textLayers} must leave at least one of ${depth} layers for fusion`);
  if (!online.text.cls) throw new Error('ALBEF: the text encoder needs an MLM head (cls)');
  const pairs: [Module, Module][] = [[online.visual, m.visual], [online.text.bert, m.text.bert], [online.visionProj, m.visionProj], [online.textProj, m.textProj]];
  if (opts.mlmDistill) {
    if (!m.text.cls) throw new Error('ALBEF: MLM distillation needs the momentum text encoder to have an MLM head');
    pairs.push([online.text.cls, m.text.cls]);
  }
  return pairs;
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
  const encoders = (withHead: boolean): AlbefEncoders => buildItcTowers(v, cfg.embedDim, t.width, () => {
    const bert = new BertEncoder({
      vocabSize, maxPositions: t.contextLength, width: t.width, layers: t.textLayers + t.fusionLayers, numHeads: t.numHeads,
      mlpWidth: Math.round(t.width * t.mlpRatio), lnEps: t.lnEps, typeVocabSize: t.typeVocabSize, maskValue: t.maskValue,
      crossAttention: { kvWidth: v.width, fromLayer: t.textLayers }, std: t.initStd,
    });
    const cls = withHead ? new BertLMHead({
      width: t.width, vocabSize, lnEps: t.lnEps, tiedWeight: cfg.tieMlmHead ? bert.embeddings.wordEmbeddings!.weight : undefined, std: t.initStd,
    }) : undefined;
    return new BertWithLMHead(bert, cls);
  });
  const online = encoders(true);
  const itmHead = new Linear(t.width, 2);
  const momentum = encoders(cfg.mlmDistill);
  return new ALBEF(online, momentum, itmHead, {
    ...momentumItcOptions(cfg, t.padId ?? parts.padId ?? 0), textLayers: t.textLayers, mlmProbability: cfg.mlmProbability,
    mlmDistill: cfg.mlmDistill, maskId: t.maskId, numSpecial: t.numSpecial,
  });
}
