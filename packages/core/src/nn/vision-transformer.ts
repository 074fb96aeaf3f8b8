import { tf, Tensor, Tensor2D, Variable } from '../tf';
import type { VitConfig } from '../config/vit';
import { project } from '../ops/matmul';
import { LayerNorm } from './layer-norm';
import { Module } from './module';
import { normalInit, tensorInit } from './init';
import { PatchEmbedding } from './patch-embedding';
import { bicubicResize } from './position';
import { Transformer, TransformerStackOptions } from './transformer';

/** Constructor options of {@link VisionTransformer} (open_clip `VisionTransformer` arguments; LayerNorm eps default 1e-5). */
export interface VisionTransformerOptions extends TransformerStackOptions {
  /** image size in pixels, square or [height, width] */
  imageSize: number | [number, number];
  patchSize: number;
  /** input channels (3 for RGB, 1 for grey) */
  channels?: number;
  /** output projection `proj` [width, outputDim] applied to the pooled token; none when undefined */
  outputDim?: number;
  /** LayerNorm after the embeddings (`ln_pre`, default true) and after the blocks (`ln_post`, default true) */
  lnPre?: boolean;
  lnPost?: boolean;
  /** bias on the patch projection (open_clip: false) */
  patchBias?: boolean;
  /** 'cls' takes token 0 (default), 'mean' averages the patch tokens */
  pool?: 'cls' | 'mean';
  /** attention projection biases: true (default) or 'qv' (EVA: `q_bias`, `v_bias`; see TransformerBlockOptions) */
  attnBias?: true | 'qv';
  /**
   * the block whose output is the encoder's output: -1 (default) the last of `layers`, -2 the second-to-last (BLIP-2,
   * Li et al. 2023 section 3.3: "we remove the last layer of the ViT and use the second last layer's output"), a
   * non-negative k block k (0-based). Only the blocks up to it are built (LAVIS builds EVA ViT-g with 39 of its 40
   * blocks), so `layers` stays the depth of the checkpoint's encoder.
   */
  featureLayer?: number;
}

/**
 * The number of blocks a ViT of `layers` blocks runs to give the output of block `featureLayer` (see
 * {@link VisionTransformerOptions.featureLayer}).
 * @throws RangeError when featureLayer names no block of the `layers`
 */
export function blocksUpTo(layers: number, featureLayer = -1): number {
  const built = featureLayer < 0 ? layers + 1 + featureLayer : featureLayer + 1;
  if (!(Number.isInteger(featureLayer) && built >= 1 && built <= layers)) {
    throw new RangeError(`featureLayer ${featureLayer} names no block of a ${layers}-block ViT (valid: ${-layers}..${layers - 1})`);
  }
  return built;
}

/** Outputs of {@link VisionTransformer.apply}. */
export interface VisionOutput {
  /** float32 [B, outputDim or width]: pooled token after ln_post and `proj` */
  pooled: Tensor;
  /** float32 [B, 1 + N, width]: all tokens after ln_post (class token first) */
  tokens: Tensor;
}

/**
 * Vision Transformer (Dosovitskiy et al. 2021) in open_clip's layout: `conv1` patch projection, `class_embedding`
 * prepended at position 0, `positional_embedding` [1 + N, width] added, optional `ln_pre`, `transformer` (its blocks
 * up to `featureLayer`), optional `ln_post` on all tokens, pool, optional `proj`. No attention mask.
 */
export class VisionTransformer extends Module {
  readonly conv1: PatchEmbedding;
  readonly classEmbedding: Variable;
  positionalEmbedding: Variable;
  readonly lnPre?: LayerNorm;
  readonly transformer: Transformer;
  readonly lnPost?: LayerNorm;
  readonly proj?: Variable;
  /** patch grid [rows, cols] the positional embedding is laid out for */
  grid: [number, number];

  /** @throws Error when the image size is not a multiple of the patch size */
  constructor(readonly opts: VisionTransformerOptions) {
    super();
    const [h, w] = typeof opts.imageSize === 'number' ? [opts.imageSize, opts.imageSize] : opts.imageSize;
    const p = opts.patchSize;
    if (h % p !== 0 || w % p !== 0) throw new Error(`image size ${h}x${w} is not a multiple of patchSize ${p}`);
    this.grid = [h / p, w / p];
    const width = opts.width;
    const scale = width ** -0.5;
    this.conv1 = this.module('conv1', new PatchEmbedding(opts.channels ?? 3, width, p, { bias: opts.patchBias ?? false }));
    this.classEmbedding = this.param('class_embedding', normalInit([width], scale));
    this.positionalEmbedding = this.param('positional_embedding', normalInit([1 + this.grid[0] * this.grid[1], width], scale));
    const eps = opts.lnEps ?? 1e-5;
    if (opts.lnPre ?? true) this.lnPre = this.module('ln_pre', new LayerNorm(width, eps));
    this.transformer = this.module('transformer', new Transformer(blocksUpTo(opts.layers, opts.featureLayer), {
      width, numHeads: opts.numHeads, mlpWidth: opts.mlpWidth, activation: opts.activation, lnEps: eps, attnBias: opts.attnBias,
    }));
    if (opts.lnPost ?? true) this.lnPost = this.module('ln_post', new LayerNorm(width, eps));
    if (opts.outputDim !== undefined) this.proj = this.param('proj', normalInit([width, opts.outputDim], scale));
  }

