import { tf, Tensor, Variable } from '../tf';
import { ActivationName } from '../ops/activations';
import { mergeHeads, scaledDotProductAttention, splitHeads } from '../ops/attention';
import { MultiHeadAttention, QKVLayout } from './attention';
import { LayerNorm } from './layer-norm';
import { MLP } from './mlp';
import { BlockList } from './transformer';
import { Module } from './module';
import { fillInit } from './init';

/**
 * The multiway transformer (mixture-of-modality-experts, MoME): VLMo (Bao et al., NeurIPS 2022, section 3.1,
 * Fig. 1) and BEiT-3 (Wang et al., CVPR 2023, section 2.1, Fig. 2). One block, one attention math
 * (ops/attention.ts); tokens are routed by modality to expert copies of the feed-forward network (and, in
 * torchscale's released BEiT-3 layout, to expert copies of every LayerNorm and attention projection around
 * one shared softmax).
 *
 * Parameter names (map reference checkpoints onto them with a `rename` for loadStateDict):
 * `norm1` or `norm1.{vision,language}`; `attn` or `attn.{vision,language}` (a {@link MultiHeadAttention}:
 * `in_proj_weight`, `q_bias`, `v_bias` / `in_proj_bias` / `q_proj`, `k_proj`, `v_proj`, `inner_attn_ln`,
 * `out_proj`); `gamma_1`, `gamma_2`; `norm2.{vision,language,vl}`; `ffn.{vision,language,vl}` (an {@link MLP}:
 * `c_fc`, `ffn_layernorm`, `c_proj`).
 */

/** A token modality: image patches (and the image class token) or text tokens. */
export type Modality = 'vision' | 'language';
/** A feed-forward expert: V-FFN, L-FFN or the vision-language VL-FFN (VLMo section 3.1). */
export type FfnExpert = Modality | 'vl';
/** A run of `length` consecutive tokens of one modality. */
export interface MultiwaySegment {
  modality: Modality;
  length: number;
}
/** Where the attention projections live: one shared copy (VLMo, the BEiT-3 paper) or one per modality (torchscale). */
export type MultiwayAttentionLayout = 'shared' | 'per-modality';

/** Constructor options of {@link MultiwayBlock}. */
export interface MultiwayBlockOptions {
  width: number;
  numHeads: number;
  /** FFN inner width (default 4 x width) */
  mlpWidth?: number;
  /** FFN activation (default 'gelu', the exact erf form) */
  activation?: ActivationName;
  /** epsilon of every LayerNorm of the block (VLMo 1e-6, torchscale 1e-5; default 1e-6) */
  lnEps?: number;
  /** attention projections and pre-attention norms: 'shared' (default) or 'per-modality' */
  attention?: MultiwayAttentionLayout;
  /** q/k/v projection layout (default 'fused': `in_proj_weight` [3w, w]; 'separate': q_proj, k_proj, v_proj) */
  qkvLayout?: QKVLayout;
  /** q/k/v biases: true (default), false, or 'qv' (q and v only, the k bias is zero: BEiT, VLMo) */
  qkvBias?: boolean | 'qv';
  /** sub-LayerNorms inside attention (before out_proj) and FFN (after the activation), torchscale `subln` */
  subLn?: boolean;
  /** layer scale (Touvron et al. 2021 "CaiT", section 3): learnable gamma_1, gamma_2 [width] with this initial value */
  layerScale?: number;
  /** whether this block has the vision-language expert VL-FFN (VLMo's top layers) */
  vlExpert?: boolean;
  /** init stds of the attention input/output projections and the FFN layers */
  init?: { attnInStd?: number; attnOutStd?: number; fcStd?: number; projStd?: number };
}

/** Options of {@link MultiwayBlock.apply}. */
export interface MultiwayApplyOptions {
  /** the modality of each run of tokens, in order; lengths sum to N */
  segments: MultiwaySegment[];
  /** 'routed' (default): each token to its modality's expert; 'vl': every token to the VL-FFN */
  ffn?: 'routed' | 'vl';
  /** additive attention mask broadcastable to [B, heads, N, N] (no gradient) */
  mask?: Tensor;
  /** additive attention bias broadcastable to [B, heads, N, N] with gradient (relative position bias) */
  bias?: Tensor;
}

