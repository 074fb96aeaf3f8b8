import { tf, Tensor, Tensor2D, Variable } from '../tf';
import { causalMask, keyPaddingMask } from '../ops/attention';
import { project } from '../ops/matmul';
import { Embedding } from './embedding';
import { LayerNorm } from './layer-norm';
import { Module } from './module';
import { normalInit } from './init';
import { Transformer, TransformerStackOptions } from './transformer';

/**
 * How a text encoder pools its token states into one vector:
 * - `argmax`: the position of the largest token id (open_clip's `text_global_pool(pool_type='argmax')`, which
 *   is right only because OpenAI's BPE gives end-of-text the largest id; other tokenizers need `eot`);
 * - `eot`: the first position holding `eotId` (transformers' `CLIPTextTransformer` with `eos_token_id` set);
 * - `cls`: position 0;
 * - `mean`: mean over positions whose id is not `padId`.
 */
export type TextPool = 'argmax' | 'eot' | 'cls' | 'mean';

/**
 * The pool used when none is named: 'eot' whenever the end-of-text id is known, else 'argmax'. open_clip pools
 * with 'argmax' (`text_global_pool`, `pool_type='argmax'`) because OpenAI's BPE gives <end_of_text> the largest
 * id; a tokenizer whose end id is not the largest (mmzoo's word tokenizer) needs 'eot', so 'argmax' is kept only
 * when named or when no end id is given.
 * @param eotId the tokenizer's end-of-text id, when known
 */
export function defaultTextPool(eotId: number | undefined): TextPool {
  return eotId === undefined ? 'argmax' : 'eot';
}

/**
 * Which keys the appended CLS token of a {@link TextTransformer} built with `embedCls` may attend to (CoCa's
 * `model.text.clsMask`):
 * - `paper`: every non-pad token and itself (Yu et al. 2022, section 3.2);
 * - `open_clip`: open_clip's legacy mask (`correct_cls_mask=False`), shifted by one position: key 0 always and key
 *   k >= 1 when token k-1 is not padding, on every row; the CLS sees the first pad and not itself.
 */
export type ClsMask = 'paper' | 'open_clip';

/** Constructor options of {@link TextTransformer} (open_clip text tower arguments). */
export interface TextTransformerOptions extends TransformerStackOptions {
  vocabSize: number;
  /** token positions per row (the appended CLS takes one more) */
  contextLength: number;
  /** causal (autoregressive) mask, default true (CLIP); false for a bidirectional encoder */
  causal?: boolean;
  /** default: 'eot' when `eotId` is given, else 'argmax' (see {@link defaultTextPool}); not with `embedCls` */
  pool?: TextPool;
  /** end-of-text id: required for pool 'eot'; with 'argmax' each row is checked to contain it */
  eotId?: number;
  /** padding id: required for pool 'mean' and for `embedCls` */
  padId?: number;
  /** output projection `text_projection` [width, outputDim]; none when undefined */
  outputDim?: number;
  /**
   * Append a learned `cls_emb` after the last input position (open_clip `TextTransformer(embed_cls=True)`; CoCa's
   * unimodal text decoder, Yu et al. 2022, section 3.2): the positional embedding gets one more row, pad keys are
   * masked as `clsMask` says, and the pooled output is the CLS state (after ln_final and `text_projection`).
   */
  embedCls?: boolean;
  /** the appended CLS's attention mask (default 'paper'); see {@link ClsMask} */
  clsMask?: ClsMask;
}

/** Outputs of {@link TextTransformer.apply}. */
export interface TextOutput {
  /** float32 [B, outputDim or width]: pooled state after ln_final and `text_projection` */
  pooled: Tensor;
  /**
   * float32 [B, L, width]: all states after ln_final; with `embedCls`, the caption token states without ln_final
   * (what CoCa's multimodal decoder reads)
   */
  tokens: Tensor;
}

