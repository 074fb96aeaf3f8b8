import {
  GenerateOptions, GenerateResult, ContrastiveDualEncoder, MultimodalDecoder, NextTokenLogits, Tensor, Tensor2D, TextTransformer, VisionTransformer,
  BuildParts, contrastiveLoss, crossEntropy, generate, l2Normalize, matMul2d, tf, resolveVocabSize,
} from '@mmzoo/core';
import type { ImageTextBatch } from '@mmzoo/core';
import { CocaConfig, CocaConfigInput, CocaConfigSchema } from './config';
import { CocaVision } from './vision';

/** Outputs of {@link CoCa.forward}. */
export interface CocaOutput {
  /** float32 [B, E]: L2-normalised image embeddings (as open_clip's CoCa.forward returns them) */
  imageFeatures: Tensor;
  /** float32 [B, E]: L2-normalised text (CLS) embeddings */
  textFeatures: Tensor;
  /** float32 [B, E]: image embeddings before normalisation */
  imageFeaturesRaw: Tensor;
  /** float32 [B, E]: text embeddings before normalisation */
  textFeaturesRaw: Tensor;
  /** float32 [B, Nq, E]: pooled image tokens the multimodal decoder attends to */
  imageTokens: Tensor;
  /** float32 [B, L, V]: next-token logits; position t predicts token t + 1 */
  logits: Tensor;
  /** float32 [B, B]: scale * image @ text^T on normalised features */
  logitsPerImage: Tensor;
  /** float32 [B, B]: transpose of logitsPerImage */
  logitsPerText: Tensor;
  /** float32 scalar: exp(logit_scale), clamped to at most maxLogitScale */
  logitScale: Tensor;
}

/** CoCa's training objective (paper eq. 4): `total = lambda_con * itc + lambda_cap * cap`; parts unweighted. */
export interface CocaLoss {
  /** float32 scalar */
  total: Tensor;
  parts: {
    /** float32 scalar: symmetric contrastive loss L_Con (eq. 1) */
    itc: Tensor;
    /** float32 scalar: captioning loss L_Cap (eq. 2), mean NLL per non-pad label token */
    cap: Tensor;
  };
}

/** Options of {@link CoCa}. */
export interface CocaOptions {
  /** padding id: padded labels are ignored by the captioning loss */
  padId: number;
  /** loss weights lambda_con and lambda_cap (default 1 and 2, paper section 4.1) */
  contrastiveWeight?: number;
  captionWeight?: number;
  /** initial log logit scale (default ln(1/0.07)) and the clamp of its exp (default 100) */
  initLogitScale?: number;
  maxLogitScale?: number;
}

/**
 * CoCa (Yu et al. 2022, "CoCa: Contrastive Captioners are Image-Text Foundation Models"): an image encoder with
 * attentional poolers, a decoder split in half, the bottom half a unimodal causal text decoder whose appended CLS
 * gives the text embedding, the top half a multimodal decoder cross-attending to the pooled image tokens; trained
 * with a contrastive loss between image and CLS embeddings plus an autoregressive captioning loss (section 3, Fig. 2).
 * Parameter names follow open_clip's `CoCa` (`visual.*`, `text.*`, `text_decoder.*`, `logit_scale`), so its
 * state dicts load directly (with `poolers: 'open_clip'` and `clsMask: 'open_clip'`).
 */
export class CoCa extends ContrastiveDualEncoder {

  /**
   * @param visual image encoder with poolers; its embedding width equals the text embedding width
   * @param text unimodal text decoder: a text transformer with an appended CLS (`embedCls`), projected to the
   *   image embedding width
   * @param decoder multimodal decoder of the text width whose output width is the vocabulary size
   */
  constructor(
    readonly visual: CocaVision,
    readonly text: TextTransformer,
    readonly decoder: MultimodalDecoder,
    readonly opts: CocaOptions,
  ) {
    super();
    this.module('visual', visual);
    this.module('text', text);
    this.module('text_decoder', decoder);
    this.declareLogitScale();
  }

  /**
   * @param images float32 [B, C, H, W]
   * @param ids int32 [B, L] captions `start words end pad...`
   */
  forward(images: Tensor, ids: Tensor): CocaOutput {
    return tf.tidy(() => {
      const img = this.visual.apply(images);
      const txt = this.text.apply(ids);
      const imageFeatures = l2Normalize(img.pooled);
      const textFeatures = l2Normalize(txt.pooled);
      const logitScale = this.logitScale();
      const logitsPerImage = matMul2d(imageFeatures as Tensor2D, textFeatures.transpose() as Tensor2D).mul(logitScale);
      return {
        imageFeatures, textFeatures, imageFeaturesRaw: img.pooled, textFeaturesRaw: txt.pooled, imageTokens: img.tokens,
        logits: this.decoder.apply(txt.tokens, img.tokens), logitsPerImage, logitsPerText: logitsPerImage.transpose(), logitScale,
      };
    });
  }

  /**
   * Captioning loss L_Cap (paper eq. 2): mean cross-entropy of `logits[:, t]` against `ids[:, t + 1]` over every
   * label that is not padding (open_clip `CoCaLoss`, `ignore_index = pad`); padded positions add nothing to the
   * loss or its gradient. The first token (start) is never a label; the end token is.
   * @param logits float32 [B, L, V] @param ids int32 [B, L]
   * @returns float32 scalar (0 when every label is padding)
   */
  captionLoss(logits: Tensor, ids: Tensor): Tensor {
    return tf.tidy(() => {
      const [b, l, v] = logits.shape as [number, number, number];
      const pred = logits.slice([0, 0, 0], [b, l - 1, v]).reshape([b * (l - 1), v]);
      const labels = ids.slice([0, 1], [b, l - 1]).reshape([b * (l - 1)]);
      return crossEntropy(pred, labels, { ignoreIndex: this.opts.padId });
    });
  }