/**
 * Splits `x` [B, N, D] on axis 1 into runs of tokens that share a key (empty runs skipped, equal neighbours
 * merged); one run returns `x` itself.
 * @throws Error when the run lengths do not sum to N
 */
export function splitTokens(x: Tensor, runs: { key: string; length: number }[]): { key: string; part: Tensor }[] {
  const n = x.shape[1];
  const total = runs.reduce((s, r) => s + r.length, 0);
  if (total !== n) throw new Error(`multiway routing covers ${total} tokens but the input has ${n}`);
  const merged: { key: string; start: number; length: number }[] = [];
  let start = 0;
  for (const r of runs) {
    if (r.length <= 0) continue;
    const last = merged[merged.length - 1];
    if (last && last.key === r.key) last.length += r.length;
    else merged.push({ key: r.key, start, length: r.length });
    start += r.length;
  }
  if (merged.length === 1) return [{ key: merged[0].key, part: x }];
  return merged.map((m) => ({ key: m.key, part: x.slice([0, m.start, 0], [-1, m.length, -1]) }));
}

/**
 * Applies `f` to each run of tokens of `x` [B, N, D] that shares a key and concatenates the results on axis 1.
 * Tokens of one key never meet another key's weights, so an expert that no token is routed to receives no
 * gradient at all (VLMo section 3.1: "switches to a modality expert according to the input modality").
 * @param runs consecutive runs; their lengths must sum to N (see {@link splitTokens})
 * @throws Error when the lengths do not sum to N
 */
export function routeTokens(x: Tensor, runs: { key: string; length: number }[], f: (part: Tensor, key: string) => Tensor): Tensor {
  return tf.tidy(() => {
    const parts = splitTokens(x, runs).map(({ key, part }) => f(part, key));
    return parts.length === 1 ? parts[0] : tf.concat(parts, 1);
  });
}

/** A set of modules keyed by expert name (`vision`, `language`, `vl`), registered under those names. */
export class ExpertSet<M extends Module> extends Module {
  private readonly experts = new Map<string, M>();
  /** @param make builds the expert of each key, in order */
  constructor(keys: readonly string[], make: (key: string) => M) {
    super();
    for (const k of keys) this.experts.set(k, this.module(k, make(k)));
  }

  /** The expert named `key`. @throws Error naming the valid experts when `key` has none */
  get(key: string): M {
    const m = this.experts.get(key);
    if (!m) throw new Error(`no '${key}' expert here; experts: ${[...this.experts.keys()].join(', ')}`);
    return m;
  }

  /** Whether an expert named `key` exists. */
  has(key: string): boolean {
    return this.experts.has(key);
  }
}

/**
 * One multiway transformer block, pre-LN (Xiong et al. 2020):
 * `x = x + gamma_1 * attn(norm1(x))`, then `x = x + gamma_2 * FFN_e(norm2_e(x))` with the expert `e` chosen
 * per token by its modality, or the VL-FFN for every token (VLMo section 3.1 eq. for MoME; BEiT-3 section 2.1).
 * Attention is one softmax over all keys: with shared projections (VLMo, the BEiT-3 paper) or with
 * per-modality copies of norm1, q/k/v, the sub-LN and the output projection (torchscale's released BEiT-3,
 * `MultiwayNetwork` around `MultiheadAttention`), so only the softmax mixes the modalities.
 */
export class MultiwayBlock extends Module {
  readonly attentionLayout: MultiwayAttentionLayout;
  readonly hasVlExpert: boolean;
  readonly norm1: ExpertSet<LayerNorm> | LayerNorm;
  readonly attn: ExpertSet<MultiHeadAttention> | MultiHeadAttention;
  readonly gamma1?: Variable;
  readonly gamma2?: Variable;
  readonly norm2: ExpertSet<LayerNorm>;
  readonly ffn: ExpertSet<MLP>;

