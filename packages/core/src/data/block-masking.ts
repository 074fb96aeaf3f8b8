import { Rng } from './rng';

/** Options of {@link blockMask}. */
export interface BlockMaskOptions {
  /** smallest block area tried (BEiT: 16); the lower bound is min(minBlock, patches still needed) */
  minBlock?: number;
  /** largest block area (default: the whole request) */
  maxBlock?: number;
  /** smallest aspect ratio h / w of a block (BEiT: 0.3); the largest is its inverse */
  minAspect?: number;
  /** block attempts per block before giving up on blocks (BEiT: 10) */
  attempts?: number;
}

/**
 * Block-wise masking of a patch grid (BEiT, Bao et al. 2022, section 2.5 and Algorithm 1; used by BEiT-3 for
 * images, section 2.2): repeatedly draws a block of area s ~ U(min(minBlock, remaining), remaining) with aspect
 * ratio r, log r ~ U(log minAspect, -log minAspect), size h = round(sqrt(s r)), w = round(sqrt(s / r)) (strictly
 * smaller than the grid), at a uniform position, and keeps it when it adds between 1 and `remaining` new
 * patches; when a block cannot be placed, single random unmasked patches top the mask up. Exactly `count`
 * patches are masked (BEiT's own generator can stop short of its target).
 * @param grid [rows, cols] of patches
 * @param count number of patches to mask, an integer in [0, rows * cols]
 * @param rng the generator (fork it from the batch seed and index for resumable runs)
 * @returns Uint8Array [rows * cols], row-major, 1 = masked; exactly `count` ones
 * @throws RangeError when count is out of range
 */
export function blockMask(grid: [number, number], count: number, rng: Rng, opts: BlockMaskOptions = {}): Uint8Array {
  const [rows, cols] = grid;
  const n = rows * cols;
  if (!Number.isInteger(count) || count < 0 || count > n) throw new RangeError(`blockMask: count ${count} is not an integer in [0, ${n}]`);
  const minBlock = opts.minBlock ?? 16;
  const maxBlock = opts.maxBlock ?? count;
  const minAspect = opts.minAspect ?? 0.3;
  const attempts = opts.attempts ?? 10;
  const logLo = Math.log(minAspect);
  const logHi = Math.log(1 / minAspect);
  const mask = new Uint8Array(n);
  let masked = 0;
  const placeBlock = (remaining: number): number => {
    const maxArea = Math.min(remaining, maxBlock);
    for (let a = 0; a < attempts; a++) {
      const area = rng.uniform(Math.min(minBlock, maxArea), maxArea);
      const aspect = Math.exp(rng.uniform(logLo, logHi));
      const h = Math.round(Math.sqrt(area * aspect));
      const w = Math.round(Math.sqrt(area / aspect));
      if (h < 1 || w < 1 || h >= rows || w >= cols) continue;
      const top = rng.int(rows - h + 1);
      const left = rng.int(cols - w + 1);
      let fresh = 0;
      for (let i = top; i < top + h; i++) for (let j = left; j < left + w; j++) if (!mask[i * cols + j]) fresh += 1;
      if (fresh > 0 && fresh <= maxArea) {
        for (let i = top; i < top + h; i++) for (let j = left; j < left + w; j++) mask[i * cols + j] = 1;
        return fresh;
      }
    }
    return 0;
  };
  while (masked < count) {
    const delta = placeBlock(count - masked);
    if (delta === 0) break;
    masked += delta;
  }
  if (masked < count) {
    const free: number[] = [];
    for (let k = 0; k < n; k++) if (!mask[k]) free.push(k);
    rng.shuffle(free);
    for (let k = 0; masked < count; k++, masked++) mask[free[k]] = 1;
  }
  return mask;
}

/** The number of patches {@link blockMask} should mask for a ratio: round(ratio * rows * cols). */
export function maskCount(grid: [number, number], ratio: number): number {
  return Math.round(ratio * grid[0] * grid[1]);
}

/**
 * Block-wise masks for a batch of images (BEiT section 2.5; BEiT-3 section 2.2; VLMo's image-only stage): row r is
 * {@link blockMask} of exactly round(ratio * patches) patches drawn with `rng.fork(r)`.
 * @param grid [rows, cols] of patches; @param batch B; @param ratio fraction of patches to mask, in [0, 1]
 * @returns `mask` float32 row-major [B, rows * cols] (1 = masked, the layout of a `maskedPatches` input) and, per
 *   image, the masked patch indices in increasing order
 * @throws RangeError as {@link blockMask}
 */
export function blockMaskBatch(grid: [number, number], batch: number, ratio: number, rng: Rng, opts: BlockMaskOptions = {}): { mask: Float32Array; rows: number[][] } {
  const np = grid[0] * grid[1];
  const count = maskCount(grid, ratio);
  const mask = new Float32Array(batch * np);
  const rows: number[][] = [];
  for (let r = 0; r < batch; r++) {
    const m = blockMask(grid, count, rng.fork(r), opts);
    const idx: number[] = [];
    m.forEach((v, p) => {
      if (v) {
        mask[r * np + p] = 1;
        idx.push(p);
      }
    });
    rows.push(idx);
  }
  return { mask, rows };
}