  /**
   * Resizes the positional embedding bicubically to the patch grid of a new image size (open_clip
   * `resize_pos_embed`); the class-token row is kept as is. Non-square grids are supported.
   * @throws Error when the new size is not a multiple of the patch size
   */
  setImageSize(height: number, width: number): void {
    const p = this.opts.patchSize;
    if (height % p !== 0 || width % p !== 0) throw new Error(`image size ${height}x${width} is not a multiple of patchSize ${p}`);
    const newGrid: [number, number] = [height / p, width / p];
    const d = this.opts.width;
    const oldGrid = this.grid;
    const shape = [1 + newGrid[0] * newGrid[1], d];
    this.positionalEmbedding = this.replaceParam('positional_embedding', tensorInit(shape, () => {
      const old = this.positionalEmbedding.dataSync() as Float32Array;
      const resized = bicubicResize(old.subarray(d), oldGrid, newGrid, d);
      const data = new Float32Array(d + resized.length);
      data.set(old.subarray(0, d));
      data.set(resized, d);
      return tf.tensor2d(data, [shape[0], d]);
    }));
    this.grid = newGrid;
  }

  /**
   * The token sequence entering the first block: patches, class token at position 0, positional embedding,
   * then ln_pre when present.
   * @param images float32 [B, C, H, W] @returns float32 [B, 1 + N, width]
   */
  embed(images: Tensor): Tensor {
    return tf.tidy(() => {
      const patches = this.conv1.apply(images);
      const cls = tf.zeros([patches.shape[0], 1, this.opts.width]).add(this.classEmbedding);
      const x = tf.concat([cls, patches], 1).add(this.positionalEmbedding);
      return this.lnPre ? this.lnPre.apply(x) : x;
    });
  }

  /**
   * @param images float32 [B, C, H, W] with H/patchSize, W/patchSize equal to the current grid
   * @returns pooled [B, outputDim or width] and tokens [B, 1 + N, width]
   * @throws Error when the image does not match the positional grid (call setImageSize first)
   */
  apply(images: Tensor): VisionOutput {
    const [, , h, w] = images.shape;
    const p = this.opts.patchSize;
    if (h / p !== this.grid[0] || w / p !== this.grid[1]) {
      throw new Error(`VisionTransformer built for a ${this.grid[0] * p}x${this.grid[1] * p} image got ${h}x${w}; call setImageSize(${h}, ${w})`);
    }
    return tf.tidy(() => {
      let x = this.embed(images);
      const b = x.shape[0];
      x = this.transformer.apply(x);
      if (this.lnPost) x = this.lnPost.apply(x);
      const [, n, d] = x.shape as [number, number, number];
      let pooled = (this.opts.pool ?? 'cls') === 'cls' ? x.slice([0, 0, 0], [b, 1, d]).reshape([b, d]) : x.slice([0, 1, 0], [b, n - 1, d]).mean(1);
      if (this.proj) pooled = project(pooled, this.proj as Tensor2D);
      return { pooled, tokens: x };
    });
  }
}

/**
 * A timm/torchvision-style ViT (Dosovitskiy et al. 2021, section 3.1; ALBEF's and BLIP's ViT-B/16) from its
 * `model.vision` section: patch projection with bias, no `ln_pre`, `ln_post` on all tokens, exact GELU, no output
 * projection, the section's LayerNorm epsilon. Parameter names are core's (timm and torchvision names map onto them
 * through io/vit-names).
 * @param cfg a validated {@link VitConfig}
 * @throws Error when the image size is not a multiple of the patch size
 */
export function timmVisionTransformer(cfg: VitConfig): VisionTransformer {
  return new VisionTransformer({
    imageSize: cfg.imageSize, patchSize: cfg.patchSize, channels: cfg.channels, width: cfg.width, layers: cfg.layers, numHeads: cfg.numHeads,
    mlpWidth: Math.round(cfg.width * cfg.mlpRatio), activation: 'gelu', lnEps: cfg.lnEps, lnPre: false, lnPost: true, patchBias: true,
  });
}
