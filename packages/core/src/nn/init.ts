import { tf, Tensor } from '../tf';

/**
 * Seeded parameter initialisation, the analogue of `torch.manual_seed`: every initialiser draws a fresh
 * seed from one counter, so building the same model after `manualSeed(s)` gives the same weights.
 */
let seedCounter = 0;

/** Resets the initialisation seed counter (an integer; any value). */
export function manualSeed(seed: number): void {
  seedCounter = Math.floor(seed) >>> 0;
}

function nextSeed(): number {
  seedCounter = (seedCounter * 1103515245 + 12345) % 2147483647;
  return seedCounter;
}

/** float32 tensor of `shape` drawn from N(0, std^2). */
export function normal(shape: number[], std: number): Tensor {
  return tf.randomNormal(shape, 0, std, 'float32', nextSeed());
}

/** float32 tensor of `shape` drawn from N(0, std^2) truncated to [-2 std, 2 std] (timm `trunc_normal_`). */
export function truncatedNormal(shape: number[], std: number): Tensor {
  return tf.truncatedNormal(shape, 0, std, 'float32', nextSeed());
}

/** float32 tensor of `shape` drawn from U(-bound, bound). */
export function uniform(shape: number[], bound: number): Tensor {
  return tf.randomUniform(shape, -bound, bound, 'float32', nextSeed());
}
