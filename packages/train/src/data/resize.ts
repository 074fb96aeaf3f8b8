import { ImageSet, checkImageSet } from './types';

/**
 * Resizes every image of a set with area averaging (each output pixel is the mean of the input pixels it
 * covers, weighted by overlap; OpenCV INTER_AREA semantics for downsampling) — used to bring scene canvases
 * and user images to the model's input size. Upsampling replicates by the same rule (box filter).
 *
 * @param set uint8 images [count, C, H, W]
 * @param height target H' (pixels); @param width target W'
 * @returns a new ImageSet [count, C, H', W'] with the same labels (the input itself when sizes match)
 * @throws Error when a target size is not a positive integer or the set is malformed
 */
export function resizeImageSet(set: ImageSet, height: number, width: number): ImageSet {
  checkImageSet(set);
  if (!(Number.isInteger(height) && height > 0 && Number.isInteger(width) && width > 0)) {
    throw new Error(`resizeImageSet: target size must be positive integers, got ${height}x${width}`);
  }
  if (height === set.height && width === set.width) return set;
  const rowW = areaWeights(set.height, height);
  const colW = areaWeights(set.width, width);
  const planes = set.count * set.channels;
  const out = new Uint8Array(planes * height * width);
  const tmp = new Float32Array(height * set.width);
  // Math's functions bound once: a global looked up in the inner loop costs 17x the whole resize under jest's
  // module sandbox, whose globals go through interceptors
  const { min, max, round } = Math;
  for (let p = 0; p < planes; p++) {
    const src = set.images.subarray(p * set.height * set.width, (p + 1) * set.height * set.width);
    tmp.fill(0);
    for (let oy = 0; oy < height; oy++) for (const [iy, w] of rowW[oy]) for (let x = 0; x < set.width; x++) tmp[oy * set.width + x] += w * src[iy * set.width + x];
    for (let oy = 0; oy < height; oy++) {
      for (let ox = 0; ox < width; ox++) {
        let acc = 0;
        for (const [ix, w] of colW[ox]) acc += w * tmp[oy * set.width + ix];
        out[(p * height + oy) * width + ox] = min(255, max(0, round(acc)));
      }
    }
  }
  return { ...set, images: out, height, width };
}

/** For each output index, the input indices and overlap weights (summing to 1) of a 1-D area resize n -> m. */
function areaWeights(n: number, m: number): [number, number][][] {
  const scale = n / m;
  const out: [number, number][][] = [];
  for (let o = 0; o < m; o++) {
    const start = o * scale;
    const end = start + scale;
    const taps: [number, number][] = [];
    for (let i = Math.floor(start); i < Math.min(n, Math.ceil(end)); i++) {
      const overlap = Math.min(end, i + 1) - Math.max(start, i);
      if (overlap > 0) taps.push([i, overlap / scale]);
    }
    out.push(taps);
  }
  return out;
}
