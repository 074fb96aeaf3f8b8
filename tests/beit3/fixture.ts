import { Rng, Tensor, manualSeed, tf } from '@mmzoo/core';
import { BEiT3, buildBeit3 } from '@mmzoo/beit3';

/**
 * The tiny BEiT-3 of the training and stage tests: 16x16 single-channel images in 4x4 patches, 8 text positions,
 * vocabulary 30, width 16, 2 layers, 2 heads, MDM (8-word k-means codebook) and ITC; weights from manualSeed(4).
 * @param extra config keys to override
 */
export function tinyBeit3(extra: object = {}): BEiT3 {
  manualSeed(4);
  return buildBeit3({
    name: 'beit3', vision: { imageSize: 16, patchSize: 4, channels: 1 }, text: { contextLength: 8, vocabSize: 30 },
    width: 16, layers: 2, numHeads: 2, tokenizer: { codebookSize: 8, fitImages: 10 }, objectives: { mdm: 1, itc: 1 }, ...extra,
  });
}

/** Fits the model's k-means visual tokenizer on the patches of `images` (float32 [B, C, H, W]), seed 0. */
export function fitTokenizer(model: BEiT3, images: Tensor): void {
  const patches = tf.tidy(() => model.visualTokenizer!.patchify(images).dataSync() as Float32Array);
  model.visualTokenizer!.fit(patches, new Rng(0));
}
