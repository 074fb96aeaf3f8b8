import { tf, Tensor, Tensor2D, Variable } from '../tf';
import { ActivationName } from '../ops/activations';
import { causalMask } from '../ops/attention';
import { project } from '../ops/matmul';
import { Embedding } from './embedding';
import { LayerNorm } from './layer-norm';
import { Module } from './module';
import { normal } from './init';
import { Transformer } from './transformer';

/**
 * How a text encoder pools its token states into one vector:
 * - `argmax`: the position of the largest token id (open_clip's `text_global_pool(pool_type='argmax')`, which
 *   is right only because OpenAI's BPE gives end-of-text the largest id; other tokenizers need `eot`);
 * - `eot`: the first position holding `eotId` (transformers' `CLIPTextTransformer` with `eos_token_id` set);
 * - `cls`: position 0;
 * - `mean`: mean over positions whose id is not `padId`.
 */
export type TextPool = 'argmax' | 'eot' | 'cls' | 'mean';

/**
 * The pool used when none is named: 'eot' whenever the end-of-text id is known, else 'argmax'. open_clip pools
 * with 'argmax' (`text_global_pool`, `pool_type='argmax'`) because OpenAI's BPE gives <end_of_text> the largest
 * id; a tokenizer whose end id is not the largest (mmzoo's word tokenizer) needs 'eot', so 'argmax' is kept only
 * when named or when no end id is given.
 * @param eotId the tokenizer's end-of-text id, when known
 */
export function defaultTextPool(eotId: number | undefined): TextPool {
  return eotId === undefined ? 'argmax' : 'eot';
}

/** Constructor options of {@link TextTransformer} (open_clip text tower arguments). */
export interface TextTransformerOptions {
  vocabSize: number;
  contextLength: number;
  width: number;
  layers: number;
  numHeads: number;
  mlpWidth?: number;
  activation?: ActivationName;
  lnEps?: number;
  /** causal (autoregressive) mask, default true (CLIP); false for a bidirectional encoder */
  causal?: boolean;
  /** default: 'eot' when `eotId` is given, else 'argmax' (see {@link defaultTextPool}) */
  pool?: TextPool;
  /** end-of-text id: required for pool 'eot'; with 'argmax' each row is checked to contain it */
  eotId?: number;
  /** padding id: required for pool 'mean' */
  padId?: number;
  /** output projection `text_projection` [width, outputDim]; none when undefined */
  outputDim?: number;
}

/** Outputs of {@link TextTransformer.apply}. */
export interface TextOutput {
  /** float32 [B, outputDim or width]: pooled state after ln_final and `text_projection` */
  pooled: Tensor;
  /** float32 [B, L, width]: all states after ln_final */
  tokens: Tensor;
}

/**
 * Text transformer in open_clip's layout: `token_embedding` + `positional_embedding` [L, width], `transformer`
 * with an additive causal mask (-inf strictly above the diagonal) or none, `ln_final` on all positions, pooling
 * (see {@link TextPool}), optional `text_projection`. Initialisation follows open_clip's `init_parameters`.
 */
export class TextTransformer extends Module {
  readonly tokenEmbedding: Embedding;
  readonly positionalEmbedding: Variable;
  readonly transformer: Transformer;
  readonly lnFinal: LayerNorm;
  readonly textProjection?: Variable;
  /** the pooling in use: `opts.pool`, or {@link defaultTextPool} of `opts.eotId` */
  readonly pool: TextPool;

  /** @throws Error when the pool needs an id (eotId, padId) that is not given */
  constructor(readonly opts: TextTransformerOptions) {
    super();
    const { width, layers } = opts;
    const pool = (this.pool = opts.pool ?? defaultTextPool(opts.eotId));
    if (pool === 'eot' && opts.eotId === undefined) throw new Error("text pool 'eot' needs eotId");
    if (pool === 'mean' && opts.padId === undefined) throw new Error("text pool 'mean' needs padId");
    const projStd = width ** -0.5 * (2 * layers) ** -0.5;
    this.tokenEmbedding = this.module('token_embedding', new Embedding(opts.vocabSize, width, { std: 0.02 }));
    this.positionalEmbedding = this.param('positional_embedding', normal([opts.contextLength, width], 0.01));
    this.transformer = this.module('transformer', new Transformer(layers, {
      width, numHeads: opts.numHeads, mlpWidth: opts.mlpWidth, activation: opts.activation, lnEps: opts.lnEps,
      init: { attnInStd: width ** -0.5, attnOutStd: projStd, fcStd: (2 * width) ** -0.5, projStd },
    }));
    this.lnFinal = this.module('ln_final', new LayerNorm(width, opts.lnEps ?? 1e-5));
    if (opts.outputDim !== undefined) this.textProjection = this.param('text_projection', normal([width, opts.outputDim], width ** -0.5));
  }

  /**
   * Pooling weights [B, L] (one-hot rows, or uniform over non-pad tokens for 'mean'), computed on the host
   * from the ids.
   * @param ids int32 [B, L]
   * @throws Error naming the row when pool is 'eot' (or 'argmax' with eotId set) and a row has no eotId
   */
  poolingWeights(ids: Tensor): Tensor {
    const [b, l] = ids.shape;
    const data = ids.dataSync();
    const w = new Float32Array(b * l);
    const pool = this.pool;
    for (let r = 0; r < b; r++) {
      const row = data.subarray(r * l, (r + 1) * l);
      if ((pool === 'eot' || pool === 'argmax') && this.opts.eotId !== undefined && !row.includes(this.opts.eotId)) {
        throw new Error(`text row ${r} has no end-of-text token (id ${this.opts.eotId}): ${Array.from(row).join(' ')}`);
      }
      if (pool === 'cls') w[r * l] = 1;
      else if (pool === 'eot') w[r * l + row.indexOf(this.opts.eotId!)] = 1;
      else if (pool === 'argmax') {
        let best = 0;
        for (let j = 1; j < l; j++) if (row[j] > row[best]) best = j;
        w[r * l + best] = 1;
      } else {
        let n = 0;
        for (let j = 0; j < l; j++) if (row[j] !== this.opts.padId) n++;
        if (n === 0) throw new Error(`text row ${r} is all padding; mean pooling needs at least one token`);
        for (let j = 0; j < l; j++) if (row[j] !== this.opts.padId) w[r * l + j] = 1 / n;
      }
    }
    return tf.tensor2d(w, [b, l]);
  }

  /**
   * @param ids int32 [B, L] with L <= contextLength
   * @returns pooled [B, outputDim or width] and tokens [B, L, width]
   * @throws Error when L exceeds contextLength or pooling finds no end-of-text token
   */
  apply(ids: Tensor): TextOutput {
    const [b, l] = ids.shape;
    if (ids.rank !== 2 || l > this.opts.contextLength) {
      throw new Error(`TextTransformer expects ids [B, L <= ${this.opts.contextLength}], got [${ids.shape}]`);
    }
    return tf.tidy(() => {
      const weights = this.poolingWeights(ids);
      let x = this.tokenEmbedding.apply(ids).add(this.positionalEmbedding.slice([0, 0], [l, this.opts.width]));
      const mask = this.opts.causal ?? true ? causalMask(l) : undefined;
      x = this.transformer.apply(x, { mask });
      x = this.lnFinal.apply(x);
      let pooled = x.mul(weights.reshape([b, l, 1])).sum(1);
      if (this.textProjection) pooled = project(pooled, this.textProjection as Tensor2D);
      return { pooled, tokens: x };
    });
  }
}