/**
 * Text transformer in open_clip's layout: `token_embedding` + `positional_embedding` [L, width], `transformer`
 * with an additive causal mask (-inf strictly above the diagonal) or none, `ln_final` on all positions, pooling
 * (see {@link TextPool}), optional `text_projection`. With `embedCls` (CoCa), a learned `cls_emb` is appended after
 * the last input position (after any padding), `positional_embedding` is [L + 1, width], pad keys are masked, and
 * `ln_final` and `text_projection` apply to the CLS state only. Initialisation follows open_clip's `init_parameters`.
 */
export class TextTransformer extends Module {
  readonly tokenEmbedding: Embedding;
  /** `embedCls`: the appended CLS embedding [width] */
  readonly clsEmb?: Variable;
  readonly positionalEmbedding: Variable;
  readonly transformer: Transformer;
  readonly lnFinal: LayerNorm;
  readonly textProjection?: Variable;
  /** the pooling in use: `opts.pool`, or {@link defaultTextPool} of `opts.eotId` (unused with `embedCls`) */
  readonly pool: TextPool;

  /** @throws Error when the pool or `embedCls` needs an id (eotId, padId) that is not given, or `pool` is named with `embedCls` */
  constructor(readonly opts: TextTransformerOptions) {
    super();
    const { width, layers } = opts;
    const pool = (this.pool = opts.pool ?? defaultTextPool(opts.eotId));
    if (opts.embedCls && opts.pool !== undefined) throw new Error('text pool and embedCls exclude each other: the appended CLS is the pooled state');
    if (!opts.embedCls && pool === 'eot' && opts.eotId === undefined) throw new Error("text pool 'eot' needs eotId");
    if ((opts.embedCls || pool === 'mean') && opts.padId === undefined) throw new Error(`text ${opts.embedCls ? 'embedCls' : "pool 'mean'"} needs padId`);
    const projStd = width ** -0.5 * (2 * layers) ** -0.5;
    const positions = opts.contextLength + (opts.embedCls ? 1 : 0);
    this.tokenEmbedding = this.module('token_embedding', new Embedding(opts.vocabSize, width, { std: 0.02 }));
    if (opts.embedCls) this.clsEmb = this.param('cls_emb', normalInit([width], 0.01));
    this.positionalEmbedding = this.param('positional_embedding', normalInit([positions, width], 0.01));
    this.transformer = this.module('transformer', new Transformer(layers, {
      width, numHeads: opts.numHeads, mlpWidth: opts.mlpWidth, activation: opts.activation, lnEps: opts.lnEps,
      init: { attnInStd: width ** -0.5, attnOutStd: projStd, fcStd: (2 * width) ** -0.5, projStd },
    }));
    this.lnFinal = this.module('ln_final', new LayerNorm(width, opts.lnEps ?? 1e-5));
    if (opts.outputDim !== undefined) this.textProjection = this.param('text_projection', normalInit([width, opts.outputDim], width ** -0.5));
  }

  /**
   * Pooling weights [B, L] (one-hot rows, or uniform over non-pad tokens for 'mean'), computed on the host
   * from the ids.
   * @param ids int32 [B, L]
   * @throws Error naming the row when pool is 'eot' (or 'argmax' with eotId set) and a row has no eotId
   */
  poolingWeights(ids: Tensor): Tensor {
    const [b, l] = ids.shape;
    const data = ids.dataSync();
    const w = new Float32Array(b * l);
    const pool = this.pool;
    for (let r = 0; r < b; r++) {
      const row = data.subarray(r * l, (r + 1) * l);
      if ((pool === 'eot' || pool === 'argmax') && this.opts.eotId !== undefined && !row.includes(this.opts.eotId)) {
        throw new Error(`text row ${r} has no end-of-text token (id ${this.opts.eotId}): ${Array.from(row).join(' ')}`);
      }
      if (pool === 'cls') w[r * l] = 1;
      else if (pool === 'eot') w[r * l + row.indexOf(this.opts.eotId!)] = 1;
      else if (pool === 'argmax') {
        let best = 0;
        for (let j = 1; j < l; j++) if (row[j] > row[best]) best = j;
        w[r * l + best] = 1;
      } else {
        let n = 0;
        for (let j = 0; j < l; j++) if (row[j] !== this.opts.padId) n++;
        if (n === 0) throw new Error(`text row ${r} is all padding; mean pooling needs at least one token`);
        for (let j = 0; j < l; j++) if (row[j] !== this.opts.padId) w[r * l + j] = 1 / n;
      }
    }
    return tf.tensor2d(w, [b, l]);
  }