  /**
   * CoCa's objective (paper eq. 4) on matching pairs: `lambda_con * itc + lambda_cap * cap`, where itc is the
   * symmetric InfoNCE of eq. 1 on the normalised image and CLS embeddings (open_clip `ClipLoss`).
   * @param images float32 [B, C, H, W] @param ids int32 [B, L]; pair i matches pair i
   * @throws Error when B < 2
   */
  loss(images: Tensor, ids: Tensor): CocaLoss {
    return tf.tidy(() => {
      const out = this.forward(images, ids);
      const itc = contrastiveLoss(out.imageFeatures, out.textFeatures, out.logitScale).total;
      const cap = this.captionLoss(out.logits, ids);
      const total = itc.mul(this.opts.contrastiveWeight ?? 1).add(cap.mul(this.opts.captionWeight ?? 2));
      return { total, parts: { itc, cap } };
    });
  }

  /** The trainer's objective: {@link CoCa.loss} on a batch of images and token ids. */
  trainingLoss(batch: Pick<ImageTextBatch, 'image' | 'text'>): CocaLoss {
    return this.loss(batch.image, batch.text);
  }

  /**
   * Encodes `images` once and returns the next-token function core's `generate` drives: for each prefix, the
   * multimodal decoder's logits at its last position, conditioned on the pooled tokens of image `sources[r]`.
   * Call `dispose` when done (it frees the kept image tokens).
   * @param images float32 [B, C, H, W]
   */
  captioner(images: Tensor): { next: NextTokenLogits; dispose: () => void } {
    const imageTokens = tf.tidy(() => this.visual.apply(images).tokens);
    const next: NextTokenLogits = (prefixes, sources) =>
      tf.tidy(() => {
        const t = prefixes[0].length;
        const ids = tf.tensor2d(prefixes.flat(), [prefixes.length, t], 'int32');
        const context = tf.gather(imageTokens, tf.tensor1d(sources, 'int32'));
        const logits = this.decoder.apply(this.text.apply(ids).tokens, context);
        const [r, , v] = logits.shape;
        const last = logits.slice([0, t - 1, 0], [r, 1, v]).dataSync() as Float32Array;
        return prefixes.map((_, i) => last.slice(i * v, (i + 1) * v));
      });
    return { next, dispose: () => imageTokens.dispose() };
  }

  /**
   * Captions images with core's `generate` (greedy, beam search or nucleus sampling), each starting from
   * `[startId]`.
   * @param images float32 [B, C, H, W]
   * @param opts decoding options; maxLength must leave room in the text context (<= contextLength - 1)
   * @returns per image: the sequence (start token first), the generated tokens and their score
   * @throws RangeError when maxLength + 1 exceeds the text context length, or on invalid decoding options
   */
  caption(images: Tensor, startId: number, opts: GenerateOptions): GenerateResult {
    const room = this.text.opts.contextLength - 1;
    if (opts.maxLength > room) throw new RangeError(`caption maxLength ${opts.maxLength} exceeds the text context (at most ${room} after the start token)`);
    const { next, dispose } = this.captioner(images);
    try {
      return generate(next, Array.from({ length: images.shape[0] }, () => [startId]), opts);
    } finally {
      dispose();
    }
  }
}

/**
 * Builds a CoCa from a `model:` config: a ViT image encoder (no ln_post) with attentional poolers, the unimodal
 * text decoder with its CLS, and the multimodal decoder of the text width projecting to the vocabulary.
 * @param parts the tokenizer's vocabulary size and padding id, used where the config leaves them out (padding id: 0
 *   when neither gives it, as open_clip and the word tokenizer use)
 * @throws ZodError when the config is invalid (the config loader reports YAML paths); Error when neither the
 *   config nor `parts` gives the vocabulary size
 */
export function buildCoca(input: CocaConfigInput | CocaConfig, parts: BuildParts = {}): CoCa {
  const cfg = CocaConfigSchema.parse(input);
  const v = cfg.vision;
  const t = cfg.text;
  const vocabSize = resolveVocabSize(t.vocabSize, parts);
  const padId = t.padId ?? parts.padId ?? 0;
  const vit = new VisionTransformer({
    imageSize: v.imageSize, patchSize: v.patchSize, channels: v.channels, width: v.width, layers: v.layers,
    numHeads: v.numHeads, mlpWidth: Math.round(v.width * v.mlpRatio), activation: cfg.activation, lnPost: false,
  });
  const visual = new CocaVision(vit, { embedDim: cfg.embedDim, numQueries: v.numQueries, poolerHeads: v.poolerHeads, poolers: v.poolers });
  const text = new TextTransformer({
    vocabSize, contextLength: t.contextLength, width: t.width, layers: t.layers, numHeads: t.numHeads,
    mlpWidth: Math.round(t.width * t.mlpRatio), activation: cfg.activation, outputDim: cfg.embedDim, padId, embedCls: true, clsMask: t.clsMask,
  });
  const d = cfg.decoder;
  const decoder = new MultimodalDecoder({
    width: t.width, layers: d.layers, numHeads: d.numHeads, contextLength: t.contextLength, contextWidth: cfg.embedDim,
    mlpWidth: Math.round(t.width * d.mlpRatio), activation: cfg.activation, outputDim: vocabSize,
  });
  return new CoCa(visual, text, decoder, {
    padId, contrastiveWeight: cfg.loss.contrastiveWeight, captionWeight: cfg.loss.captionWeight,
    initLogitScale: cfg.initLogitScale, maxLogitScale: cfg.maxLogitScale,
  });
}
