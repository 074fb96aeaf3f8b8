import { tf, Tensor, l2Normalize } from '@mmzoo/core';

/** Declared in @mmzoo/core (models implement it); re-exported for the harness's callers. */
export type { DualEncoder } from '@mmzoo/core';

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
