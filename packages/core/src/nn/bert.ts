import { tf, Tensor, Tensor2D, Variable } from '../tf';
import { ACTIVATIONS, ActivationName } from '../ops/activations';
import { causalMask, keyPaddingMask } from '../ops/attention';
import { linear } from '../ops/matmul';
import { MultiHeadAttention } from './attention';
import { Embedding } from './embedding';
import { LayerNorm } from './layer-norm';
import { Linear } from './linear';
import { MLP } from './mlp';
import { Module } from './module';
import { normalInit, zerosInit } from './init';
import { BlockList, TransformerStackOptions } from './transformer';

/*
 * BERT (Devlin et al. 2019) building blocks in the Hugging Face layout, which the authors' ALBEF (xbert.py) and
 * BLIP (med.py) releases use: post-LN layers `x = LN(x + sublayer(x))` with separate query/key/value/output
 * Linears, an optional cross-attention sub-layer between self-attention and the feed-forward network, and the
 * masked-LM prediction head. Other layouts (torchmultimodal's ALBEF) map onto these names with a rename function
 * passed to loadStateDict. Attention math is the shared MultiHeadAttention (never a second attention).
 */

/** Constructor options of {@link BertEmbeddings}. */
export interface BertEmbeddingsOptions {
  vocabSize: number;
  /** rows of the absolute position table (BERT: 512) */
  maxPositions: number;
  width: number;
  /** token-type (segment) table rows; 0 for none (BLIP's med.py). Default 2 (BERT). Type 0 is used. */
  typeVocabSize?: number;
  /** LayerNorm epsilon, default 1e-12 (BERT) */
  lnEps?: number;
  /** init std of the tables, default 0.02 (BERT initializer_range) */
  std?: number;
  /**
   * absolute positions (default true); false: no position table at all, as with Hugging Face's
   * `position_embedding_type = "rel_pos"` (VLMo, whose positions come from a relative position bias)
   */
  absolutePositions?: boolean;
  /**
   * the token tables (default true); false: no word, position or token-type table, only the LayerNorm, for a prefix
   * of embeddings without text (the Q-Former of LAVIS's Blip2OPT and of MiniGPT-4, which delete the text embeddings)
   */
  words?: boolean;
}

/**
 * BERT input embeddings (Devlin et al. 2019, section 3, Fig. 2): `LayerNorm(word[ids] + position[0..L) +
 * token_type[0])`. Names: `word_embeddings.weight` [V, D], `position_embeddings.weight` [P, D],
 * `token_type_embeddings.weight` [T, D] (when T > 0), `LayerNorm.{weight,bias}`.
 */
export class BertEmbeddings extends Module {
  /** the word table (absent when built with `words: false`) */
  readonly wordEmbeddings?: Embedding;
  readonly positionEmbeddings?: Embedding;
  readonly tokenTypeEmbeddings?: Embedding;
  readonly norm: LayerNorm;

  constructor(readonly opts: BertEmbeddingsOptions) {
    super();
    const std = opts.std ?? 0.02;
    const words = opts.words ?? true;
    if (words) this.wordEmbeddings = this.module('word_embeddings', new Embedding(opts.vocabSize, opts.width, { std }));
    if (words && (opts.absolutePositions ?? true)) this.positionEmbeddings = this.module('position_embeddings', new Embedding(opts.maxPositions, opts.width, { std }));
    const types = words ? opts.typeVocabSize ?? 2 : 0;
    if (types > 0) this.tokenTypeEmbeddings = this.module('token_type_embeddings', new Embedding(types, opts.width, { std }));
    this.norm = this.module('LayerNorm', new LayerNorm(opts.width, opts.lnEps ?? 1e-12));
  }

