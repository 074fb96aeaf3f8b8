import { tf, Tensor, Tensor2D, Variable } from '../tf';
import { embeddingLookup } from '../ops/embedding';
import { Module } from './module';
import { normalInit } from './init';

/**
 * Learned absolute position embeddings, a table `weight` [numPositions + offset, dim] read at `position + offset`
 * (GPT-2 `wpe`, offset 0; OPT `embed_positions`, offset 2: fairseq reserved the first rows, so OPT-125M's table is
 * [2050, 768] for 2048 positions). Trains on every backend (ops/embedding.ts).
 */
export class LearnedPositionEmbedding extends Module {
  readonly weight: Variable;
  /** rows of the table before position 0 */
  readonly offset: number;
  /**
   * @param numPositions positions the model can take, 0 .. numPositions - 1 (the context length)
   * @param dim embedding width
   * @param opts.offset rows before position 0 (default 0; OPT 2)
   * @param opts.std N(0, std^2) initialisation (default 0.02: nanoGPT, HF GPT-2 and OPT)
   * @throws Error when offset is not an integer >= 0
   */
  constructor(readonly numPositions: number, readonly dim: number, opts: { offset?: number; std?: number } = {}) {
    super();
    this.offset = opts.offset ?? 0;
    if (!Number.isInteger(this.offset) || this.offset < 0) throw new Error(`LearnedPositionEmbedding: offset must be an integer >= 0, got ${this.offset}`);
    this.weight = this.param('weight', normalInit([numPositions + this.offset, dim], opts.std ?? 0.02));
  }

  /**
   * @param positions int32 [...S], each in [0, numPositions) (see `positionsFromMask` for left-padded rows); the
   *   caller checks the range (a gather out of range is backend-defined)
   * @returns float32 [...S, dim]
   */
  apply(positions: Tensor): Tensor {
    return tf.tidy(() => embeddingLookup(this.weight as Tensor2D, this.offset ? positions.toInt().add(tf.scalar(this.offset, 'int32')) : positions));
  }
}
