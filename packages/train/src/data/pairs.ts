import { Rng } from '@mmzoo/core';
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
  /**
   * optional int32 start index of each group of consecutive samples that the epoch order keeps together
   * (ascending, first 0; e.g. swapped-twin scenes, {@link groupedPairs}); absent: every sample is its own group
   */
  readonly groups?: Int32Array;
}

/**
 * `source` with its samples grouped in consecutive runs of `groupSize` (e.g. 2 for scenes built with
 * `twins`: scene 2k and its twin 2k + 1), so that {@link epochOrder} shuffles whole groups and a batch holds a
 * group together unless the group straddles a batch boundary (never when batchSize is a multiple of groupSize
 * and every sample of the source is in such a group).
 * @throws RangeError when groupSize is not a positive integer dividing source.size
 */
export function groupedPairs(source: PairSource, groupSize: number): PairSource {
  if (!Number.isInteger(groupSize) || groupSize < 1 || source.size % groupSize !== 0) {
    throw new RangeError(`groupedPairs: groupSize must be a positive integer dividing the ${source.size} samples, got ${groupSize}`);
  }
  const groups = Int32Array.from({ length: source.size / groupSize }, (_, k) => k * groupSize);
  return { ...source, groups };
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
 * The concatenation of several sources with equal image shapes (e.g. single items and scenes); the groups of
 * grouped sources are kept (ungrouped samples become groups of one).
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
  let groups: Int32Array | undefined;
  if (sources.some((s) => s.groups)) {
    const all: number[] = [];
    sources.forEach((s, k) => {
      if (s.groups) for (const g of s.groups) all.push(starts[k] + g);
      else for (let i = 0; i < s.size; i++) all.push(starts[k] + i);
    });
    groups = Int32Array.from(all);
  }
  return {
    size: total,
    imageShape: shape,
    ...(groups ? { groups } : {}),
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
 * @param groups optional group starts of the source ({@link PairSource.groups}): the order shuffles whole groups
 * @returns int32 [batchSize] indices into the source, and the caption seed of each sample
 */
export function batchIndices(
  batch: number, batchSize: number, size: number, seed: number, groups?: Int32Array,
): { indices: Int32Array; sampleSeeds: number[] } {
  const indices = new Int32Array(batchSize);
  const sampleSeeds: number[] = [];
  let cachedEpoch = -1;
  let order: Int32Array = new Int32Array(0);
  for (let j = 0; j < batchSize; j++) {
    const g = batch * batchSize + j;
    const epoch = Math.floor(g / size);
    if (epoch !== cachedEpoch) {
      order = epochOrder(size, seed, epoch, groups);
      cachedEpoch = epoch;
    }
    indices[j] = order[g % size];
    sampleSeeds.push(g);
  }
  return { indices, sampleSeeds };
}

const orderCache = new Map<string, Int32Array>();
const groupIds = new WeakMap<Int32Array, number>();
let nextGroupId = 0;

/**
 * The permutation of [0, size) used in `epoch` (cached for the last few epochs). Without `groups`, a shuffle of
 * the samples by `Rng(seed).fork('epoch-<epoch>')`; with `groups` (ascending group starts, first 0), the same
 * stream shuffles the groups, and each group's samples follow in their own order.
 * @throws RangeError when `groups` is not ascending from 0 within [0, size)
 */
export function epochOrder(size: number, seed: number, epoch: number, groups?: Int32Array): Int32Array {
  let gid = -1;
  if (groups) {
    if (!groupIds.has(groups)) {
      for (let k = 0; k < groups.length; k++) {
        if ((k === 0 && groups[0] !== 0) || (k > 0 && groups[k] <= groups[k - 1]) || groups[k] >= size) {
          throw new RangeError(`epochOrder: group starts must ascend from 0 within [0, ${size}); entry ${k} is ${groups[k]}`);
        }
      }
      if (size > 0 && groups.length === 0) throw new RangeError(`epochOrder: no group starts for ${size} samples`);
      groupIds.set(groups, nextGroupId++);
    }
    gid = groupIds.get(groups)!;
  }
  const key = `${size}:${seed}:${epoch}:${gid}`;
  let order = orderCache.get(key);
  if (!order) {
    const rng = new Rng(seed).fork(`epoch-${epoch}`);
    if (groups) {
      const perm = rng.permutation(groups.length);
      order = new Int32Array(size);
      let o = 0;
      for (const k of perm) {
        const end = k + 1 < groups.length ? groups[k + 1] : size;
        for (let i = groups[k]; i < end; i++) order[o++] = i;
      }
    } else {
      const arr = Array.from({ length: size }, (_, i) => i);
      rng.shuffle(arr);
      order = Int32Array.from(arr);
    }
    if (orderCache.size > 4) orderCache.delete(orderCache.keys().next().value!);
    orderCache.set(key, order);
  }
  return order;
}
