import {
  ActivationName, Embedding, LayerNorm, Module, Tensor, Tensor2D, Transformer, Variable, causalMask, keyPaddingMask, project, tf, normalInit,
} from '@mmzoo/core';

/** Which attention mask the appended CLS token gets (see {@link CocaTextEncoder}). */
export type ClsMask = 'paper' | 'open_clip';

/** Constructor options of {@link CocaTextEncoder}. */
export interface CocaTextEncoderOptions {
  vocabSize: number;
  /** caption tokens per row; the positional embedding has contextLength + 1 rows (the CLS takes the last) */
  contextLength: number;
  width: number;
  layers: number;
  numHeads: number;
  mlpWidth?: number;
  activation?: ActivationName;
  lnEps?: number;
  /** width of the text embedding `text_projection` [width, outputDim] */
  outputDim: number;
  padId: number;
  /** default 'paper' */
  clsMask?: ClsMask;
}

/** Outputs of {@link CocaTextEncoder.apply}. */
export interface CocaTextOutput {
  /** float32 [B, outputDim]: the CLS state after ln_final and text_projection (the text embedding, not normalised) */
  pooled: Tensor;
  /** float32 [B, L, width]: the caption token states after the blocks, without ln_final (the decoder's input) */
  tokens: Tensor;
}

/**
 * CoCa's unimodal text decoder (Yu et al. 2022, section 3.2 and Fig. 2, bottom half of the decoder) in open_clip's
 * layout (`TextTransformer(embed_cls=True)`): `token_embedding`, a learned `cls_emb` appended after the last input
 * position (after any padding), `positional_embedding` [L + 1, width], a causal `transformer`, then `ln_final` and
 * `text_projection` on the CLS state only. The caption token states (no ln_final) go on to the multimodal decoder.
 * Built from core's Embedding, Transformer and LayerNorm; only the CLS mask is CoCa's own.
 */
export class CocaTextEncoder extends Module {
  readonly tokenEmbedding: Embedding;
  readonly clsEmb: Variable;
  readonly positionalEmbedding: Variable;
  readonly transformer: Transformer;
  readonly lnFinal: LayerNorm;
  readonly textProjection: Variable;

  constructor(readonly opts: CocaTextEncoderOptions) {
    super();
    const { width, layers } = opts;
    const projStd = width ** -0.5 * (2 * layers) ** -0.5;
    this.tokenEmbedding = this.module('token_embedding', new Embedding(opts.vocabSize, width, { std: 0.02 }));
    this.clsEmb = this.param('cls_emb', normalInit([width], 0.01));
    this.positionalEmbedding = this.param('positional_embedding', normalInit([opts.contextLength + 1, width], 0.01));
    this.transformer = this.module('transformer', new Transformer(layers, {
      width, numHeads: opts.numHeads, mlpWidth: opts.mlpWidth, activation: opts.activation ?? 'gelu', lnEps: opts.lnEps,
      init: { attnInStd: width ** -0.5, attnOutStd: projStd, fcStd: (2 * width) ** -0.5, projStd },
    }));
    this.lnFinal = this.module('ln_final', new LayerNorm(width, opts.lnEps ?? 1e-5));
    this.textProjection = this.param('text_projection', normalInit([width, opts.outputDim], width ** -0.5));
  }

  /**
   * The additive self-attention mask over the L tokens and the CLS (index L): causal (-Infinity above the
   * diagonal) plus a key mask, the same for every query row and head.
   * - 'paper': key k < L is visible iff token k is not padding; the CLS key is always visible, so the CLS sees
   *   every non-pad token and itself (section 3.2).
   * - 'open_clip': key 0 is always visible and key k >= 1 iff token k-1 is not padding (open_clip's legacy
   *   `correct_cls_mask=False`, shifted by one): the CLS sees the first pad but not itself, and sees itself only
   *   when the row has no padding.
   * Rows of real tokens see the same keys under both (they only see earlier, non-pad tokens).
   * @param ids int32 [B, L]
   * @returns float32 [B, 1, L + 1, L + 1]: 0 visible, -Infinity hidden
   */
  attentionMask(ids: Tensor, clsMask: ClsMask = this.opts.clsMask ?? 'paper'): Tensor {
    return tf.tidy(() => {
      const [b, l] = ids.shape;
      const valid = ids.notEqual(tf.scalar(this.opts.padId, 'int32')).toFloat();
      const always = tf.ones([b, 1]);
      const keys = clsMask === 'paper' ? tf.concat([valid, always], 1) : tf.concat([always, valid], 1);
      return keyPaddingMask(keys).add(causalMask(l + 1).reshape([1, 1, l + 1, l + 1]));
    });
  }

  /**
   * The states after the blocks, caption tokens then the CLS, before any ln_final.
   * @param ids int32 [B, L], L <= contextLength
   * @returns float32 [B, L + 1, width]
   * @throws Error when ids are not [B, L <= contextLength]
   */
  hidden(ids: Tensor): Tensor {
    const [b, l] = ids.shape;
    if (ids.rank !== 2 || l > this.opts.contextLength) {
      throw new Error(`CoCa text encoder expects ids [B, L <= ${this.opts.contextLength}], got [${ids.shape}]`);
    }
    const w = this.opts.width;
    return tf.tidy(() => {
      const tokens = this.tokenEmbedding.apply(ids.toInt());
      const cls = tf.zeros([b, 1, w]).add(this.clsEmb);
      const x = tf.concat([tokens, cls], 1).add(this.positionalEmbedding.slice([0, 0], [l + 1, w]));
      return this.transformer.apply(x, { mask: this.attentionMask(ids) });
    });
  }

  /**
   * @param ids int32 [B, L], L <= contextLength (generation passes growing prefixes; the CLS then sits at index L)
   * @returns the text embedding `pooled` [B, outputDim] and the token states `tokens` [B, L, width]
   * @throws Error when ids are not [B, L <= contextLength]
   */
  apply(ids: Tensor): CocaTextOutput {
    const [b, l] = ids.shape;
    const w = this.opts.width;
    return tf.tidy(() => {
      const x = this.hidden(ids);
      const clsState = x.slice([0, l, 0], [b, 1, w]).reshape([b, w]);
      const pooled = project(this.lnFinal.apply(clsState), this.textProjection as Tensor2D);
      return { pooled, tokens: x.slice([0, 0, 0], [b, l, w]) };
    });
  }
}
