import { tf, Tensor } from '../tf';
import { silu } from '../ops/activations';
import { Linear } from './linear';
import { Module } from './module';

/**
 * LLaMA's feed-forward width (llama2.c and Meta `FeedForward`): `4 * dim`, times 2/3 (so SwiGLU's three matrices
 * cost what a 4x two-matrix MLP costs; Shazeer 2020, section 2), optionally times `ffnDimMultiplier`, each step
 * truncated to an integer, then rounded up to a multiple of `multipleOf`. dim 4096, multiple_of 256 gives 11008
 * (LLaMA-2 7B); dim 64, multiple_of 16 gives 176.
 * @throws Error when dim or multipleOf is not a positive integer
 */
export function llamaHiddenDim(dim: number, multipleOf: number, ffnDimMultiplier?: number): number {
  if (!Number.isInteger(dim) || dim <= 0 || !Number.isInteger(multipleOf) || multipleOf <= 0) {
    throw new Error(`llamaHiddenDim: dim and multipleOf must be positive integers, got ${dim} and ${multipleOf}`);
  }
  let hidden = Math.trunc((2 * 4 * dim) / 3);
  if (ffnDimMultiplier !== undefined) hidden = Math.trunc(ffnDimMultiplier * hidden);
  return multipleOf * Math.ceil(hidden / multipleOf);
}

/** Constructor options of {@link SwiGLU}. */
export interface SwiGLUOptions {
  /** names of the gate, down and up projections (default llama2.c's `w1`, `w2`, `w3`; HF: `gate_proj`, `down_proj`, `up_proj`) */
  names?: { gate?: string; down?: string; up?: string };
  /** whether the three projections have biases (default false, as LLaMA) */
  bias?: boolean;
  /** init std of the gate and down projections (default 0.02) and of the up projection (default `std`; llama2.c 0.02 / sqrt(2 layers)) */
  std?: number;
  upStd?: number;
}

/**
 * SwiGLU feed-forward (Shazeer 2020, "GLU Variants Improve Transformer", eq. 6; LLaMA, Touvron et al. 2023,
 * section 2.2): `w2(silu(w1 x) * w3 x)`, silu(z) = z sigmoid(z). Weights in the torch layout: w1, w3 [hidden, dim],
 * w2 [dim, hidden].
 */
export class SwiGLU extends Module {
  readonly gate: Linear;
  readonly down: Linear;
  readonly up: Linear;
  /** @param dim input and output width @param hidden inner width (see {@link llamaHiddenDim}) */
  constructor(readonly dim: number, readonly hidden: number, opts: SwiGLUOptions = {}) {
    super();
    const bias = opts.bias ?? false;
    const std = opts.std ?? 0.02;
    // registration order w1, w2, w3: llama2.c's state_dict order
    this.gate = this.module(opts.names?.gate ?? 'w1', new Linear(dim, hidden, { bias, std }));
    this.down = this.module(opts.names?.down ?? 'w2', new Linear(hidden, dim, { bias, std }));
    this.up = this.module(opts.names?.up ?? 'w3', new Linear(dim, hidden, { bias, std: opts.upStd ?? std }));
  }

  /** @param x float32 [..., dim] @returns float32 [..., dim] */
  apply(x: Tensor): Tensor {
    return tf.tidy(() => this.down.apply(silu(this.gate.apply(x)).mul(this.up.apply(x))));
  }
}