  /**
   * @param ids int32 [B, L], L <= maxPositions, values in [0, vocabSize); null: the prefix alone
   * @param prefix float32 [B, P, width] embeddings put before the tokens' and normalised by the same LayerNorm,
   *   without position or token-type embeddings (BLIP-2's Q-Former queries, Li et al. 2023 section 3.1; LAVIS
   *   Qformer.py `BertEmbeddings(query_embeds=...)`); token positions still start at 0
   * @returns float32 [B, P + L, width]
   * @throws Error when L exceeds maxPositions, when neither ids nor prefix is given, or when their batch or width
   *   disagree
   */
  apply(ids: Tensor | null, prefix?: Tensor): Tensor {
    const d = this.opts.width;
    if (ids && (ids.rank !== 2 || (ids.shape[1] as number) > this.opts.maxPositions)) {
      throw new Error(`BertEmbeddings expects ids [B, L <= ${this.opts.maxPositions}], got [${ids.shape}]`);
    }
    if (prefix && (prefix.rank !== 3 || prefix.shape[2] !== d || (ids && ids.shape[0] !== prefix.shape[0]))) {
      throw new Error(`BertEmbeddings: prefix must be [B, P, ${d}] with the ids' batch, got [${prefix.shape}] beside ids [${ids?.shape ?? ''}]`);
    }
    if (!ids && !prefix) throw new Error('BertEmbeddings: needs ids, a prefix or both');
    const table = this.wordEmbeddings;
    if (ids && !table) throw new Error('BertEmbeddings: built without token tables (words: false), it embeds no ids');
    return tf.tidy(() => {
      let x: Tensor | undefined;
      if (ids && table) {
        const l = ids.shape[1] as number;
        x = table.apply(ids);
        if (this.positionEmbeddings) x = x.add(this.positionEmbeddings.weight.slice([0, 0], [l, d]));
        if (this.tokenTypeEmbeddings) x = x.add(this.tokenTypeEmbeddings.weight.slice([0, 0], [1, d]));
      }
      return this.norm.apply(prefix ? (x ? tf.concat([prefix, x], 1) : prefix) : x!);
    });
  }
}

/** Constructor options of {@link BertAttention}. */
export interface BertAttentionOptions {
  width: number;
  numHeads: number;
  /** key/value input width for cross-attention (BLIP: the vision width); default width */
  kvWidth?: number;
  lnEps?: number;
  std?: number;
}

/**
 * A post-LN attention sub-layer (HF `BertAttention`): `LN(x + out(MHA(q = x, k = v = context)))`. Names:
 * `self.{query,key,value}`, `output.dense`, `output.LayerNorm` (under `attention.` or `crossattention.` in a
 * {@link BertLayer}).
 */
export class BertAttention extends Module {
  readonly attn: MultiHeadAttention;
  readonly norm: LayerNorm;

  constructor(opts: BertAttentionOptions) {
    super();
    const std = opts.std ?? 0.02;
    this.attn = this.module('', new MultiHeadAttention({
      width: opts.width, numHeads: opts.numHeads, kvWidth: opts.kvWidth, layout: 'separate',
      names: { q: 'self.query', k: 'self.key', v: 'self.value', out: 'output.dense' }, inStd: std, outStd: std,
    }));
    this.norm = this.module('output.LayerNorm', new LayerNorm(opts.width, opts.lnEps ?? 1e-12));
  }

  /**
   * @param x float32 [B, N, width]
   * @param opts.context float32 [B, M, kvWidth] keys/values (cross-attention); default x
   * @param opts.mask additive mask broadcastable to [B, heads, N, M]
   * @returns float32 [B, N, width]
   */
  apply(x: Tensor, opts: { context?: Tensor; mask?: Tensor } = {}): Tensor {
    return tf.tidy(() => this.norm.apply(x.add(this.attn.apply(x, opts))));
  }
}

/** Constructor options of {@link BertLayer}. */
export interface BertLayerOptions {
  width: number;
  numHeads: number;
  /** feed-forward inner width, default 4 x width */
  mlpWidth?: number;
  /** default 'gelu' (exact erf, BERT) */
  activation?: ActivationName;
  /** LayerNorm epsilon, default 1e-12 */
  lnEps?: number;
  /** adds a cross-attention sub-layer `crossattention.*` to keys/values of width kvWidth */
  crossAttention?: { kvWidth: number };
  /**
   * adds a second feed-forward network for query rows, `intermediate_query.dense`, `output_query.dense`,
   * `output_query.LayerNorm` (BLIP-2's Q-Former, Li et al. 2023 section 3.1; LAVIS Qformer.py): see `queryLength`
   * of {@link BertLayer.apply}
   */
  queryFfn?: boolean;
  /**
   * the text rows' feed-forward network `intermediate` / `output` (default true); false: a layer for query rows only
   * (the Q-Former of LAVIS's Blip2OPT and MiniGPT-4, which delete the text FFN), needs `queryFfn`
   */
  textFfn?: boolean;
  /** init std of every Linear, default 0.02 */
  std?: number;
}

