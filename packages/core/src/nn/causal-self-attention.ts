import { tf, Tensor, Tensor4D } from '../tf';
import { mergeHeads, scaledDotProductAttention, splitHeads } from '../ops/attention';
import { applyRope, RopeTables } from '../ops/rotary';
import { repeatKvHeads } from '../ops/repeat-kv';
import { KVCache } from './kv-cache';
import { Linear } from './linear';
import { Module } from './module';

/** Constructor options of {@link CausalSelfAttention}. */
export interface CausalSelfAttentionOptions {
  /** model width (input and output) */
  width: number;
  /** query heads H; head dim width / H */
  numHeads: number;
  /**
   * key/value heads KV, dividing H (default H: multi-head; 1: multi-query, Shazeer 2019; between: grouped-query,
   * Ainslie et al. 2023). Query head h uses kv head floor(h / (H / KV)).
   */
  numKvHeads?: number;
  /** whether the four projections have biases (default false: LLaMA; GPT-2 and OPT have them) */
  bias?: boolean;
  /** names of the projections (default llama2.c's `wq`, `wk`, `wv`, `wo`; HF LLaMA and OPT: `q_proj`, `k_proj`, `v_proj`, `o_proj` / `out_proj`) */
  names?: { q?: string; k?: string; v?: string; out?: string };
  /** N(0, std^2) init of q/k/v (default 0.02) and of the output projection (default `std`; llama2.c 0.02 / sqrt(2 layers)) */
  std?: number;
  outStd?: number;
}

/** What one call of {@link CausalSelfAttention.apply} attends with. */
export interface CausalSelfAttentionInputs {
  /** additive mask broadcastable to [B, H, T, S] (see ops/decoder-masks.ts `decoderMask`); none: every key is seen */
  mask?: Tensor;
  /** RoPE tables of the T new positions (ops/rotary.ts `ropeTables`); none: no rotary embedding (GPT-2, OPT) */
  rope?: RopeTables;
  /** the model's cache and this layer's index in it: keys and values of earlier steps are read from it, this step's appended */
  cache?: { cache: KVCache; layer: number };
}

/**
 * A decoder's self-attention (Vaswani et al. 2017, section 3.2; llama2.c `Attention`): project q [H heads], k and v
 * [KV heads], rotate q and k by RoPE when given tables, append k and v to the cache when given one, repeat kv heads
 * for their query groups, scaled dot-product attention (scale head_dim^-0.5) under the mask, merge heads in head
 * order, output projection. Weights in the torch layout: wq [H d, width], wk and wv [KV d, width], wo [width, H d].
 */
export class CausalSelfAttention extends Module {
  /** query heads H */
  readonly numHeads: number;
  /** key/value heads KV */
  readonly numKvHeads: number;
  /** width / H */
  readonly headDim: number;
  /** query projection [H d, width] */
  readonly q: Linear;
  /** key projection [KV d, width] */
  readonly k: Linear;
  /** value projection [KV d, width] */
  readonly v: Linear;
  /** output projection [width, H d] */
  readonly out: Linear;

  /** @throws Error when width is not divisible by numHeads or numHeads by numKvHeads */
  constructor(opts: CausalSelfAttentionOptions) {
    super();
    const { width, numHeads } = opts;
    const numKvHeads = opts.numKvHeads ?? numHeads;
    if (width % numHeads !== 0) throw new Error(`attention width ${width} is not divisible by numHeads ${numHeads}`);
    if (!(Number.isInteger(numKvHeads) && numKvHeads >= 1 && numHeads % numKvHeads === 0)) {
      throw new Error(`numHeads ${numHeads} is not divisible by numKvHeads ${numKvHeads}`);
    }
    this.numHeads = numHeads;
    this.numKvHeads = numKvHeads;
    this.headDim = width / numHeads;
    const bias = opts.bias ?? false;
    const std = opts.std ?? 0.02;
    const n = opts.names ?? {};
    const kvWidth = numKvHeads * this.headDim;
    this.q = this.module(n.q ?? 'wq', new Linear(width, width, { bias, std }));
    this.k = this.module(n.k ?? 'wk', new Linear(width, kvWidth, { bias, std }));
    this.v = this.module(n.v ?? 'wv', new Linear(width, kvWidth, { bias, std }));
    this.out = this.module(n.out ?? 'wo', new Linear(width, width, { bias, std: opts.outStd ?? std }));
  }

  /**
   * @param x float32 [B, T, width]: the T new positions
   * @param inputs mask, RoPE tables and cache (see {@link CausalSelfAttentionInputs})
   * @returns float32 [B, T, width]
   */
  apply(x: Tensor, inputs: CausalSelfAttentionInputs = {}): Tensor {
    return tf.tidy(() => this.out.apply(attendHeads(this.q.apply(x), this.k.apply(x), this.v.apply(x), this.numHeads, this.numKvHeads, inputs)));
  }
}

/**
 * The attention between projections, shared by every decoder attention (CausalSelfAttention's separate q/k/v, GPT-2's
 * fused `c_attn`): split heads, rotate q and k by RoPE when given tables, append k and v to the cache when given one,
 * repeat kv heads for their query groups (query head h uses kv head floor(h / (H / KV))), scaled dot-product
 * attention (scale head_dim^-0.5) under the mask, merge heads in head order.
 * @param q float32 [B, T, H d] @param k float32 [B, T, KV d] @param v float32 [B, T, KV d]
 * @param numHeads H @param numKvHeads KV, dividing H
 * @param inputs mask, RoPE tables and cache (see {@link CausalSelfAttentionInputs})
 * @returns float32 [B, T, H d], before the output projection
 */
export function attendHeads(q: Tensor, k: Tensor, v: Tensor, numHeads: number, numKvHeads: number, inputs: CausalSelfAttentionInputs = {}): Tensor {
  return tf.tidy(() => {
    let qh = splitHeads(q, numHeads);
    let kh = splitHeads(k, numKvHeads);
    let vh = splitHeads(v, numKvHeads);
    if (inputs.rope) {
      qh = applyRope(qh, inputs.rope);
      kh = applyRope(kh, inputs.rope);
    }
    if (inputs.cache) ({ k: kh, v: vh } = inputs.cache.cache.append(inputs.cache.layer, kh, vh));
    const groups = numHeads / numKvHeads;
    const kAll = repeatKvHeads(kh, groups) as Tensor4D;
    const vAll = repeatKvHeads(vh, groups) as Tensor4D;
    return mergeHeads(scaledDotProductAttention(qh, kAll, vAll, inputs.mask));
  });
}
