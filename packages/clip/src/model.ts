import {
  BuildParts, ContrastiveDualEncoder, Tensor, Tensor2D, matMul2d, VisionTransformer, TextTransformer, contrastiveLoss, l2Normalize, tf,
  resolveVocabSize,
} from '@mmzoo/core';
import type { ImageTextBatch } from '@mmzoo/core';
import { ClipConfig, ClipConfigInput, ClipConfigSchema } from './config';

/** Outputs of {@link CLIP.forward}. */
export type ClipOutput = {
  /** float32 [B, E]: projected image features before L2 normalisation */
  imageFeatures: Tensor;
  /** float32 [M, E]: projected text features before L2 normalisation */
  textFeatures: Tensor;
  /** float32 [B, M]: scale * normalise(image) @ normalise(text)^T */
  logitsPerImage: Tensor;
  /** float32 [M, B]: transpose of logitsPerImage */
  logitsPerText: Tensor;
  /** float32 scalar: the effective scale exp(logit_scale), clamped to at most maxLogitScale */
  logitScale: Tensor;
};

/** The training objective's value, as every mmzoo model returns it. */
export interface ClipLoss {
  /** float32 scalar */
  total: Tensor;
  parts: { itc: Tensor };
}

/**
 * CLIP (Radford et al. 2021, "Learning Transferable Visual Models From Natural Language Supervision"): an image
 * encoder and a text encoder projected into one embedding space and trained with a symmetric contrastive loss
 * (section 2.3, Fig. 3). Parameter names follow open_clip / OpenAI (`visual.*`, `token_embedding.weight`,
 * `positional_embedding`, `transformer.*`, `ln_final.*`, `text_projection`, `logit_scale`), so their
 * safetensors state dicts load directly. The logit scale is stored as a log (0-d tensor).
 */
export class CLIP extends ContrastiveDualEncoder {

  /**
   * @param visual a built image tower whose `pooled` output is [B, E]
   * @param text a built text tower whose `pooled` output is [M, E]
   * @param opts.initLogitScale initial log scale (default ln(1/0.07)); opts.maxLogitScale clamp of exp (default 100)
   */
  constructor(
    readonly visual: VisionTransformer,
    readonly text: TextTransformer,
    readonly opts: { initLogitScale?: number; maxLogitScale?: number } = {},
  ) {
    super();
    this.module('visual', visual);
    this.module('', text);
    this.declareLogitScale();
  }

  /**
   * @param images float32 [B, C, H, W]
   * @param ids int32 [M, L]
   */
  forward(images: Tensor, ids: Tensor): ClipOutput {
    return tf.tidy(() => {
      const imageFeatures = this.encodeImage(images);
      const textFeatures = this.encodeText(ids);
      const logitScale = this.logitScale();
      const logitsPerImage = matMul2d(l2Normalize(imageFeatures) as Tensor2D, l2Normalize(textFeatures).transpose() as Tensor2D).mul(logitScale);
      return { imageFeatures, textFeatures, logitsPerImage, logitsPerText: logitsPerImage.transpose(), logitScale };
    });
  }

  /**
   * The CLIP loss: symmetric InfoNCE over the B x B batch (open_clip `ClipLoss`), exposed as part `itc`.
   * @param images float32 [B, C, H, W]; @param ids int32 [B, L]; pair i matches pair i
   * @throws Error when B < 2
   */
  loss(images: Tensor, ids: Tensor): ClipLoss {
    return tf.tidy(() => {
      const img = l2Normalize(this.encodeImage(images));
      const txt = l2Normalize(this.encodeText(ids));
      const itc = contrastiveLoss(img, txt, this.logitScale()).total;
      return { total: itc, parts: { itc } };
    });
  }

  /** The trainer's objective: {@link CLIP.loss} on a batch of images and token ids. */
  trainingLoss(batch: Pick<ImageTextBatch, 'image' | 'text'>): ClipLoss {
    return this.loss(batch.image, batch.text);
  }
}

/**
 * Builds a CLIP from a `model:` config: a ViT image tower with `proj` and a causal text tower with
 * `text_projection`, both of width embedDim at the output.
 * @param parts the tokenizer's vocabulary size and end-of-text id, used where the config leaves them out
 * @throws ZodError when the config is invalid (use the config loader for YAML-path messages); Error when neither
 *   the config nor `parts` gives the vocabulary size
 */
export function buildClip(input: ClipConfigInput | ClipConfig, parts: BuildParts = {}): CLIP {
  const cfg = ClipConfigSchema.parse(input);
  const v = cfg.vision;
  const t = cfg.text;
  const visual = new VisionTransformer({
    imageSize: v.imageSize, patchSize: v.patchSize, channels: v.channels, width: v.width, layers: v.layers,
    numHeads: v.numHeads, mlpWidth: Math.round(v.width * v.mlpRatio), activation: cfg.activation, outputDim: cfg.embedDim,
  });
  const vocabSize = resolveVocabSize(t.vocabSize, parts);
  const text = new TextTransformer({
    vocabSize, contextLength: t.contextLength, width: t.width, layers: t.layers, numHeads: t.numHeads,
    mlpWidth: Math.round(t.width * t.mlpRatio), activation: cfg.activation, causal: true, pool: t.pool,
    eotId: t.eotId ?? parts.eotId, padId: t.padId, outputDim: cfg.embedDim,
  });
  return new CLIP(visual, text, { initLogitScale: cfg.initLogitScale, maxLogitScale: cfg.maxLogitScale });
}