/** Options of {@link BertLayer.apply}. */
export interface BertLayerApplyOptions {
  /** additive self-attention mask broadcastable to [B, heads, N, N] */
  mask?: Tensor;
  /**
   * float32 [B, M, kvWidth]: runs the cross-attention sub-layer (skipped when absent, as in BLIP's unimodal 'text'
   * mode; a layer built without cross-attention ignores it)
   */
  context?: Tensor;
  /** additive cross-attention mask broadcastable to [B, heads, N (or queryLength), M] */
  contextMask?: Tensor;
  /**
   * Q rows of x are queries (BLIP-2's Q-Former, section 3.1): after the shared self-attention, only rows [0, Q)
   * cross-attend to the context and go through the query FFN; rows [Q, N) (text) go through the text FFN and never
   * cross-attend. Default 0: every row is text (and cross-attends when a context is given).
   */
  queryLength?: number;
}

/**
 * One post-LN BERT layer (Devlin et al. 2019; ALBEF section 3.1; BLIP med.py `BertLayer`):
 * `x = LN_a(x + selfattn(x))`; with cross-attention and a context `x = LN_c(x + crossattn(x, context))`;
 * `x = LN_f(x + FFN(x))`. Names: `attention.*`, `crossattention.*`, `intermediate.dense`, `output.dense`,
 * `output.LayerNorm`.
 */
export class BertLayer extends Module {
  readonly attention: BertAttention;
  readonly crossAttention?: BertAttention;
  /** the text rows' feed-forward network and its LayerNorm (absent when built with `textFfn: false`) */
  readonly ffn?: MLP;
  readonly ffnNorm?: LayerNorm;
  /** the query rows' feed-forward network and its LayerNorm (built with `queryFfn`) */
  readonly queryFfn?: MLP;
  readonly queryFfnNorm?: LayerNorm;

  /**
   * @param share a layer whose cross-attention and feed-forward modules this one reuses (one set of tensors, not
   *   copies): BLIP's decoder shares every parameter with the encoder except self-attention (section 3.1)
   * @throws Error when `share` lacks the cross-attention this layer is asked to have, or the layer would have no FFN
   */
  constructor(opts: BertLayerOptions, share?: BertLayer) {
    super();
    const textFfn = opts.textFfn ?? true;
    if (!textFfn && !opts.queryFfn) throw new Error('BertLayer: textFfn false needs queryFfn (a layer needs a feed-forward network)');
    const { width, numHeads } = opts;
    const eps = opts.lnEps ?? 1e-12;
    const std = opts.std ?? 0.02;
    this.attention = this.module('attention', new BertAttention({ width, numHeads, lnEps: eps, std }));
    if (opts.crossAttention) {
      if (share && !share.crossAttention) throw new Error('BertLayer: the shared layer has no cross-attention to share');
      this.crossAttention = this.module('crossattention', share?.crossAttention
        ?? new BertAttention({ width, numHeads, kvWidth: opts.crossAttention.kvWidth, lnEps: eps, std }));
    }
    if (textFfn) {
      this.ffn = this.module('', share?.ffn ?? new MLP(width, opts.mlpWidth ?? 4 * width, opts.activation ?? 'gelu', {
        fcStd: std, projStd: std, names: { fc: 'intermediate.dense', proj: 'output.dense' },
      }));
      this.ffnNorm = this.module('output.LayerNorm', share?.ffnNorm ?? new LayerNorm(width, eps));
    }
    if (opts.queryFfn) {
      this.queryFfn = this.module('', new MLP(width, opts.mlpWidth ?? 4 * width, opts.activation ?? 'gelu', {
        fcStd: std, projStd: std, names: { fc: 'intermediate_query.dense', proj: 'output_query.dense' },
      }));
      this.queryFfnNorm = this.module('output_query.LayerNorm', new LayerNorm(width, eps));
    }
  }

