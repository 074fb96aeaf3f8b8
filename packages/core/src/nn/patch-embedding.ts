import { tf, Tensor, Tensor2D, Variable } from '../tf';
import { linear } from '../ops/matmul';
import { Module } from './module';
import { normalInit, zerosInit } from './init';

/**
 * Non-overlapping patch projection (ViT, Dosovitskiy et al. 2021, section 3.1), equal to a stride-P
 * convolution with weight [width, C, P, P] (the reference `conv1` / `conv_proj` layout) but computed as a
 * reshape into patches followed by one Linear product, so that its weight gradient trains on wasm (which lacks
 * Conv2DBackpropFilter). Patches are ordered row-major from the top-left.
 */
export class PatchEmbedding extends Module {
  readonly weight: Variable;
  readonly bias?: Variable;
  /**
   * @param channels input channels C
   * @param width output width
   * @param patchSize P (square patches)
   * @param opts.bias whether the projection has a bias (open_clip: false; torchvision, BEiT: true)
   */
  constructor(readonly channels: number, readonly width: number, readonly patchSize: number, opts: { bias?: boolean; std?: number } = {}) {
    super();
    this.weight = this.param('weight', normalInit([width, channels, patchSize, patchSize], opts.std ?? 0.02));
    if (opts.bias) this.bias = this.param('bias', zerosInit([width]));
  }

  /**
   * @param images float32 [B, C, H, W]
   * @returns float32 [B, (H/P) * (W/P), width]
   * @throws Error when C differs from `channels` or H, W are not multiples of P
   */
  apply(images: Tensor): Tensor {
    const [b, c, h, w] = images.shape;
    const p = this.patchSize;
    if (images.rank !== 4 || c !== this.channels || h % p !== 0 || w % p !== 0) {
      throw new Error(`PatchEmbedding expects images [B, ${this.channels}, H, W] with H, W multiples of ${p}; got [${images.shape}]`);
    }
    return tf.tidy(() => {
      const gh = h / p;
      const gw = w / p;
      const patches = images.reshape([b, c, gh, p, gw, p]).transpose([0, 2, 4, 1, 3, 5]).reshape([b * gh * gw, c * p * p]);
      const w2 = this.weight.reshape([this.width, c * p * p]) as Tensor2D;
      return linear(patches, w2, this.bias).reshape([b, gh * gw, this.width]);
    });
  }
}
