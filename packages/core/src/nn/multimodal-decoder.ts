import { tf, Tensor, Tensor2D, Variable } from '../tf';
import { ActivationName } from '../ops/activations';
import { causalMask } from '../ops/attention';
import { project } from '../ops/matmul';
import { LayerNorm } from './layer-norm';
import { Module } from './module';
import { normalInit } from './init';
import { BlockList, TransformerBlock } from './transformer';

/** Constructor options of {@link MultimodalDecoder} (open_clip `MultimodalTransformer` arguments). */
export interface MultimodalDecoderOptions {
  width: number;
  /** number of (self-attention block, cross-attention block) pairs */
  layers: number;
  numHeads: number;
  /** longest text the decoder accepts (its causal mask is sliced to the input length) */
  contextLength: number;
  /** width of the image tokens attended to (default width) */
  contextWidth?: number;
  /** MLP inner width (default 4 x width) */
  mlpWidth?: number;
  /** default 'gelu' (exact erf, as open_clip's CoCa) */
  activation?: ActivationName;
  /** LayerNorm epsilon (default 1e-5) */
  lnEps?: number;
  /** output projection `text_projection` [width, outputDim] (the vocabulary size for a captioner); none when undefined */
  outputDim?: number;
}

/**
 * The multimodal text decoder of CoCa (Yu et al. 2022, section 3.2, Fig. 2: the top half of the decoder, which
 * "cross-attends to the image encoder outputs"), in open_clip's `MultimodalTransformer` layout. Layer i is a
 * pre-LN causal self-attention block `resblocks.i` followed by a pre-LN cross-attention block `cross_attn.i`
 * (queries `ln_1(x)`, keys/values `ln_1_kv(image tokens)`, no mask, then its own MLP); after the last layer
 * `ln_final` and `text_projection` [width, outputDim] give the next-token logits. It has no token or position
 * embedding of its own: it continues the unimodal text decoder's token states.
 */
export class MultimodalDecoder extends Module {
  readonly selfBlocks: TransformerBlock[] = [];
  readonly crossBlocks: TransformerBlock[] = [];
  readonly lnFinal: LayerNorm;
  readonly textProjection?: Variable;

  constructor(readonly opts: MultimodalDecoderOptions) {
    super();
    const { width, layers, numHeads } = opts;
    const projStd = width ** -0.5 * (2 * layers) ** -0.5;
    const common = {
      width, numHeads, mlpWidth: opts.mlpWidth, activation: opts.activation ?? 'gelu', lnEps: opts.lnEps,
      init: { attnInStd: width ** -0.5, attnOutStd: projStd, fcStd: (2 * width) ** -0.5, projStd },
    };
    const selfList = this.module('resblocks', new BlockList());
    const crossList = this.module('cross_attn', new BlockList());
    for (let i = 0; i < layers; i++) {
      this.selfBlocks.push(selfList.add(String(i), new TransformerBlock(common)));
      this.crossBlocks.push(crossList.add(String(i), new TransformerBlock({ ...common, attention: 'cross', kvWidth: opts.contextWidth ?? width })));
    }
    this.lnFinal = this.module('ln_final', new LayerNorm(width, opts.lnEps ?? 1e-5));
    if (opts.outputDim !== undefined) this.textProjection = this.param('text_projection', normalInit([width, opts.outputDim], width ** -0.5));
  }

  /**
   * @param text float32 [B, L, width] token states of the unimodal text decoder, L <= contextLength
   * @param image float32 [B, M, contextWidth] image tokens (CoCa: the captioning pooler's outputs)
   * @returns float32 [B, L, outputDim] logits (or [B, L, width] states after ln_final without a projection)
   * @throws Error when L exceeds contextLength or the batch sizes differ
   */
  apply(text: Tensor, image: Tensor): Tensor {
    const [b, l] = text.shape;
    if (text.rank !== 3 || l > this.opts.contextLength) {
      throw new Error(`MultimodalDecoder expects text [B, L <= ${this.opts.contextLength}, ${this.opts.width}], got [${text.shape}]`);
    }
    if (image.shape[0] !== b) throw new Error(`MultimodalDecoder: ${b} text rows but ${image.shape[0]} image rows`);
    return tf.tidy(() => {
      const mask = causalMask(l);
      let x = text;
      for (let i = 0; i < this.selfBlocks.length; i++) {
        x = this.selfBlocks[i].apply(x, { mask });
        x = this.crossBlocks[i].apply(x, { context: image });
      }
      x = this.lnFinal.apply(x);
      return this.textProjection ? project(x, this.textProjection as Tensor2D) : x;
    });
  }
}
