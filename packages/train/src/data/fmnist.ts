/** Loading Fashion-MNIST from IDX files (Node only). */
import * as fs from 'fs';
import * as path from 'path';
import type { ImageSet } from './types';
import { readIdx } from './idx';

/** Where Debian's `dataset-fashion-mnist` installs the full set (60,000 train + 10,000 test images). */
export const FULL_FASHION_MNIST_ROOT = '/usr/share/datasets/fashion-mnist';

/**
 * The embedded default data in this repository, data/fashion-mnist: the whole test split and a
 * class-balanced 16,000-image training subset (see its README).
 */
export const EMBEDDED_FASHION_MNIST_ROOT = path.resolve(__dirname, '..', '..', '..', '..', 'data', 'fashion-mnist');

/** File base names per split; each may be stored gzipped (`.gz` added) or not. */
export const FASHION_MNIST_FILES = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
} as const;

function findFile(root: string, base: string, split: string): string {
  for (const name of [`${base}.gz`, base]) {
    const file = path.join(root, name);
    if (fs.existsSync(file)) return file;
  }
  throw new Error(`Fashion-MNIST ${split} split: missing ${base}.gz (or ${base}) in folder ${root}`);
}

/**
 * Loads one split of Fashion-MNIST from a folder of IDX files (gzipped or not).
 * @param root folder holding the files of {@link FASHION_MNIST_FILES}, e.g. {@link EMBEDDED_FASHION_MNIST_ROOT}
 *   or {@link FULL_FASHION_MNIST_ROOT}
 * @param split 'train' or 'test'
 * @returns images uint8 [count, 1, 28, 28] (0 = background), labels int32 [count] in 0-9
 * @throws Error `Fashion-MNIST <split> split: missing <file>.gz (or <file>) in folder <root>` when a file is missing;
 *   the errors of `readIdx` for a damaged file; an Error naming the file when its dims do not fit
 *   (images [n, h, w], labels [n], equal n) or a label is outside 0-9
 */
export function loadFashionMnist(root: string, split: 'train' | 'test'): ImageSet {
  const names = FASHION_MNIST_FILES[split];
  if (!names) throw new Error(`Fashion-MNIST split must be 'train' or 'test', got '${split}'`);
  const imageFile = findFile(root, names.images, split);
  const labelFile = findFile(root, names.labels, split);
  const images = readIdx(imageFile);
  const labels = readIdx(labelFile);
  if (images.dims.length !== 3) {
    throw new Error(`${imageFile}: expected 3 dims [count, height, width], found [${images.dims.join(', ')}]`);
  }
  if (labels.dims.length !== 1) throw new Error(`${labelFile}: expected 1 dim [count], found [${labels.dims.join(', ')}]`);
  const [count, height, width] = images.dims;
  if (labels.dims[0] !== count) {
    throw new Error(`${labelFile}: expected ${count} labels (one per image in ${imageFile}), found ${labels.dims[0]}`);
  }
  const labelArray = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const label = labels.data[i];
    if (label > 9) throw new Error(`${labelFile}: label ${label} at index ${i} is outside 0-9`);
    labelArray[i] = label;
  }
  // Copy out of the decompressed file buffer so that the set owns a compact array.
  return { images: images.data.slice(), count, channels: 1, height, width, labels: labelArray };
}
