/** A run's image preprocessing (Node only: image files are decoded with sharp). */
import { tf, Tensor4D } from '@mmzoo/core';
import { ImageSet, checkImageSet, imageBatch } from './types';
import { resizeImageSet } from './resize';
import { decodeImage } from './image';

/**
 * Images to preprocess: image file paths (one, or several for a batch), or decoded pixels as an {@link ImageSet}
 * (uint8 [count, C, H, W] of any height and width, C the model's channels).
 */
export type ImageInput = string | readonly string[] | ImageSet;

/**
 * Brings images to a model's input: float32 [B, C, H, W] in [0, 1] (byte / 255), the caller disposes it.
 * @throws Error naming the file that is missing or cannot be decoded, or the channel count that does not match
 */
export type ImagePreprocess = (images: ImageInput) => Promise<Tensor4D>;

/**
 * The preprocessing of a model whose images are `shape` = [C, H, W] (its spec's `inputs().image`), the same as the
 * harness feeds it: a file is decoded to H x W by {@link decodeImage} (sharp: cover and centre crop, grey-scale for
 * C = 1, sRGB otherwise), as user caption files are (`data.dataset` csv | coco | jsonl); decoded pixels are resized by
 * {@link resizeImageSet} (area averaging), as Fashion-MNIST items and scenes are.
 * @throws RangeError (from decodeImage, when called) for a model whose C is neither 1 nor 3
 */
export function imagePreprocessor(shape: readonly [number, number, number]): ImagePreprocess {
  const [c, h, w] = shape;
  return async (images) => {
    if (typeof images === 'string' || Array.isArray(images)) {
      const files: readonly string[] = typeof images === 'string' ? [images] : images;
      const pixels = new Float32Array(files.length * c * h * w);
      for (let i = 0; i < files.length; i++) pixels.set(await decodeImage(files[i], { height: h, width: w, channels: c === 1 ? 1 : 3 }), i * c * h * w);
      return tf.tensor4d(pixels, [files.length, c, h, w]);
    }
    const set = images as ImageSet;
    checkImageSet(set);
    if (set.channels !== c) throw new Error(`preprocess: the images have ${set.channels} channel(s); the model takes ${c}`);
    const resized = resizeImageSet(set, h, w);
    return tf.tensor4d(imageBatch(resized, Array.from({ length: set.count }, (_, i) => i)), [set.count, c, h, w]);
  };
}
