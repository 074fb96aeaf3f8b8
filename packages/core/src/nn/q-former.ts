import { tf, Tensor, Variable } from '../tf';
import { ActivationName } from '../ops/activations';
import { BertEncoder, BertLMHead, BertWithLMHead } from './bert';
import { Module } from './module';
import { normalInit } from './init';
import { HasInitTwins, copyTwins } from './init-twins';

/** Constructor options of {@link QFormer} (LAVIS Blip2Base.init_Qformer's BERT-base config for the defaults). */
export interface QFormerOptions {
  /** learned query tokens Nq (BLIP-2, section 3.1: 32) */
  numQueries: number;
  /** text vocabulary rows (LAVIS: bert-base-uncased's 30,522 plus [DEC]) */
  vocabSize: number;
  /** text position rows (BERT: 512) */
  maxPositions: number;
  /** hidden width D (BERT-base: 768), layers (12), heads (12), FFN width (default 4 D) */
  width: number;
  layers: number;
  numHeads: number;
  mlpWidth?: number;
  activation?: ActivationName;
  /** width of the image features the queries cross-attend to (EVA ViT-g: 1408) */
  visionWidth: number;
  /** cross-attention in layers whose index is a multiple of this (section 3.1: 2, "every other block") */
  crossAttentionFreq?: number;
  /** LayerNorm epsilon (BERT: 1e-12) */
  lnEps?: number;
  /** init std of weights, tables and query tokens (BERT initializer_range: 0.02) */
  std?: number;
  /** additive constant of masked keys (HF BERT, LAVIS: -10000) */
  maskValue?: number;
  /**
   * the ITG language-model head `Qformer.cls.predictions.*` (section 3.2): 'tied' (LAVIS: `BertLMHeadModel`
   * built through Hugging Face's `from_pretrained`, whose `tie_weights` makes `cls.predictions.decoder.weight` the
   * word-embedding table, and `resize_token_embeddings` keeps it tied), 'untied' (torchmultimodal's
   * `QformerPredictionHead`, whose `linear_2` is its own [V, D] weight), or 'none' (the stage-2 bridges, which drop
   * the head: LAVIS Blip2OPT sets `Qformer.cls = None`). Default 'tied'.
   */
  lmHead?: 'tied' | 'untied' | 'none';
  /**
   * whether the Q-Former reads text (default true): false builds the queries-only Q-Former of a stage-2 bridge that
   * never feeds it text (LAVIS Blip2OPT and MiniGPT-4 delete `word_embeddings`, `position_embeddings` and every
   * layer's `intermediate` / `output`): no token tables, no text FFN, and `lmHead` must be 'none'
   */
  text?: boolean;
}

/** Inputs of {@link QFormer.apply}; at least one of `queries` and `ids`. */
export interface QFormerInputs {
  /** float32 [B, M, visionWidth] image features the queries cross-attend to (required with queries) */
  image?: Tensor;
  /** put the learned queries first (default true) */
  queries?: boolean;
  /** int32 [B, L] text ids after the queries (ITC text side, ITM, ITG; InstructBLIP's instruction) */
  ids?: Tensor;
  /** [B, L] 0/1 text attention mask (1 = token, 0 = padding); default all ones */
  valid?: Tensor;
  /**
   * false (default): bidirectional over [queries; text] with padded text keys masked (ITC's unimodal passes, ITM,
   * InstructBLIP); true: the multimodal causal mask of ITG (section 3.2, Fig. 2): queries see the queries only, text
   * row i sees every query and the unpadded text j <= i
   */
  causal?: boolean;
}

/** Outputs of {@link QFormer.apply} (a type, so that it can leave `tf.tidy`). */
export type QFormerOutput = {
  /** float32 [B, Nq + L, D]: the last hidden states, queries first */
  hidden: Tensor;
  /** float32 [B, Nq, D] the query rows (absent without queries) */
  queryOutput?: Tensor;
  /** float32 [B, L, D] the text rows (absent without ids) */
  textOutput?: Tensor;
};

/**
 * The Querying Transformer of BLIP-2 (Li et al. 2023, "BLIP-2: Bootstrapping Language-Image Pre-training with Frozen
 * Image Encoders and Large Language Models", section 3.1, Fig. 2): Nq learned query tokens and a BERT whose layers
 * self-attend over [queries; text] together, then split: the query rows cross-attend to frozen image features (in
 * layers i % crossAttentionFreq == 0) and go through their own FFN (`intermediate_query` / `output_query`), the text
 * rows go through BERT's FFN and never see the image. What the rows may attend to is the mask of the objective:
 * queries alone (ITC image side, the stage-2 soft prompt), text alone (ITC text side), both bidirectionally (ITM;
 * InstructBLIP's instruction beside the queries) or both with the multimodal causal mask (ITG).
 *
 * Names are LAVIS's (lavis/models/blip2_models/Qformer.py, blip2.py): `query_tokens` [1, Nq, D],
 * `Qformer.bert.embeddings.{word_embeddings,position_embeddings,LayerNorm}`, `Qformer.bert.encoder.layer.{i}.
 * {attention,crossattention,intermediate,output,intermediate_query,output_query}.*` and the LM head
 * `Qformer.cls.predictions.*`. The text embeddings are word + position then LayerNorm; the queries go through the
 * same LayerNorm without positions, in front of the text (Qformer.py `BertEmbeddings`); no token types. Each layer's
 * query FFN starts as a copy of its text FFN (LAVIS copies every `*_query` parameter from its twin after loading
 * bert-base-uncased), here at construction and, through {@link initTwins}, after `init:` loads the text FFN alone.
 */