  /** @throws Error when width is not divisible by numHeads or the activation is unknown */
  constructor(readonly opts: MultiwayBlockOptions) {
    super();
    const { width, numHeads } = opts;
    const eps = opts.lnEps ?? 1e-6;
    const init = opts.init ?? {};
    const sub = opts.subLn ? eps : undefined;
    this.attentionLayout = opts.attention ?? 'shared';
    this.hasVlExpert = opts.vlExpert ?? false;
    const modalities: Modality[] = ['vision', 'language'];
    const makeAttn = () => new MultiHeadAttention({
      width, numHeads, layout: opts.qkvLayout ?? 'fused', bias: opts.qkvBias ?? true, innerNormEps: sub,
      inStd: init.attnInStd, outStd: init.attnOutStd,
    });
    if (this.attentionLayout === 'shared') {
      this.norm1 = this.module('norm1', new LayerNorm(width, eps));
      this.attn = this.module('attn', makeAttn());
    } else {
      this.norm1 = this.module('norm1', new ExpertSet(modalities, () => new LayerNorm(width, eps)));
      this.attn = this.module('attn', new ExpertSet(modalities, makeAttn));
    }
    if (opts.layerScale !== undefined) {
      this.gamma1 = this.param('gamma_1', fillInit([width], opts.layerScale));
      this.gamma2 = this.param('gamma_2', fillInit([width], opts.layerScale));
    }
    const experts: FfnExpert[] = this.hasVlExpert ? ['vision', 'language', 'vl'] : ['vision', 'language'];
    const hidden = opts.mlpWidth ?? 4 * width;
    this.norm2 = this.module('norm2', new ExpertSet(experts, () => new LayerNorm(width, eps)));
    this.ffn = this.module('ffn', new ExpertSet(experts, () => new MLP(width, hidden, opts.activation ?? 'gelu', {
      fcStd: init.fcStd, projStd: init.projStd, innerNormEps: sub,
    })));
  }

  /**
   * @param x float32 [B, N, width]
   * @returns float32 [B, N, width]
   * @throws Error when the segments do not cover N tokens, or `ffn: 'vl'` on a block without the VL expert
   */
  apply(x: Tensor, opts: MultiwayApplyOptions): Tensor {
    if (opts.ffn === 'vl' && !this.hasVlExpert) throw new Error('this multiway block has no vision-language (VL) expert');
    return tf.tidy(() => {
      const runs = opts.segments.map((s) => ({ key: s.modality as string, length: s.length }));
      let a = this.attention(x, runs, opts);
      if (this.gamma1) a = a.mul(this.gamma1);
      const h = x.add(a);
      const ffnRuns = opts.ffn === 'vl' ? [{ key: 'vl', length: (x.shape as number[])[1] }] : runs;
      let f = routeTokens(h, ffnRuns, (p, e) => this.ffn.get(e).apply(this.norm2.get(e).apply(p)));
      if (this.gamma2) f = f.mul(this.gamma2);
      return h.add(f);
    });
  }

  private attention(x: Tensor, runs: { key: string; length: number }[], opts: MultiwayApplyOptions): Tensor {
    if (this.attn instanceof MultiHeadAttention) {
      return this.attn.apply((this.norm1 as LayerNorm).apply(x), { mask: opts.mask, bias: opts.bias });
    }
    const attn = this.attn;
    const norm1 = this.norm1 as ExpertSet<LayerNorm>;
    const parts = splitTokens(x, runs).map(({ key, part }) => {
      const hn = norm1.get(key).apply(part);
      return attn.get(key).projectQKV(hn, hn);
    });
    const cat = (key: 'q' | 'k' | 'v') => (parts.length === 1 ? parts[0][key] : tf.concat(parts.map((p) => p[key]), 1));
    const h = this.opts.numHeads;
    const out = scaledDotProductAttention(splitHeads(cat('q'), h), splitHeads(cat('k'), h), splitHeads(cat('v'), h), opts.mask, undefined, opts.bias);
    return routeTokens(mergeHeads(out), runs, (p, e) => attn.get(e).projectOut(p));
  }
}

/** Constructor options of {@link MultiwayEncoder}. */
export interface MultiwayEncoderOptions extends Omit<MultiwayBlockOptions, 'vlExpert'> {
  layers: number;
  /**
   * the first layer with a VL-FFN (VLMo `vlffn_start_layer_index`, L - F for the top F layers); default
   * `layers` (no VL expert, torchscale's BEiT-3)
   */
  vlStart?: number;
  /** the LayerNorm after the last block: 'shared' (VLMo `norm`, default), 'per-modality' (torchscale `layer_norm.A/B`) or 'none' */
  finalNorm?: 'shared' | 'per-modality' | 'none';
}

