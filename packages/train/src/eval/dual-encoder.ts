import { tf, Tensor, l2Normalize } from '@mmzoo/core';

/** A model with separate image and text embeddings (CLIP, ALBEF/BLIP unimodal encoders, VLMo dual mode). */
export interface DualEncoder {
  /** float32 [B, C, H, W] -> float32 [B, E] (normalised or not; evaluation normalises) */
  encodeImage(images: Tensor): Tensor;
  /** int32 [M, L] -> float32 [M, E] */
  encodeText(ids: Tensor): Tensor;
}

/**
 * Embeds `count` items in batches and returns the L2-normalised embeddings as one float32 [count, E] tensor.
 * @param make builds the input tensor of items [start, end)
 */
export function embedInBatches(count: number, batchSize: number, make: (start: number, end: number) => Tensor, encode: (x: Tensor) => Tensor): Tensor {
  const parts: Tensor[] = [];
  for (let s = 0; s < count; s += batchSize) {
    const e = Math.min(count, s + batchSize);
    parts.push(tf.tidy(() => l2Normalize(encode(make(s, e)))));
  }
  const out = tf.concat(parts, 0);
  tf.dispose(parts);
  return out;
}
