import { tf, Tensor } from '../tf';
import { ActivationName } from '../ops/activations';
import { MultiHeadAttention, QKVLayout } from './attention';
import { LayerNorm } from './layer-norm';
import { MLP } from './mlp';
import { Module } from './module';

/**
 * The sizes of a transformer stack as the towers built on {@link Transformer} take them (open_clip's vision and text
 * towers, BERT); each tower documents its defaults.
 */
export interface TransformerStackOptions {
  width: number;
  layers: number;
  numHeads: number;
  /** MLP inner width (default 4 x width) */
  mlpWidth?: number;
  /** MLP activation */
  activation?: ActivationName;
  /** LayerNorm epsilon */
  lnEps?: number;
}

/** Constructor options of {@link TransformerBlock} and {@link Transformer}. */
export interface TransformerBlockOptions {
  width: number;
  numHeads: number;
  /** MLP inner width (default 4 x width) */
  mlpWidth?: number;
  /** MLP activation (default 'gelu'; OpenAI CLIP uses 'quick_gelu') */
  activation?: ActivationName;
  /** LayerNorm epsilon (default 1e-5) */
  lnEps?: number;
  /** q/k/v projection layout (default 'fused') */
  qkvLayout?: QKVLayout;
  /**
   * attention projection biases (MultiHeadAttention `bias`): true (default), or 'qv' for query and value biases only
   * beside the output projection's (EVA's and BEiT's `q_bias` / `v_bias`; BLIP-2's EVA ViT-g, Li et al. 2023 section 3.3)
   */
  attnBias?: true | 'qv';
  /** adds a cross-attention sub-layer between self-attention and MLP, keys/values of width `kvWidth` */
  crossAttention?: { kvWidth: number };
  /**
   * 'self' (default) or 'cross': the block's own attention attends to a context instead of to `x`
   * (open_clip `ResidualAttentionBlock(is_cross_attention=True)`, CoCa's multimodal decoder, Yu et al. 2022
   * section 3.2): queries `ln_1(x)`, keys and values `ln_1_kv(context)` with a separate LayerNorm
   * `ln_1_kv` [kvWidth]; `apply` then needs `context` and uses `contextMask`.
   */
  attention?: 'self' | 'cross';
  /** key/value (context) width of an `attention: 'cross'` block (default width) */
  kvWidth?: number;
  /** init stds (open_clip text tower: attn in w^-0.5, attn out and c_proj (w^-0.5)(2L)^-0.5, c_fc (2w)^-0.5) */
  init?: { attnInStd?: number; attnOutStd?: number; fcStd?: number; projStd?: number };
}

/**
 * Pre-LN transformer block (open_clip `ResidualAttentionBlock`; Xiong et al. 2020):
 * `x += attn(ln_1(x))`, optionally `x += cross_attn(ln_cross(x), context)`, then `x += mlp(ln_2(x))`.
 * With `attention: 'cross'` the first step is `x += attn(ln_1(x), ln_1_kv(context))`.
 * Parameter names: `ln_1`, `attn`, [`ln_1_kv`], [`ln_cross`, `cross_attn`], `ln_2`, `mlp.c_fc`, `mlp.c_proj`.
 */
export class TransformerBlock extends Module {
  readonly ln1: LayerNorm;
  readonly attn: MultiHeadAttention;
  readonly lnKv?: LayerNorm;
  readonly lnCross?: LayerNorm;
  readonly crossAttn?: MultiHeadAttention;
  readonly ln2: LayerNorm;
  readonly mlp: MLP;

  constructor(opts: TransformerBlockOptions) {
    super();
    const { width, numHeads } = opts;
    const eps = opts.lnEps ?? 1e-5;
    const init = opts.init ?? {};
    const attnOpts = { width, numHeads, layout: opts.qkvLayout, bias: opts.attnBias, inStd: init.attnInStd, outStd: init.attnOutStd };
    this.ln1 = this.module('ln_1', new LayerNorm(width, eps));
    const kvWidth = opts.attention === 'cross' ? opts.kvWidth ?? width : undefined;
    this.attn = this.module('attn', new MultiHeadAttention({ ...attnOpts, kvWidth }));
    if (kvWidth !== undefined) this.lnKv = this.module('ln_1_kv', new LayerNorm(kvWidth, eps));
    if (opts.crossAttention) {
      this.lnCross = this.module('ln_cross', new LayerNorm(width, eps));
      this.crossAttn = this.module('cross_attn', new MultiHeadAttention({ ...attnOpts, kvWidth: opts.crossAttention.kvWidth }));
    }
    this.ln2 = this.module('ln_2', new LayerNorm(width, eps));
    this.mlp = this.module('mlp', new MLP(width, opts.mlpWidth ?? 4 * width, opts.activation ?? 'gelu', { fcStd: init.fcStd, projStd: init.projStd }));
  }

  /**
   * @param x float32 [B, N, width]
   * @param opts.mask additive self-attention mask broadcastable to [B, heads, N, N]
   * @param opts.context float32 [B, M, kvWidth] cross-attention keys/values (required iff built with crossAttention
   *   or attention 'cross')
   * @param opts.contextMask additive cross-attention mask broadcastable to [B, heads, N, M]
   * @returns float32 [B, N, width]
   * @throws Error when `context` is missing for a cross-attention block
   */
  apply(x: Tensor, opts: { mask?: Tensor; context?: Tensor; contextMask?: Tensor } = {}): Tensor {
    return tf.tidy(() => {
      let h: Tensor;
      if (this.lnKv) {
        if (!opts.context) throw new Error("TransformerBlock with attention 'cross' needs a context tensor");
        h = x.add(this.attn.apply(this.ln1.apply(x), { context: this.lnKv.apply(opts.context), mask: opts.contextMask }));
      } else {
        h = x.add(this.attn.apply(this.ln1.apply(x), { mask: opts.mask }));
      }
      if (this.crossAttn) {
        if (!opts.context) throw new Error('TransformerBlock with cross-attention needs a context tensor');
        h = h.add(this.crossAttn.apply(this.lnCross!.apply(h), { context: opts.context, mask: opts.contextMask }));
      }
      return h.add(this.mlp.apply(this.ln2.apply(h)));
    });
  }
}

/** A stack of {@link TransformerBlock}s named `resblocks.0`, `resblocks.1`, ... (open_clip `Transformer`). */
export class Transformer extends Module {
  readonly blocks: TransformerBlock[] = [];
  /** @param layers number of blocks */
  constructor(readonly layers: number, opts: TransformerBlockOptions) {
    super();
    const list = new BlockList();
    this.module('resblocks', list);
    for (let i = 0; i < layers; i++) this.blocks.push(list.add(String(i), new TransformerBlock(opts)));
  }

  /** Runs every block in order; same arguments and shapes as {@link TransformerBlock.apply}. */
  apply(x: Tensor, opts: { mask?: Tensor; context?: Tensor; contextMask?: Tensor } = {}): Tensor {
    return tf.tidy(() => this.blocks.reduce((h, b) => b.apply(h, opts), x));
  }
}

/** A container whose children are named by index (torch.nn.ModuleList). */
export class BlockList extends Module {
  /** Registers `child` under `name` and returns it. */
  add<M extends Module>(name: string, child: M): M {
    return this.module(name, child);
  }
}