/** Options of {@link MultiwayEncoder.apply}. */
export interface MultiwayEncoderApplyOptions {
  segments: MultiwaySegment[];
  /** additive attention mask broadcastable to [B, heads, N, N], the same in every layer */
  mask?: Tensor;
  /** per-layer additive attention bias (relative position bias), indexed by layer number */
  biases?: Tensor[];
  /**
   * when blocks with a VL expert use it: 'auto' (default) when the input holds both modalities (VLMo's fusion
   * mode), 'force' for any input (VLMo's `cls_vlffn_feats`), 'never'
   */
  vl?: 'auto' | 'force' | 'never';
  /** run blocks [from, to) only (default all) */
  from?: number;
  to?: number;
  /** apply the final norm after the last block run (default true when `to` is the last layer) */
  finalNorm?: boolean;
}

/**
 * A stack of {@link MultiwayBlock}s named `blocks.0`, `blocks.1`, ... with the VL-FFN in layers >= vlStart
 * (VLMo section 3.1: "the top F layers"; BEiT-3 paper section 2.1: "the top three layers"), followed by a
 * shared (`norm`) or per-modality (`norm.vision`, `norm.language`) LayerNorm.
 */
export class MultiwayEncoder extends Module {
  readonly blocks: MultiwayBlock[] = [];
  readonly vlStart: number;
  readonly norm?: LayerNorm | ExpertSet<LayerNorm>;

  /** @throws Error when vlStart is outside [0, layers] */
  constructor(readonly opts: MultiwayEncoderOptions) {
    super();
    this.vlStart = opts.vlStart ?? opts.layers;
    if (this.vlStart < 0 || this.vlStart > opts.layers) throw new Error(`vlStart ${this.vlStart} is outside [0, ${opts.layers}]`);
    const list = this.module('blocks', new BlockList());
    for (let i = 0; i < opts.layers; i++) this.blocks.push(list.add(String(i), new MultiwayBlock({ ...opts, vlExpert: i >= this.vlStart })));
    const eps = opts.lnEps ?? 1e-6;
    const fn = opts.finalNorm ?? 'shared';
    if (fn === 'shared') this.norm = this.module('norm', new LayerNorm(opts.width, eps));
    else if (fn === 'per-modality') this.norm = this.module('norm', new ExpertSet(['vision', 'language'], () => new LayerNorm(opts.width, eps)));
  }

  /** Number of layers. */
  get layers(): number {
    return this.blocks.length;
  }

  /**
   * Runs the blocks and the final norm; see {@link forward} for the options.
   * @returns float32 [B, N, width]
   */
  apply(x: Tensor, opts: MultiwayEncoderApplyOptions): Tensor {
    return tf.tidy(() => this.forward(x, opts).output);
  }

  /**
   * @param x float32 [B, N, width] embedded tokens
   * @returns `output` float32 [B, N, width] (after the final norm when it applies) and `hidden`, the output of
   *   every block run, each float32 [B, N, width] (all owned by the caller's tidy scope)
   * @throws Error when segments do not cover N tokens or `biases` lacks a layer that is run
   */
  forward(x: Tensor, opts: MultiwayEncoderApplyOptions): { output: Tensor; hidden: Tensor[] } {
    const from = opts.from ?? 0;
    const to = opts.to ?? this.layers;
    const both = new Set(opts.segments.filter((s) => s.length > 0).map((s) => s.modality)).size > 1;
    const vlMode = opts.vl ?? 'auto';
    return tf.tidy(() => {
      const hidden: Tensor[] = [];
      let h = x;
      for (let i = from; i < to; i++) {
        const b = this.blocks[i];
        const useVl = b.hasVlExpert && (vlMode === 'force' || (vlMode === 'auto' && both));
        if (opts.biases && !opts.biases[i]) throw new Error(`no attention bias for layer ${i}`);
        h = b.apply(h, { segments: opts.segments, ffn: useVl ? 'vl' : 'routed', mask: opts.mask, bias: opts.biases?.[i] });
        hidden.push(h);
      }
      const output = (opts.finalNorm ?? to === this.layers) ? this.normalize(h, opts.segments) : h;
      return { output, hidden };
    });
  }

  /** The final LayerNorm (routed per modality when per-modality; identity when 'none'). float32 [B, N, width]. */
  normalize(x: Tensor, segments: MultiwaySegment[]): Tensor {
    const norm = this.norm;
    if (!norm) return x;
    if (norm instanceof LayerNorm) return norm.apply(x);
    return routeTokens(x, segments.map((s) => ({ key: s.modality, length: s.length })), (p, e) => norm.get(e).apply(p));
  }
}
