/** Image set containers shared by the data layer (browser-safe). */

/**
 * A set of same-sized uint8 images with optional integer labels.
 *
 * `images` holds `count` images laid out [count, channels, height, width] row-major, values 0-255
 * (for Fashion-MNIST: 0 is the black background). `labels`, when present, has length `count`.
 */
export interface ImageSet {
  /** Pixels, uint8 [count, channels, height, width], row-major. */
  images: Uint8Array;
  /** Number of images. */
  count: number;
  /** Channels per image (1 for grey-scale). */
  channels: number;
  /** Image height in pixels. */
  height: number;
  /** Image width in pixels. */
  width: number;
  /** Class index per image, int32 [count]; absent for unlabelled sets. */
  labels?: Int32Array;
}

/** Values per image: channels * height * width. */
export function imageSize(set: ImageSet): number {
  return set.channels * set.height * set.width;
}

/**
 * Checks that an ImageSet's arrays match its declared sizes.
 * @throws Error naming the field and the expected vs found length
 */
export function checkImageSet(set: ImageSet): void {
  const dims = [set.count, set.channels, set.height, set.width];
  if (!dims.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new Error(`ImageSet: count, channels, height, width must be non-negative integers, got [${dims.join(', ')}]`);
  }
  const expected = set.count * imageSize(set);
  if (set.images.length !== expected) {
    throw new Error(
      `ImageSet: images has ${set.images.length} values, expected ${expected} = ${set.count} x ${set.channels} x ${set.height} x ${set.width}`,
    );
  }
  if (set.labels && set.labels.length !== set.count) {
    throw new Error(`ImageSet: labels has ${set.labels.length} entries, expected ${set.count}`);
  }
}

function checkIndex(set: ImageSet, index: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= set.count) {
    throw new RangeError(`image index ${index} out of range [0, ${set.count})`);
  }
}

/**
 * The uint8 pixels of image `index`, [channels, height, width]: a view into `set.images`, not a copy.
 * @throws RangeError when `index` is not in [0, count)
 */
export function imageBytes(set: ImageSet, index: number): Uint8Array {
  checkIndex(set, index);
  const size = imageSize(set);
  return set.images.subarray(index * size, (index + 1) * size);
}

/**
 * Image `index` as float32 [channels, height, width] in [0, 1] (byte / 255).
 * @throws RangeError when `index` is not in [0, count)
 */
export function imageAt(set: ImageSet, index: number): Float32Array {
  const bytes = imageBytes(set, index);
  const out = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = bytes[i] / 255;
  return out;
}

/**
 * A batch of images as float32 [indices.length, channels, height, width] in [0, 1], e.g. to feed
 * `tf.tensor4d(batch, [n, c, h, w])`.
 * @throws RangeError when an index is not in [0, count)
 */
export function imageBatch(set: ImageSet, indices: ArrayLike<number>): Float32Array {
  const size = imageSize(set);
  const out = new Float32Array(indices.length * size);
  for (let k = 0; k < indices.length; k++) {
    const bytes = imageBytes(set, indices[k]);
    const base = k * size;
    for (let i = 0; i < size; i++) out[base + i] = bytes[i] / 255;
  }
  return out;
}

/**
 * A new ImageSet holding copies of the images (and labels) at `indices`, in that order.
 * @throws RangeError when an index is not in [0, count)
 */
export function selectImages(set: ImageSet, indices: ArrayLike<number>): ImageSet {
  const size = imageSize(set);
  const images = new Uint8Array(indices.length * size);
  const labels = set.labels ? new Int32Array(indices.length) : undefined;
  for (let k = 0; k < indices.length; k++) {
    images.set(imageBytes(set, indices[k]), k * size);
    if (labels && set.labels) labels[k] = set.labels[indices[k]];
  }
  const out: ImageSet = { images, count: indices.length, channels: set.channels, height: set.height, width: set.width };
  if (labels) out.labels = labels;
  return out;
}