  /**
   * @param x float32 [B, N, width]
   * @returns float32 [B, N, width]
   * @throws Error when `queryLength` is outside [0, N] or set on a layer built without `queryFfn`, or there are text
   *   rows for a layer built without `textFfn`
   */
  apply(x: Tensor, opts: BertLayerApplyOptions = {}): Tensor {
    const nq = opts.queryLength ?? 0;
    const [b, n, d] = x.shape as [number, number, number];
    if (!(Number.isInteger(nq) && nq >= 0 && nq <= n)) throw new Error(`BertLayer: queryLength ${nq} is not an integer in [0, ${n}]`);
    if (nq > 0 && !this.queryFfn) throw new Error('BertLayer: query rows need a layer built with queryFfn');
    const ffn = this.ffn;
    const ffnNorm = this.ffnNorm;
    if (nq < n && !(ffn && ffnNorm)) throw new Error(`BertLayer: built without a text FFN (textFfn false), got ${n - nq} text rows`);
    return tf.tidy(() => {
      const h = this.attention.apply(x, { mask: opts.mask });
      if (nq === 0) {
        const c = this.crossAttention && opts.context ? this.crossAttention.apply(h, { context: opts.context, mask: opts.contextMask }) : h;
        return ffnNorm!.apply(c.add(ffn!.apply(c)));
      }
      let q = nq === n ? h : h.slice([0, 0, 0], [b, nq, d]);
      if (this.crossAttention && opts.context) q = this.crossAttention.apply(q, { context: opts.context, mask: opts.contextMask });
      q = this.queryFfnNorm!.apply(q.add(this.queryFfn!.apply(q)));
      if (nq === n) return q;
      const t = h.slice([0, nq, 0], [b, n - nq, d]);
      return tf.concat([q, ffnNorm!.apply(t.add(ffn!.apply(t)))], 1);
    });
  }
}

/** Constructor options of {@link BertEncoder} (LayerNorm epsilon of embeddings and layers: default 1e-12). */
export interface BertEncoderOptions extends TransformerStackOptions {
  vocabSize: number;
  maxPositions: number;
  /** token-type rows, default 2; 0 for none (BLIP) */
  typeVocabSize?: number;
  /**
   * cross-attention to a context of width kvWidth in layers `fromLayer..layers-1` (default 0: every layer, as in
   * BLIP; ALBEF: the last 6 of 12 layers form the fusion encoder, section 3.1) whose index is a multiple of `every`
   * (default 1; BLIP-2's Q-Former: 2, "cross-attention layers inserted every other transformer block", section 3.1)
   */
  crossAttention?: { kvWidth: number; fromLayer?: number; every?: number };
  /** every layer gets a query FFN (BLIP-2's Q-Former; see {@link BertLayerOptions.queryFfn}) */
  queryFfn?: boolean;
  /**
   * false: queries only, no text (default true): embeddings without token tables ({@link BertEmbeddingsOptions.words})
   * and layers without the text FFN ({@link BertLayerOptions.textFfn}); needs `queryFfn`
   */
  text?: boolean;
  /**
   * additive constant for masked keys (padding, and future positions with `causal`): -10000 (default, HF BERT and
   * BLIP) or -Infinity (torchmultimodal's ALBEF); both give the same probabilities for a row with one valid key
   */
  maskValue?: number;
  std?: number;
}

/** Options of {@link BertEncoder.encode} and {@link BertEncoder.apply}. */
export interface BertEncodeOptions {
  /** float32 [B, M, kvWidth]: keys/values of the cross-attention layers (omit for text-only layers) */
  context?: Tensor;
  /** additive cross-attention mask broadcastable to [B, heads, L, M] (none: every context token is valid) */
  contextMask?: Tensor;
  /** add a causal mask (an autoregressive decoder: BLIP's LM, section 3.2) */
  causal?: boolean;
  /** run layers [from, to) only (ALBEF: text layers [0, T), fusion layers [T, L)); default all */
  from?: number;
  to?: number;
  /**
   * the first Q positions are queries (BLIP-2's Q-Former, section 3.1; see {@link BertLayerApplyOptions.queryLength}):
   * only they cross-attend and they use the query FFN; with `causal` they are the bidirectional prefix of the
   * multimodal causal mask (queries see each other, never the text; text sees every query and the text up to itself)
   */
  queryLength?: number;
}

