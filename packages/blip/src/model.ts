import {
  BertEncoder, BertLMHead, BertWithLMHead, GenerateOptions, GenerateResult, ItcTowers, Linear, LossOutput, MomentumItcModel, MomentumItcOptions,
  MomentumItcStepInputs, MomentumItcStepOutput, Tensor, buildItcTowers, crossEntropy, firstToken, gatherRows, generateFromImage, momentumItcOptions,
  resolveVocabSize, stepRng, stopGradient, tf,
} from '@mmzoo/core';
import type { BuildParts, ImageTextBatch } from '@mmzoo/core';
import { BlipConfig, BlipConfigInput, BlipConfigSchema } from './config';

/**
 * The ITC towers of BLIP (also the shape of the momentum copy): the ViT, the MED text transformer (unimodal encoder
 * without context, image-grounded encoder with it, section 3.1) and the [CLS] projections.
 */
export type BlipEncoders = ItcTowers<BertEncoder>;

/** Options of {@link BLIP} (the non-architectural part of {@link BlipConfig}). */
export interface BlipOptions extends MomentumItcOptions {
  labelSmoothing: number;
  /** [ENC]: replaces [CLS] for the image-grounded text encoder (ITM) */
  encId: number;
  /** [DEC] (BLIP's bos): replaces [CLS] for the image-grounded text decoder (LM) */
  decId: number;
}

/** Inputs of one {@link BLIP.step}: core's momentum-ITC step inputs. */
export type BlipStepInputs = MomentumItcStepInputs;

/** BLIP's LM term of a step (section 3.2) and its intermediates. */
export type BlipLm = {
  loss: Tensor;
  /** `lm` (label-smoothed, optimised) and `lmNll`, the unsmoothed LM negative log-likelihood (reported only) */
  parts: { lm: Tensor; lmNll: Tensor };
  lm: {
    /** int32 [B, L] ids with [DEC] first, and the targets (-100 on padding) */
    decoderIds: Tensor;
    targets: Tensor;
    /** float32 [B, L, V] next-token logits of the image-grounded decoder */
    logits: Tensor;
  };
};

/**
 * Everything one {@link BLIP.step} computes (batch B, text length L, image tokens N + 1, vocabulary V; see core's
 * MomentumItcStepOutput): `parts` itc, itm, lm, lmNll; `itm.encoderIds` (int32 [B, L], the ITM texts with [ENC]
 * first) and `lm` are BLIP's.
 */
export type BlipStepOutput = MomentumItcStepOutput<BlipLm> & { itm: { encoderIds: Tensor }; lm: BlipLm['lm'] };

/** A batch as the trainer gives it (structurally core's `ImageTextBatch`). */
export type BlipBatch = ImageTextBatch;

/**
 * BLIP (Li et al. 2022, "BLIP: Bootstrapping Language-Image Pre-training for Unified Vision-Language Understanding
 * and Generation"), the pre-training model (MED, section 3.1-3.2): a ViT; a unimodal BERT text encoder for ITC with
 * momentum encoders, queues and distillation (as ALBEF: core's {@link MomentumItcModel}); the same encoder with
 * cross-attention and an [ENC] token for ITM with contrastive hard negatives; an image-grounded causal decoder with a
 * [DEC] token for LM, sharing every parameter with the encoder except self-attention (one tensor each, not copies),
 * whose LM head is tied to the word embeddings.
 *
 * Names follow salesforce/BLIP `BLIP_Pretrain`: `visual_encoder.*` (core ViT names; timm names load through
 * weights.ts), `text_encoder.*` (HF BERT), `text_decoder.bert.encoder.layer.{i}.attention.*`,
 * `text_decoder.cls.predictions.*`, `vision_proj`, `text_proj`, `itm_head`, `temp`, queues and the `_m` copies.
 */
export class BLIP extends MomentumItcModel<BertEncoder, BlipOptions> {
  /**
   * @param online the trainable towers
   * @param momentumCopy the same architecture again; made non-trainable and set equal to `online`
   * @param decoder the image-grounded decoder: a BertEncoder built with `share = online.text` and a tied LM head
   * @param itmHead Linear(D, 2)
   * @throws Error when the decoder has no LM head or does not share the encoder's cross-attention
   */
  constructor(online: BlipEncoders, momentumCopy: BlipEncoders, readonly decoder: BertWithLMHead, itmHead: Linear, opts: BlipOptions) {
    super(online, momentumCopy, itmHead, opts, [
      [online.visual, momentumCopy.visual], [online.text, momentumCopy.text],
      [online.visionProj, momentumCopy.visionProj], [online.textProj, momentumCopy.textProj],
    ]);
    if (!decoder.cls) throw new Error('BLIP: the text decoder needs an LM head');
    if (decoder.bert.layers[0]?.crossAttention !== online.text.layers[0]?.crossAttention) {
      throw new Error('BLIP: the decoder must share the encoder\'s cross-attention and feed-forward layers (build it with share = encoder)');
    }
    this.module('text_decoder', decoder);
  }

  /** `ids` with its first column replaced by `first` ([ENC] or [DEC]), int32 [B, L]. */
  withFirstToken(ids: Tensor, first: number): Tensor {
    return tf.tidy(() => {
      const [b, l] = ids.shape as number[];
      return tf.concat([tf.fill([b, 1], first, 'int32'), ids.slice([0, 1], [b, l - 1])], 1);
    });
  }