export class QFormer extends Module implements HasInitTwins {
  readonly queryTokens: Variable;
  readonly bert: BertEncoder;
  readonly cls?: BertLMHead;

  /** @throws Error when the width is not divisible by the heads or crossAttentionFreq is not a positive integer */
  constructor(readonly opts: QFormerOptions) {
    super();
    const std = opts.std ?? 0.02;
    const text = opts.text ?? true;
    if (!text && (opts.lmHead ?? 'tied') !== 'none') throw new Error("QFormer: a Q-Former without text (text: false) has no LM head: set lmHead 'none'");
    this.queryTokens = this.param('query_tokens', normalInit([1, opts.numQueries, opts.width], std));
    this.bert = new BertEncoder({
      vocabSize: opts.vocabSize, maxPositions: opts.maxPositions, width: opts.width, layers: opts.layers, numHeads: opts.numHeads,
      mlpWidth: opts.mlpWidth, activation: opts.activation, lnEps: opts.lnEps, typeVocabSize: 0, maskValue: opts.maskValue, std,
      crossAttention: { kvWidth: opts.visionWidth, every: opts.crossAttentionFreq ?? 2 }, queryFfn: true, text,
    });
    const head = opts.lmHead ?? 'tied';
    if (head !== 'none') {
      this.cls = new BertLMHead({
        width: opts.width, vocabSize: opts.vocabSize, lnEps: opts.lnEps, activation: opts.activation, std,
        tiedWeight: head === 'tied' ? this.bert.embeddings.wordEmbeddings!.weight : undefined,
      });
    }
    this.module('Qformer', new BertWithLMHead(this.bert, this.cls));
    copyTwins(this.initTwins());
  }

  /**
   * [text FFN parameter, its query-FFN twin] of every layer: `intermediate.dense` / `intermediate_query.dense`,
   * `output.dense` / `output_query.dense`, `output.LayerNorm` / `output_query.LayerNorm` (core HasInitTwins).
   */
  initTwins(): [Variable, Variable][] {
    const pairs: [Variable, Variable][] = [];
    for (const layer of this.bert.layers) {
      if (!layer.ffn || !layer.ffnNorm) continue;
      const text = [...layer.ffn.namedParameters().values(), ...layer.ffnNorm.namedParameters().values()];
      const query = [...layer.queryFfn!.namedParameters().values(), ...layer.queryFfnNorm!.namedParameters().values()];
      text.forEach((v, i) => pairs.push([v, query[i]]));
    }
    return pairs;
  }

  /** Nq, the number of learned queries. */
  get numQueries(): number {
    return this.opts.numQueries;
  }

  /**
   * One pass of the Q-Former (section 3.1) under the mask `inputs.causal` selects.
   * @returns the hidden states and their query and text rows
   * @throws Error when neither queries nor ids are given, queries come without image features (or image features
   *   without queries), or the batch sizes of image, ids and valid disagree
   */
  apply(inputs: QFormerInputs): QFormerOutput {
    const useQueries = inputs.queries ?? true;
    const { image, ids } = inputs;
    if (!useQueries && !ids) throw new Error('QFormer.apply: needs queries, text ids or both');
    if (useQueries && !image) throw new Error('QFormer.apply: the queries need image features to cross-attend to (inputs.image [B, M, visionWidth])');
    if (!useQueries && image) throw new Error('QFormer.apply: image features without queries are unused (text never cross-attends)');
    if (image && (image.rank !== 3 || image.shape[2] !== this.opts.visionWidth)) {
      throw new Error(`QFormer.apply: image features must be [B, M, ${this.opts.visionWidth}], got [${image.shape}]`);
    }
    const b = (ids?.shape[0] ?? image?.shape[0]) as number;
    if (image && image.shape[0] !== b) throw new Error(`QFormer.apply: ${image.shape[0]} images for ${b} texts`);
    if (inputs.valid && (ids === undefined || inputs.valid.shape.join() !== ids.shape.join())) {
      throw new Error(`QFormer.apply: valid [${inputs.valid.shape}] does not match ids [${ids?.shape ?? ''}]`);
    }
    return tf.tidy(() => {
      const nq = useQueries ? this.opts.numQueries : 0;
      const queries = useQueries ? tf.broadcastTo(this.queryTokens, [b, nq, this.opts.width]) : undefined;
      const hidden0 = this.bert.embeddings.apply(ids ?? null, queries);
      const textValid = ids ? (inputs.valid ?? tf.onesLike(ids)).toFloat() : undefined;
      const valid = textValid ? (nq > 0 ? tf.concat([tf.ones([b, nq]), textValid], 1) : textValid) : tf.ones([b, nq]);
      const hidden = this.bert.encode(hidden0, valid, { context: image, causal: inputs.causal ?? false, queryLength: nq });
      const [, n, d] = hidden.shape as [number, number, number];
      const out: QFormerOutput = { hidden };
      if (nq > 0) out.queryOutput = nq === n ? hidden : hidden.slice([0, 0, 0], [b, nq, d]);
      if (ids) out.textOutput = nq === 0 ? hidden : hidden.slice([0, nq, 0], [b, n - nq, d]);
      return out;
    });
  }

  /**
   * Next-token logits of the ITG head.
   * @param textOutput float32 [B, L, D] @returns float32 [B, L, V]: row t predicts token t + 1
   * @throws Error when the Q-Former was built without an LM head
   */
  lmLogits(textOutput: Tensor): Tensor {
    if (!this.cls) throw new Error("QFormer.lmLogits: built with lmHead 'none'");
    return this.cls.apply(textOutput);
  }
}
