import { Tensor } from '../tf';
import { ACTIVATIONS, ActivationName } from '../ops/activations';
import { Linear } from './linear';
import { LayerNorm } from './layer-norm';
import { Module } from './module';

/**
 * Transformer feed-forward network `c_proj(act(c_fc(x)))` (open_clip names `c_fc` [hidden, width] and
 * `c_proj` [width, hidden]).
 */
export class MLP extends Module {
  readonly fc: Linear;
  readonly proj: Linear;
  readonly innerNorm?: LayerNorm;
  /**
   * @param width input and output width
   * @param hidden inner width (4 x width in CLIP and ViT)
   * @param activation 'gelu' (exact erf), 'quick_gelu' (x sigmoid(1.702x), OpenAI CLIP) or 'relu'
   * @param opts.innerNormEps sub-LayerNorm over the hidden units after the activation (torchscale `ffn_layernorm`,
   *   Wang et al. 2022 "Foundation Transformers" section 2), registered as `ffn_layernorm`; none when undefined
   * @param opts.names names of the two Linears (default `c_fc`, `c_proj`; BERT: `intermediate.dense`, `output.dense`)
   * @throws Error for an unknown activation name
   */
  constructor(
    width: number, hidden: number, readonly activation: ActivationName = 'gelu',
    opts: { fcStd?: number; projStd?: number; innerNormEps?: number; names?: { fc?: string; proj?: string } } = {},
  ) {
    super();
    if (!(activation in ACTIVATIONS)) throw new Error(`unknown activation '${activation}'; valid: ${Object.keys(ACTIVATIONS).join(', ')}`);
    this.fc = this.module(opts.names?.fc ?? 'c_fc', new Linear(width, hidden, { std: opts.fcStd }));
    if (opts.innerNormEps !== undefined) this.innerNorm = this.module('ffn_layernorm', new LayerNorm(hidden, opts.innerNormEps));
    this.proj = this.module(opts.names?.proj ?? 'c_proj', new Linear(hidden, width, { std: opts.projStd }));
  }

  /** @param x float32 [..., width] @returns float32 [..., width] */
  apply(x: Tensor): Tensor {
    const h = ACTIVATIONS[this.activation](this.fc.apply(x));
    return this.proj.apply(this.innerNorm ? this.innerNorm.apply(h) : h);
  }
}
