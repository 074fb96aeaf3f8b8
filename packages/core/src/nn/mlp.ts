import { Tensor } from '../tf';
import { ACTIVATIONS, ActivationName } from '../ops/activations';
import { Linear } from './linear';
import { Module } from './module';

/**
 * Transformer feed-forward network `c_proj(act(c_fc(x)))` (open_clip names `c_fc` [hidden, width] and
 * `c_proj` [width, hidden]).
 */
export class MLP extends Module {
  readonly fc: Linear;
  readonly proj: Linear;
  /**
   * @param width input and output width
   * @param hidden inner width (4 x width in CLIP and ViT)
   * @param activation 'gelu' (exact erf), 'quick_gelu' (x sigmoid(1.702x), OpenAI CLIP) or 'relu'
   * @throws Error for an unknown activation name
   */
  constructor(width: number, hidden: number, readonly activation: ActivationName = 'gelu', opts: { fcStd?: number; projStd?: number } = {}) {
    super();
    if (!(activation in ACTIVATIONS)) throw new Error(`unknown activation '${activation}'; valid: ${Object.keys(ACTIVATIONS).join(', ')}`);
    this.fc = this.module('c_fc', new Linear(width, hidden, { std: opts.fcStd }));
    this.proj = this.module('c_proj', new Linear(hidden, width, { std: opts.projStd }));
  }

  /** @param x float32 [..., width] @returns float32 [..., width] */
  apply(x: Tensor): Tensor {
    return this.proj.apply(ACTIVATIONS[this.activation](this.fc.apply(x)));
  }
}
