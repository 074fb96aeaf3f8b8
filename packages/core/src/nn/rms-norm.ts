import { Tensor, Variable } from '../tf';
import { rmsNorm } from '../ops/rms-norm';
import { Module } from './module';
import { onesInit } from './init';

/** RMSNorm over the last axis with a learned `weight` [dim] and no bias (llama2.c `RMSNorm`; see ops/rms-norm.ts). */
export class RMSNorm extends Module {
  readonly weight: Variable;
  /** @param dim normalised width @param eps added to the mean square (llama2.c 1e-5; HF configs `rms_norm_eps`) */
  constructor(readonly dim: number, readonly eps = 1e-5) {
    super();
    this.weight = this.param('weight', onesInit([dim]));
  }

  /** @param x float32 [..., dim] @returns float32 [..., dim] */
  apply(x: Tensor): Tensor {
    return rmsNorm(x, this.weight, this.eps);
  }
}
