import { Tensor, Variable } from '../tf';
import { layerNorm } from '../ops/layer-norm';
import { Module } from './module';
import { onesInit, zerosInit } from './init';

/** LayerNorm over the last axis with learned `weight` and `bias` [dim] (torch.nn.LayerNorm names). */
export class LayerNorm extends Module {
  readonly weight: Variable;
  readonly bias: Variable;
  /** @param dim normalised width @param eps variance epsilon (1e-5 open_clip, 1e-6 ViT, 1e-12 BERT) */
  constructor(readonly dim: number, readonly eps = 1e-5) {
    super();
    this.weight = this.param('weight', onesInit([dim]));
    this.bias = this.param('bias', zerosInit([dim]));
  }

  /** @param x float32 [..., dim] @returns float32 [..., dim] */
  apply(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}
