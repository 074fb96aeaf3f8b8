import { tf, Tensor, Tensor2D, Variable } from '../tf';
import { linear } from '../ops/matmul';
import { mergeHeads, scaledDotProductAttention, splitHeads } from '../ops/attention';
import { Linear } from './linear';
import { LayerNorm } from './layer-norm';
import { Module } from './module';
import { normalInit, zerosInit } from './init';

/** Projected queries, keys and values, each [B, N, width]. */
export interface QKV {
  q: Tensor;
  k: Tensor;
  v: Tensor;
}

/**
 * How q/k/v projections are laid out and named; the attention math is shared (ops/attention.ts).
 * - `fused`: torch.nn.MultiheadAttention: `in_proj_weight` [3w, w] (rows q, k, v) and `in_proj_bias` [3w];
 *   when the key/value width differs from w, `q_proj_weight` [w, w], `k_proj_weight` / `v_proj_weight`
 *   [w, kvWidth] and one `in_proj_bias` [3w] (as PyTorch does).
 * - `separate`: three Linear layers named by `names` (`q_proj`/`k_proj`/`v_proj` by default; BERT uses
 *   `query`/`key`/`value`).
 */
export type QKVLayout = 'fused' | 'separate';

/** Constructor options of {@link MultiHeadAttention}. */
export interface MultiHeadAttentionOptions {
  /** query and output width w */
  width: number;
  /** number of heads; head width is width / numHeads */
  numHeads: number;
  /** width of the key/value input (cross-attention); default = width */
  kvWidth?: number;
  /** projection layout, default 'fused' */
  layout?: QKVLayout;
  /** Linear names for the `separate` layout and the output projection */
  names?: { q?: string; k?: string; v?: string; out?: string };
  /**
   * whether projections carry biases (default true). `'qv'`: query and value biases only, the key bias is a
   * constant zero (BEiT, VLMo: `q_bias` and `v_bias` [w] beside a bias-free fused `in_proj_weight`; with the
   * `separate` layout the key Linear has no bias); the output projection keeps its bias.
   */
  bias?: boolean | 'qv';
  /**
   * sub-LayerNorm on the merged heads before the output projection (Magneto / torchscale `inner_attn_ln`,
   * Wang et al. 2022 "Foundation Transformers" section 2), registered as `inner_attn_ln` with this epsilon;
   * none when undefined
   */
  innerNormEps?: number;
  /** init std of the q/k/v projections (default w^-0.5, open_clip) and of the output projection (default 0.02) */
  inStd?: number;
  outStd?: number;
}

/**
 * Multi-head attention, self or cross (Vaswani et al. 2017, section 3.2.2): project q from `x` and k, v from
 * `context` (default `x`), split into contiguous heads, scaled dot-product attention with an optional
 * additive mask, merge heads, output projection (`out_proj`).
 */
export class MultiHeadAttention extends Module {
  readonly width: number;
  readonly numHeads: number;
  readonly kvWidth: number;
  readonly layout: QKVLayout;
  private readonly fused: { inProj?: Variable; q?: Variable; k?: Variable; v?: Variable; bias?: Variable; qBias?: Variable; vBias?: Variable } = {};
  private readonly separate: { q?: Linear; k?: Linear; v?: Linear } = {};
  readonly innerNorm?: LayerNorm;
  readonly outProj: Linear;

  /** @throws Error when width is not divisible by numHeads. */
  constructor(opts: MultiHeadAttentionOptions) {
    super();
    const { width, numHeads } = opts;
    if (width % numHeads !== 0) throw new Error(`attention width ${width} is not divisible by numHeads ${numHeads}`);
    this.width = width;
    this.numHeads = numHeads;
    this.kvWidth = opts.kvWidth ?? width;
    this.layout = opts.layout ?? 'fused';
    const qvOnly = opts.bias === 'qv';
    const bias = qvOnly || opts.bias !== false;
    const std = opts.inStd ?? width ** -0.5;
    if (this.layout === 'fused') {
      if (this.kvWidth === width) {
        this.fused.inProj = this.param('in_proj_weight', normalInit([3 * width, width], std));
      } else {
        this.fused.q = this.param('q_proj_weight', normalInit([width, width], std));
        this.fused.k = this.param('k_proj_weight', normalInit([width, this.kvWidth], std));
        this.fused.v = this.param('v_proj_weight', normalInit([width, this.kvWidth], std));
      }
      if (qvOnly) {
        this.fused.qBias = this.param('q_bias', zerosInit([width]));
        this.fused.vBias = this.param('v_bias', zerosInit([width]));
      } else if (bias) this.fused.bias = this.param('in_proj_bias', zerosInit([3 * width]));
    } else {
      const n = opts.names ?? {};
      this.separate.q = this.module(n.q ?? 'q_proj', new Linear(width, width, { bias, std }));
      this.separate.k = this.module(n.k ?? 'k_proj', new Linear(this.kvWidth, width, { bias: bias && !qvOnly, std }));
      this.separate.v = this.module(n.v ?? 'v_proj', new Linear(this.kvWidth, width, { bias, std }));
    }
    if (opts.innerNormEps !== undefined) this.innerNorm = this.module('inner_attn_ln', new LayerNorm(width, opts.innerNormEps));
    this.outProj = this.module(opts.names?.out ?? 'out_proj', new Linear(width, width, { bias, std: opts.outStd }));
  }

