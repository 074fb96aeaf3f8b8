import { Tensor, Tensor2D, Variable } from '../tf';
import { linear } from '../ops/matmul';
import { Module } from './module';
import { normalInit, zerosInit } from './init';
import { tf } from '../tf';

/**
 * Fully connected layer `y = x @ weight^T + bias` (torch.nn.Linear layout: `weight` [out, in], `bias` [out]).
 * Runs as one plain 2-D matmul forward and backward (see ops/matmul.ts).
 */
export class Linear extends Module {
  readonly weight: Variable;
  readonly bias?: Variable;
  /**
   * @param inFeatures input width
   * @param outFeatures output width
   * @param opts.bias whether to add a bias (default true)
   * @param opts.std std of the N(0, std^2) weight initialisation (default 0.02); the bias starts at 0
   */
  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: { bias?: boolean; std?: number } = {}) {
    super();
    this.weight = this.param('weight', normalInit([outFeatures, inFeatures], opts.std ?? 0.02));
    if (opts.bias ?? true) this.bias = this.param('bias', zerosInit([outFeatures]));
  }

  /** @param x float32 [..., in] @returns float32 [..., out] */
  apply(x: Tensor): Tensor {
    return linear(x, this.weight as Tensor2D, this.bias);
  }
}
