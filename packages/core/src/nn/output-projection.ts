import { Tensor, Tensor2D, Variable } from '../tf';
import { linear } from '../ops/matmul';
import { Embedding } from './embedding';
import { Module } from './module';
import { normalInit, zerosInit } from './init';

/**
 * A language model's output projection to vocabulary logits, `h @ weight^T (+ bias)` with `weight` [vocab, dim]:
 * its own `weight` (untied: LLaMA-2 7B `output` / HF `lm_head`), or the token embedding's table (tied: GPT-2,
 * OPT, llama2.c, Press & Wolf 2017). Tied, it registers no parameter: the table is saved and optimised once, under
 * the embedding's name, and its gradient sums the lookup part and this part.
 */
export class OutputProjection extends Module {
  readonly weight: Variable;
  readonly bias?: Variable;
  /**
   * @param dim hidden width
   * @param vocabSize number of logits
   * @param opts.tiedTo the token embedding whose table is reused (its shape must be [vocabSize, dim])
   * @param opts.bias a learned bias [vocab] (default false)
   * @param opts.std N(0, std^2) init of an untied weight (default 0.02)
   * @throws Error when the tied table is not [vocabSize, dim]
   */
  constructor(readonly dim: number, readonly vocabSize: number, opts: { tiedTo?: Embedding; bias?: boolean; std?: number } = {}) {
    super();
    if (opts.tiedTo) {
      const e = opts.tiedTo;
      if (e.numEmbeddings !== vocabSize || e.dim !== dim) throw new Error(`OutputProjection: tied embedding is [${e.numEmbeddings}, ${e.dim}], expected [${vocabSize}, ${dim}]`);
      this.weight = e.weight;
    } else {
      this.weight = this.param('weight', normalInit([vocabSize, dim], opts.std ?? 0.02));
    }
    if (opts.bias) this.bias = this.param('bias', zerosInit([vocabSize]));
  }

  /** whether the weight is the token embedding's */
  get tied(): boolean {
    return !this.namedParameters().has('weight');
  }

  /** @param h float32 [..., dim] @returns float32 [..., vocabSize] logits */
  apply(h: Tensor): Tensor {
    return linear(h, this.weight as Tensor2D, this.bias);
  }
}