  /** @returns [B, L] of `ids` @throws Error when ids are not [B, L <= contextLength] */
  private checkIds(ids: Tensor): [number, number] {
    if (ids.rank !== 2 || (ids.shape[1] as number) > this.opts.contextLength) {
      throw new Error(`TextTransformer expects ids [B, L <= ${this.opts.contextLength}], got [${ids.shape}]`);
    }
    return ids.shape as [number, number];
  }

  /**
   * The additive self-attention mask: without `embedCls`, causal over the L tokens (-Infinity strictly above the
   * diagonal) or none; with `embedCls`, causal over the L tokens and the CLS (index L) plus a key mask, the same for
   * every query row and head (see {@link ClsMask}; rows of real tokens see the same keys under both masks).
   * @param ids int32 [B, L]
   * @returns float32 [L, L] (causal), undefined (bidirectional), or [B, 1, L + 1, L + 1] with `embedCls`
   */
  attentionMask(ids: Tensor, clsMask: ClsMask = this.opts.clsMask ?? 'paper'): Tensor | undefined {
    const [b, l] = ids.shape;
    if (!this.opts.embedCls) return this.opts.causal ?? true ? causalMask(l) : undefined;
    return tf.tidy(() => {
      const valid = ids.notEqual(tf.scalar(this.opts.padId!, 'int32')).toFloat();
      const always = tf.ones([b, 1]);
      const keys = clsMask === 'paper' ? tf.concat([valid, always], 1) : tf.concat([always, valid], 1);
      return keyPaddingMask(keys).add(causalMask(l + 1).reshape([1, 1, l + 1, l + 1]));
    });
  }

  /**
   * The states after the blocks, before ln_final: the L tokens, then the CLS with `embedCls`.
   * @param ids int32 [B, L], L <= contextLength
   * @returns float32 [B, L, width], or [B, L + 1, width] with `embedCls`
   * @throws Error when ids are not [B, L <= contextLength]
   */
  hidden(ids: Tensor): Tensor {
    const [b, l] = this.checkIds(ids);
    const w = this.opts.width;
    return tf.tidy(() => {
      let x: Tensor;
      if (this.clsEmb) {
        const cls = tf.zeros([b, 1, w]).add(this.clsEmb);
        x = tf.concat([this.tokenEmbedding.apply(ids.toInt()), cls], 1).add(this.positionalEmbedding.slice([0, 0], [l + 1, w]));
      } else {
        x = this.tokenEmbedding.apply(ids).add(this.positionalEmbedding.slice([0, 0], [l, w]));
      }
      return this.transformer.apply(x, { mask: this.attentionMask(ids) });
    });
  }

  /**
   * @param ids int32 [B, L] with L <= contextLength (with `embedCls`, generation passes growing prefixes; the CLS then
   *   sits at index L)
   * @returns pooled [B, outputDim or width] and tokens [B, L, width]
   * @throws Error when L exceeds contextLength or pooling finds no end-of-text token
   */
  apply(ids: Tensor): TextOutput {
    const [b, l] = this.checkIds(ids);
    const w = this.opts.width;
    return tf.tidy(() => {
      if (this.clsEmb) {
        const x = this.hidden(ids);
        let pooled = this.lnFinal.apply(x.slice([0, l, 0], [b, 1, w]).reshape([b, w]));
        if (this.textProjection) pooled = project(pooled, this.textProjection as Tensor2D);
        return { pooled, tokens: x.slice([0, 0, 0], [b, l, w]) };
      }
      const weights = this.poolingWeights(ids);
      const x = this.lnFinal.apply(this.hidden(ids));
      let pooled = x.mul(weights.reshape([b, l, 1])).sum(1);
      if (this.textProjection) pooled = project(pooled, this.textProjection as Tensor2D);
      return { pooled, tokens: x };
    });
  }
}