/**
 * A BERT encoder without pooler (HF `BertModel(add_pooling_layer=False)`): `embeddings.*` and
 * `encoder.layer.{i}.*`. Layers may carry cross-attention (see {@link BertEncoderOptions.crossAttention}), so one
 * stack serves as ALBEF's text + fusion encoder and as BLIP's encoder or decoder.
 */
export class BertEncoder extends Module {
  readonly embeddings: BertEmbeddings;
  readonly layers: BertLayer[] = [];
  readonly maskValue: number;

  /**
   * @param share an encoder whose embeddings and per-layer cross-attention and feed-forward modules are reused
   *   (BLIP: the text decoder shares all but self-attention with the encoder, section 3.1)
   * @throws Error when `share` has a different depth
   */
  constructor(readonly opts: BertEncoderOptions, share?: BertEncoder) {
    super();
    if (share && share.layers.length !== opts.layers) throw new Error(`BertEncoder: cannot share ${share.layers.length} layers with a ${opts.layers}-layer encoder`);
    this.maskValue = opts.maskValue ?? -10000;
    this.embeddings = this.module('embeddings', share?.embeddings ?? new BertEmbeddings({
      vocabSize: opts.vocabSize, maxPositions: opts.maxPositions, width: opts.width, typeVocabSize: opts.typeVocabSize,
      lnEps: opts.lnEps, std: opts.std, words: opts.text,
    }));
    const list = this.module('encoder.layer', new BlockList());
    const from = opts.crossAttention?.fromLayer ?? 0;
    const every = opts.crossAttention?.every ?? 1;
    if (!(Number.isInteger(every) && every >= 1)) throw new Error(`BertEncoder: crossAttention.every must be a positive integer, got ${every}`);
    for (let i = 0; i < opts.layers; i++) {
      const cross = opts.crossAttention && i >= from && i % every === 0 ? { kvWidth: opts.crossAttention.kvWidth } : undefined;
      this.layers.push(list.add(String(i), new BertLayer({
        width: opts.width, numHeads: opts.numHeads, mlpWidth: opts.mlpWidth, activation: opts.activation,
        lnEps: opts.lnEps, crossAttention: cross, queryFfn: opts.queryFfn, textFfn: opts.text, std: opts.std,
      }, share?.layers[i])));
    }
  }

  /**
   * The additive self-attention mask: `maskValue` on padded keys, and above the diagonal when causal (except among
   * the first `prefix` positions, which see each other: ops/attention.ts `causalMask`).
   * @param valid int32 or float32 [B, L], 1 = token, 0 = padding
   * @param prefix the bidirectional prefix of a causal mask (BLIP-2's queries), default 0
   * @returns float32 [B, 1, 1, L] (or [B, 1, L, L] when causal)
   */
  attentionMask(valid: Tensor, causal = false, prefix = 0): Tensor {
    return tf.tidy(() => {
      const pad = keyPaddingMask(valid, this.maskValue);
      if (!causal) return pad;
      const l = valid.shape[1] as number;
      return pad.add(causalMask(l, this.maskValue, prefix).reshape([1, 1, l, l]));
    });
  }

  /** @param ids int32 [B, L] @returns float32 [B, L, width] (see {@link BertEmbeddings.apply}) */
  embed(ids: Tensor): Tensor {
    return this.embeddings.apply(ids);
  }