  /** Unimodal text encoder (no cross-attention). @param ids int32 [B, L] @returns float32 [B, L, D] */
  textEmbeds(ids: Tensor, valid: Tensor, enc: BlipEncoders = this.online): Tensor {
    return enc.text.apply(ids, valid);
  }

  /**
   * ITM logits of the image-grounded text encoder.
   * @param image float32 [K, N + 1, Dv] @param encoderIds int32 [K, L] with [ENC] first @param valid [K, L]
   * @returns float32 [K, 2]; column 1 is the match logit
   */
  itmLogits(image: Tensor, encoderIds: Tensor, valid: Tensor): Tensor {
    return tf.tidy(() => this.itmHead.apply(firstToken(this.online.text.apply(encoderIds, valid, { context: image }))));
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
    const image = tf.tidy(() => this.imageEmbeds(images));
    try {
      return generateFromImage(image, this.opts.decId, (img, ids) => this.lmLogits(img, ids, tf.onesLike(ids)), opts);
    } finally {
      image.dispose();
    }
  }

  /** ItmScorer: [ENC]-first ids and attention mask per caption. @returns [int32 [B, L], int32 [B, L]] */
  itmTextFeatures(ids: Tensor): Tensor[] {
    return tf.tidy(() => [this.withFirstToken(ids, this.opts.encId), this.validMask(ids)]);
  }

  /**
   * One pre-training forward (BLIP_Pretrain.forward) with every intermediate: core's momentum ITC and ITM (the
   * image-grounded encoder with [ENC] on the positives and one hard negative image per text and text per image),
   * then LM of the image-grounded decoder ([DEC], causal) with label smoothing. Call inside `tf.variableGrads` to
   * train; the returned tensors belong to the caller.
   */
  step(x: BlipStepInputs): BlipStepOutput {
    const encoderIds = this.withFirstToken(x.ids, this.opts.encId);
    const out = this.momentumStep(
      x,
      (s, pairs) => this.online.text.apply(tf.gather(encoderIds, pairs.textIndex), tf.gather(s.valid, pairs.textIndex), {
        context: gatherRows(s.imageEmbeds, pairs.imageIndex),
      }),
      (s): BlipLm => {
        // LM (section 3.2): predict token t + 1 from tokens <= t and the image; padding is ignored
        const [b, l] = x.ids.shape as number[];
        const decoderIds = this.withFirstToken(x.ids, this.opts.decId);
        const targets = tf.where(s.valid.cast('bool'), decoderIds, tf.fill([b, l], -100, 'int32'));
        const logits = this.lmLogits(s.imageEmbeds, decoderIds, s.valid);
        const v = logits.shape[2] as number;
        const shiftedLogits = logits.slice([0, 0, 0], [b, l - 1, v]).reshape([-1, v]);
        const shiftedTargets = targets.slice([0, 1], [b, l - 1]).reshape([-1]);
        const lm = crossEntropy(shiftedLogits, shiftedTargets, { labelSmoothing: this.opts.labelSmoothing });
        const lmNll = this.opts.labelSmoothing > 0 ? stopGradient(crossEntropy(shiftedLogits, shiftedTargets)) : stopGradient(lm);
        return { loss: lm, parts: { lm, lmNll }, lm: { decoderIds, targets, logits } };
      },
    );
    return { ...out, itm: { ...out.itm, encoderIds }, lm: out.own.lm };
  }

  /**
   * The trainer's objective ITC + ITM + LM (BLIP pretrain.py), parts `itc`, `itm`, `lm` and the unsmoothed `lmNll`
   * (reported only). Hard negatives come from core's `stepRng('blip', batch)`, so a resumed run repeats them
   * exactly; alpha follows {@link alphaAt}.
   */
  trainingLoss(batch: BlipBatch): LossOutput {
    const rng = stepRng('blip', batch);
    return tf.tidy(() => {
      const out = this.step({ images: batch.image, ids: batch.text, imageIds: batch.imageIds, alpha: this.alphaAt(batch.index), rng });
      return { total: out.total, parts: out.parts };
    });
  }
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
  const textOptions = () => ({
    vocabSize, maxPositions: t.contextLength, width: t.width, layers: t.layers, numHeads: t.numHeads,
    mlpWidth: Math.round(t.width * t.mlpRatio), lnEps: t.lnEps, typeVocabSize: t.typeVocabSize, maskValue: t.maskValue,
    crossAttention: { kvWidth: v.width }, std: t.initStd,
  });
  const towers = (): BlipEncoders => buildItcTowers(v, cfg.embedDim, t.width, () => new BertEncoder(textOptions()));
  const online = towers();
  const itmHead = new Linear(t.width, 2);
  const momentum = towers();
  const decoderBert = new BertEncoder(textOptions(), online.text);
  const decoder = new BertWithLMHead(decoderBert, new BertLMHead({
    width: t.width, vocabSize, lnEps: t.lnEps, tiedWeight: online.text.embeddings.wordEmbeddings!.weight, std: t.initStd,
  }));
  return new BLIP(online, momentum, decoder, itmHead, {
    ...momentumItcOptions(cfg, t.padId ?? parts.padId ?? 0), labelSmoothing: cfg.labelSmoothing, encId, decId,
  });
}
