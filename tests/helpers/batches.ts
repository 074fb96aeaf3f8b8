import { tf, Rng } from '@mmzoo/core';

/**
 * A synthetic image-text training batch for the tiny multiway models: B captions of 8 ids ([CLS] 2, five word ids
 * in [5, 30), [SEP] 3, one pad 0) and B uniform 1x16x16 images, drawn in that order from `new Rng(opts.draw)`.
 * @param index the batch index (the model's draws fork from it) @param b batch size
 * @param opts.draw seed of the synthetic data; opts.seed the batch seed the model's draws start from
 * @returns image float32 [B, 1, 16, 16], text int32 [B, 8], imageIds 0..B-1, index, seed (the caller disposes the tensors)
 */
export function syntheticImageTextBatch(index: number, b: number, opts: { draw: number; seed: number }) {
  const rng = new Rng(opts.draw);
  const ids = new Int32Array(b * 8);
  for (let r = 0; r < b; r++) {
    ids[r * 8] = 2;
    for (let c = 1; c < 6; c++) ids[r * 8 + c] = 5 + rng.int(25);
    ids[r * 8 + 6] = 3;
  }
  return {
    image: tf.tensor4d(Float32Array.from({ length: b * 256 }, () => rng.next()), [b, 1, 16, 16]),
    text: tf.tensor2d(ids, [b, 8], 'int32'),
    imageIds: Int32Array.from({ length: b }, (_, i) => i),
    index, seed: opts.seed,
  };
}