  /** The fused layout's [3w] bias: `in_proj_bias`, or cat(q_bias, 0, v_bias) for q/v-only biases. */
  private fusedBias(): Tensor | undefined {
    if (this.fused.qBias) return tf.concat([this.fused.qBias, tf.zeros([this.width]), this.fused.vBias!]);
    return this.fused.bias;
  }

  /** Projects q from `x` [B, Nq, w] and k, v from `context` [B, Nk, kvWidth]; each result [B, N, w]. */
  projectQKV(x: Tensor, context: Tensor): QKV {
    const w = this.width;
    if (this.layout === 'separate') {
      return { q: this.separate.q!.apply(x), k: this.separate.k!.apply(context), v: this.separate.v!.apply(context) };
    }
    const b = this.fusedBias();
    const biasPart = (i: number) => (b ? b.slice([i * w], [w]) : undefined);
    if (this.fused.inProj) {
      const W = this.fused.inProj;
      if (x === context) {
        // [B, N, 3w] -> [3, B, N, w]: slicing the leading axis is a contiguous copy (SplitV on the last axis
        // is a slow strided copy on wasm)
        const [bsz, n] = x.shape;
        const qkv = linear(x, W as Tensor2D, b).reshape([bsz * n, 3, w]).transpose([1, 0, 2]);
        const part = (i: number) => qkv.slice([i, 0, 0], [1, bsz * n, w]).reshape([bsz, n, w]);
        return { q: part(0), k: part(1), v: part(2) };
      }
      const Wq = W.slice([0, 0], [w, w]) as Tensor2D;
      const Wkv = W.slice([w, 0], [2 * w, w]) as Tensor2D;
      const kv = linear(context, Wkv, b ? b.slice([w], [2 * w]) : undefined);
      // [B, M, 2w] -> [2, B, M, w] and slice the leading axis (SplitV on the last axis is a slow strided copy on wasm)
      const [bk, m] = context.shape;
      const kvT = kv.reshape([bk * m, 2, w]).transpose([1, 0, 2]);
      const k = kvT.slice([0, 0, 0], [1, bk * m, w]).reshape([bk, m, w]);
      const v = kvT.slice([1, 0, 0], [1, bk * m, w]).reshape([bk, m, w]);
      return { q: linear(x, Wq, biasPart(0)), k, v };
    }
    return {
      q: linear(x, this.fused.q as Tensor2D, biasPart(0)),
      k: linear(context, this.fused.k as Tensor2D, biasPart(1)),
      v: linear(context, this.fused.v as Tensor2D, biasPart(2)),
    };
  }

  /**
   * @param x float32 [B, Nq, width] queries (and keys/values for self-attention)
   * @param opts.context float32 [B, Nk, kvWidth] keys/values for cross-attention (default `x`)
   * @param opts.mask additive float32 mask broadcastable to [B, heads, Nq, Nk] (0 keep, -Infinity or a large
   *   negative constant drop); see ops/attention.ts causalMask / keyPaddingMask
   * @param opts.bias additive float32 bias with gradient (e.g. relative position bias) [B|1, heads, Nq, Nk]
   * @returns float32 [B, Nq, width]
   */
  apply(x: Tensor, opts: { context?: Tensor; mask?: Tensor; bias?: Tensor } = {}): Tensor {
    return tf.tidy(() => {
      const { q, k, v } = this.projectQKV(x, opts.context ?? x);
      const h = this.numHeads;
      const out = scaledDotProductAttention(splitHeads(q, h), splitHeads(k, h), splitHeads(v, h), opts.mask, undefined, opts.bias);
      return this.projectOut(mergeHeads(out));
    });
  }

  /**
   * The output side of attention: the optional sub-LayerNorm, then the output projection.
   * @param merged float32 [B, N, width] merged heads @returns float32 [B, N, width]
   */
  projectOut(merged: Tensor): Tensor {
    return this.outProj.apply(this.innerNorm ? this.innerNorm.apply(merged) : merged);
  }
}
