import { AttentionalPooler, LayerNorm, Module, Tensor, Tensor2D, Variable, VisionTransformer, project, tf, normalInit } from '@mmzoo/core';

/** Which attentional-pooler design a {@link CocaVision} uses (see CocaVisionSchema `poolers`). */
export type PoolerDesign = 'paper' | 'open_clip';

/** Outputs of {@link CocaVision.apply}. */
export interface CocaVisionOutput {
  /** float32 [B, embedDim]: the image embedding for the contrastive loss (after ln_post and `proj`), not normalised */
  pooled: Tensor;
  /** float32 [B, Nq, embedDim]: the pooled image tokens the multimodal decoder attends to (after ln_post) */
  tokens: Tensor;
}

/**
 * CoCa's image side (Yu et al. 2022, section 3.2 "Attentional Poolers"): a ViT encoder (open_clip layout, no
 * ln_post before pooling) whose output tokens are pooled by learned-query attention, then `ln_post` [embedDim].
 * - `paper`: `attn_pool_contrastive` (1 query) gives the contrastive embedding, `attn_pool` (numQueries queries)
 *   the decoder's image tokens; both pool the encoder tokens in parallel and share `ln_post`.
 * - `open_clip`: one `attn_pool` with numQueries queries; output row 0 is the contrastive embedding, rows
 *   1..numQueries-1 the decoder's image tokens (open_clip `CoCa`, `attentional_pool=True`).
 * The contrastive row goes through `proj` [embedDim, embedDim] (stored [in, out], applied as x @ P). Parameter
 * names: the ViT's (`conv1`, `class_embedding`, `positional_embedding`, `ln_pre`, `transformer`), `attn_pool`,
 * [`attn_pool_contrastive`], `ln_post`, `proj`.
 */
export class CocaVision extends Module {
  readonly attnPool: AttentionalPooler;
  readonly attnPoolContrastive?: AttentionalPooler;
  readonly lnPost: LayerNorm;
  readonly proj: Variable;

  /**
   * @param vit a built VisionTransformer without ln_post and output projection (lnPost: false, outputDim undefined)
   * @throws Error when the ViT has ln_post or a projection, or the open_clip design has fewer than 2 queries
   */
  constructor(
    readonly vit: VisionTransformer,
    readonly opts: { embedDim: number; numQueries: number; poolerHeads: number; poolers?: PoolerDesign; lnEps?: number },
  ) {
    super();
    if (vit.lnPost || vit.proj) throw new Error('CocaVision needs a VisionTransformer built with lnPost: false and no outputDim');
    const design = opts.poolers ?? 'paper';
    if (design === 'open_clip' && opts.numQueries < 2) throw new Error(`the open_clip pooler needs numQueries >= 2 (row 0 is the contrastive one), got ${opts.numQueries}`);
    const d = opts.embedDim;
    const common = { width: d, contextWidth: vit.opts.width, numHeads: opts.poolerHeads, lnEps: opts.lnEps };
    this.module('', vit);
    this.attnPool = this.module('attn_pool', new AttentionalPooler({ ...common, numQueries: opts.numQueries }));
    if (design === 'paper') this.attnPoolContrastive = this.module('attn_pool_contrastive', new AttentionalPooler({ ...common, numQueries: 1 }));
    this.lnPost = this.module('ln_post', new LayerNorm(d, opts.lnEps ?? 1e-5));
    this.proj = this.param('proj', normalInit([d, d], vit.opts.width ** -0.5));
  }

  /**
   * @param images float32 [B, C, H, W]
   * @returns pooled [B, embedDim] and tokens [B, numQueries (paper) or numQueries - 1 (open_clip), embedDim]
   */
  apply(images: Tensor): CocaVisionOutput {
    return tf.tidy(() => {
      const x = this.vit.apply(images).tokens;
      const pooledTokens = this.lnPost.apply(this.attnPool.apply(x));
      const [b, n, d] = pooledTokens.shape as [number, number, number];
      let cls: Tensor;
      let tokens: Tensor;
      if (this.attnPoolContrastive) {
        cls = this.lnPost.apply(this.attnPoolContrastive.apply(x)).reshape([b, d]);
        tokens = pooledTokens;
      } else {
        cls = pooledTokens.slice([0, 0, 0], [b, 1, d]).reshape([b, d]);
        tokens = pooledTokens.slice([0, 1, 0], [b, n - 1, d]);
      }
      return { pooled: project(cls, this.proj as Tensor2D), tokens };
    });
  }
}
