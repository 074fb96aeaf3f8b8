import { Rng } from './rng';
import { ImageSet, imageSize } from './types';

/**
 * An indexable source of image-caption pairs for training and evaluation. Captions are drawn through an
 * {@link Rng} so that a (seed, sample) pair always gives the same caption, which makes resumed runs exact.
 */
export interface PairSource {
  /** number of images */
  readonly size: number;
  /** pixels of sample i as float32 [C, H, W] in [0, 1], written to `out` at `offset` */
  image(i: number, out: Float32Array, offset: number): void;
  /** a caption of sample i (several captions per image: one is drawn with `rng`) */
  caption(i: number, rng: Rng): string;
  /** an id shared by pairs of the same image (same-image captions are positives of each other) */
  imageId(i: number): number;
  /** image shape [C, H, W] */
  readonly imageShape: [number, number, number];
}

/**
 * Pairs over an {@link ImageSet} with captions made by `caption(i, rng)` (e.g. Fashion-MNIST labels rendered
 * by `captionFor`, scene captions, or a user caption file). Image ids are `idOffset + i`.
 */
export function imageSetPairs(set: ImageSet, caption: (i: number, rng: Rng) => string, idOffset = 0): PairSource {
  const n = imageSize(set);
  return {
    size: set.count,
    imageShape: [set.channels, set.height, set.width],
    image(i, out, offset) {
      const src = set.images.subarray(i * n, (i + 1) * n);
      for (let k = 0; k < n; k++) out[offset + k] = src[k] / 255;
    },
    caption,
    imageId: (i) => idOffset + i,
  };
}

/**
 * The concatenation of several sources with equal image shapes (e.g. single items and scenes).
 * @throws Error when image shapes differ
 */
export function concatPairs(sources: PairSource[]): PairSource {
  const shape = sources[0].imageShape;
  for (const s of sources) {
    if (s.imageShape.join() !== shape.join()) throw new Error(`concatPairs: image shapes differ: [${shape}] vs [${s.imageShape}]`);
  }
  const starts: number[] = [];
  let total = 0;
  for (const s of sources) {
    starts.push(total);
    total += s.size;
  }
  const locate = (i: number): [PairSource, number] => {
    let k = sources.length - 1;
    while (starts[k] > i) k--;
    return [sources[k], i - starts[k]];
  };
  return {
    size: total,
    imageShape: shape,
    image: (i, out, offset) => {
      const [s, j] = locate(i);
      s.image(j, out, offset);
    },
    caption: (i, rng) => {
      const [s, j] = locate(i);
      return s.caption(j, rng);
    },
    imageId: (i) => {
      const [s, j] = locate(i);
      return s.imageId(j);
    },
  };
}

/**
 * The sample indices of one batch in a seeded, epoch-wise shuffled order: global sample g = batch * batchSize + j
 * belongs to epoch floor(g / size) whose permutation is drawn from `Rng(seed).fork(epoch)`. A pure function of
 * its arguments, so a resumed run sees exactly the same batches.
 * @returns int32 [batchSize] indices into the source, and the caption seed of each sample
 */
export function batchIndices(batch: number, batchSize: number, size: number, seed: number): { indices: Int32Array; sampleSeeds: number[] } {
  const indices = new Int32Array(batchSize);
  const sampleSeeds: number[] = [];
  let cachedEpoch = -1;
  let order: Int32Array = new Int32Array(0);
  for (let j = 0; j < batchSize; j++) {
    const g = batch * batchSize + j;
    const epoch = Math.floor(g / size);
    if (epoch !== cachedEpoch) {
      order = epochOrder(size, seed, epoch);
      cachedEpoch = epoch;
    }
    indices[j] = order[g % size];
    sampleSeeds.push(g);
  }
  return { indices, sampleSeeds };
}

const orderCache = new Map<string, Int32Array>();

/** The permutation of [0, size) used in `epoch` (cached for the last few epochs). */
export function epochOrder(size: number, seed: number, epoch: number): Int32Array {
  const key = `${size}:${seed}:${epoch}`;
  let order = orderCache.get(key);
  if (!order) {
    const arr = Array.from({ length: size }, (_, i) => i);
    new Rng(seed).fork(`epoch-${epoch}`).shuffle(arr);
    order = Int32Array.from(arr);
    if (orderCache.size > 4) orderCache.delete(orderCache.keys().next().value!);
    orderCache.set(key, order);
  }
  return order;
}
