import { tf, Tensor, Variable } from '../tf';
import { MultiHeadAttention } from './attention';
import { LayerNorm } from './layer-norm';
import { Module } from './module';
import { normalInit } from './init';

/** Constructor options of {@link AttentionalPooler} (open_clip `AttentionalPooler(d_model, context_dim, n_head, n_queries)`). */
export interface AttentionalPoolerOptions {
  /** query and output width d (CoCa: the decoder / embedding width) */
  width: number;
  /** width of the tokens being pooled (the image encoder's width) */
  contextWidth: number;
  /** number of learned queries, i.e. output tokens (CoCa paper: 1 for the contrastive embedding, 256 for captioning) */
  numQueries: number;
  /** attention heads; head width is width / numHeads */
  numHeads: number;
  /** LayerNorm epsilon of `ln_q` and `ln_k` (default 1e-5) */
  lnEps?: number;
  /** std of the N(0, std^2) initialisation of `query` (default 1, as open_clip's `torch.randn`) */
  queryStd?: number;
}

/**
 * Attentional pooling (Lee et al. 2019, "Set Transformer", PMA; CoCa, Yu et al. 2022, section 3.2 "Attentional
 * Poolers"): `numQueries` learned queries attend to a token sequence, one multi-head cross-attention without mask,
 * giving a fixed number of output tokens whatever the input length:
 * `out = attn(ln_q(query), ln_k(x))`. Parameter names follow open_clip: `query` [numQueries, width],
 * `attn.*` (torch MultiheadAttention; with contextWidth != width its `q_proj_weight` [w, w],
 * `k_proj_weight` / `v_proj_weight` [w, contextWidth] and `in_proj_bias` [3w]), `ln_q` [width], `ln_k` [contextWidth].
 */
export class AttentionalPooler extends Module {
  readonly query: Variable;
  readonly attn: MultiHeadAttention;
  readonly lnQ: LayerNorm;
  readonly lnK: LayerNorm;

  /** @throws Error when width is not divisible by numHeads */
  constructor(readonly opts: AttentionalPoolerOptions) {
    super();
    const { width, contextWidth, numQueries, numHeads } = opts;
    const eps = opts.lnEps ?? 1e-5;
    this.query = this.param('query', normalInit([numQueries, width], opts.queryStd ?? 1));
    this.attn = this.module('attn', new MultiHeadAttention({ width, numHeads, kvWidth: contextWidth }));
    this.lnQ = this.module('ln_q', new LayerNorm(width, eps));
    this.lnK = this.module('ln_k', new LayerNorm(contextWidth, eps));
  }

  /**
   * @param x float32 [B, N, contextWidth] tokens to pool (e.g. every image-encoder output token)
   * @returns float32 [B, numQueries, width]
   * @throws Error when x is not [B, N, contextWidth]
   */
  apply(x: Tensor): Tensor {
    const { contextWidth, numQueries, width } = this.opts;
    if (x.rank !== 3 || x.shape[2] !== contextWidth) {
      throw new Error(`AttentionalPooler expects tokens [B, N, ${contextWidth}], got [${x.shape}]`);
    }
    return tf.tidy(() => {
      const kv = this.lnK.apply(x);
      const q = tf.zeros([x.shape[0], numQueries, width]).add(this.lnQ.apply(this.query));
      return this.attn.apply(q, { context: kv });
    });
  }
}