  /**
   * Runs layers [from, to) on hidden states.
   * @param hidden float32 [B, L, width]
   * @param valid [B, L] 0/1 attention (padding) mask
   * @returns float32 [B, L, width]
   * @throws Error when the layer range is invalid
   */
  encode(hidden: Tensor, valid: Tensor, opts: BertEncodeOptions = {}): Tensor {
    const from = opts.from ?? 0;
    const to = opts.to ?? this.layers.length;
    if (!(from >= 0 && from <= to && to <= this.layers.length)) throw new Error(`BertEncoder: layer range [${from}, ${to}) outside [0, ${this.layers.length}]`);
    return tf.tidy(() => {
      const queryLength = opts.queryLength ?? 0;
      const mask = this.attentionMask(valid, opts.causal ?? false, queryLength);
      let x = hidden;
      for (let i = from; i < to; i++) x = this.layers[i].apply(x, { mask, context: opts.context, contextMask: opts.contextMask, queryLength });
      return x;
    });
  }

  /**
   * Embeds `ids` and runs layers [from, to).
   * @param ids int32 [B, L]
   * @param valid [B, L] 0/1 attention mask
   * @returns float32 [B, L, width] last hidden states
   */
  apply(ids: Tensor, valid: Tensor, opts: BertEncodeOptions = {}): Tensor {
    return tf.tidy(() => this.encode(this.embed(ids), valid, opts));
  }
}

/** Constructor options of {@link BertLMHead}. */
export interface BertLMHeadOptions {
  width: number;
  vocabSize: number;
  lnEps?: number;
  activation?: ActivationName;
  /**
   * the word-embedding table [V, width] to use as the decoder weight (tied, Press & Wolf 2017; ALBEF and BLIP
   * releases); when absent the head owns `predictions.decoder.weight`
   */
  tiedWeight?: Variable;
  std?: number;
}

/**
 * The masked-LM / LM prediction head (HF `BertOnlyMLMHead`, torchmultimodal `PredictionHead`):
 * `logits = LN(act(dense(h))) @ W^T + bias`. Names: `predictions.transform.dense`, `predictions.transform.LayerNorm`,
 * `predictions.decoder.weight` (untied only) and `predictions.bias` [V].
 */
export class BertLMHead extends Module {
  readonly dense: Linear;
  readonly norm: LayerNorm;
  readonly decoderWeight: Variable;
  readonly bias: Variable;
  readonly tied: boolean;

  /** @throws Error when a tied weight does not have shape [vocabSize, width] */
  constructor(readonly opts: BertLMHeadOptions) {
    super();
    const std = opts.std ?? 0.02;
    this.dense = this.module('predictions.transform.dense', new Linear(opts.width, opts.width, { std }));
    this.norm = this.module('predictions.transform.LayerNorm', new LayerNorm(opts.width, opts.lnEps ?? 1e-12));
    this.tied = opts.tiedWeight !== undefined;
    if (opts.tiedWeight) {
      const [v, d] = opts.tiedWeight.shape as number[];
      if (v !== opts.vocabSize || d !== opts.width) throw new Error(`BertLMHead: tied weight [${opts.tiedWeight.shape}] is not [${opts.vocabSize}, ${opts.width}]`);
      this.decoderWeight = opts.tiedWeight;
    } else {
      this.decoderWeight = this.param('predictions.decoder.weight', normalInit([opts.vocabSize, opts.width], std));
    }
    this.bias = this.param('predictions.bias', zerosInit([opts.vocabSize]));
  }

  /** @param hidden float32 [..., width] @returns float32 [..., vocabSize] logits */
  apply(hidden: Tensor): Tensor {
    return tf.tidy(() => {
      const act = ACTIVATIONS[this.opts.activation ?? 'gelu'];
      const h = this.norm.apply(act(this.dense.apply(hidden)));
      return linear(h, this.decoderWeight as Tensor2D, this.bias);
    });
  }
}

/**
 * A BERT encoder with an optional LM head under HF's names (`BertForMaskedLM` / `BertLMHeadModel`): `bert.*` and
 * `cls.predictions.*`. ALBEF's text encoder (MLM) and BLIP's text decoder (LM) are this composition.
 */
export class BertWithLMHead extends Module {
  /** @param bert the encoder, registered as `bert` @param cls the head, registered as `cls` when given */
  constructor(readonly bert: BertEncoder, readonly cls?: BertLMHead) {
    super();
    this.module('bert', bert);
    if (cls) this.module('cls', cls);
  }
}
