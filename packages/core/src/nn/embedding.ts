import { Tensor, Tensor2D, Variable } from '../tf';
import { embeddingLookup } from '../ops/embedding';
import { Module } from './module';
import { normalInit } from './init';

/** Token embedding table `weight` [numEmbeddings, dim] (torch.nn.Embedding name); trains on wasm too. */
export class Embedding extends Module {
  readonly weight: Variable;
  /** @param opts.std std of the N(0, std^2) initialisation (default 0.02, open_clip's token embedding) */
  constructor(readonly numEmbeddings: number, readonly dim: number, opts: { std?: number } = {}) {
    super();
    this.weight = this.param('weight', normalInit([numEmbeddings, dim], opts.std ?? 0.02));
  }

  /** @param ids int32 [...S] in [0, numEmbeddings) @returns float32 [...S, dim] */
  apply(ids: Tensor): Tensor {
    return embeddingLookup(this.weight as Tensor2D, ids);
  }
}
