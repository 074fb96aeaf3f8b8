import {
  tf, Tensor, Module, BlockList, Embedding, RMSNorm, SwiGLU, CausalSelfAttention, OutputProjection, KVCache, ropeTables, resolveVocabSize,
} from '@mmzoo/core';
import type {
  Batch, CausalLM, CausalLmForwardOptions, CausalLmOutput, CausalSelfAttentionInputs, LossOutput, RopeLayout,
} from '@mmzoo/core';
import { LlamaConfig, llamaConfigHiddenDim } from './llama-config';
import { decoderStep, embedTokens } from './decoder-step';
import { glmPositions } from './glm-positions';
import { clmTrainingLoss } from './lm-training-loss';

/** A LLaMA config with every size resolved (what {@link Llama}'s constructor takes); each field means what the key of the same name in LlamaConfigSchema means. */
export interface LlamaOptions {
  dim: number;
  layers: number;
  numHeads: number;
  numKvHeads: number;
  vocabSize: number;
  hiddenDim: number;
  normEps: number;
  ropeTheta: number;
  ropeLayout: RopeLayout;
  /** GLM's 2D RoPE (see {@link glmPositions}); default false */
  rope2d?: boolean;
  maxSeqLen: number;
  tiedEmbeddings: boolean;
}

/**
 * One pre-norm LLaMA block (llama2.c `TransformerBlock`): `h = x + attention(attention_norm(x))`, then
 * `h + feed_forward(ffn_norm(h))`, with grouped-query attention under RoPE and a SwiGLU feed-forward.
 * Parameters: `attention.wq/wk/wv/wo`, `feed_forward.w1/w2/w3`, `attention_norm`, `ffn_norm` (no biases).
 */
export class LlamaBlock extends Module {
  readonly attention: CausalSelfAttention;
  readonly feedForward: SwiGLU;
  readonly attentionNorm: RMSNorm;
  readonly ffnNorm: RMSNorm;

  /** @param opts the model's resolved sizes (the block uses dim, heads, hiddenDim, normEps and layers for its init) */
  constructor(opts: LlamaOptions) {
    super();
    // llama2.c init: N(0, 0.02) everywhere, wo and w3 N(0, 0.02 / sqrt(2 n_layers)) (GPT-2's residual scaling)
    const outStd = 0.02 / Math.sqrt(2 * opts.layers);
    this.attention = this.module('attention', new CausalSelfAttention({ width: opts.dim, numHeads: opts.numHeads, numKvHeads: opts.numKvHeads, outStd }));
    this.feedForward = this.module('feed_forward', new SwiGLU(opts.dim, opts.hiddenDim, { upStd: outStd }));
    this.attentionNorm = this.module('attention_norm', new RMSNorm(opts.dim, opts.normEps));
    this.ffnNorm = this.module('ffn_norm', new RMSNorm(opts.dim, opts.normEps));
  }

  /** @param x float32 [B, T, dim] @param inputs mask, RoPE tables and cache of this step @returns float32 [B, T, dim] */
  apply(x: Tensor, inputs: CausalSelfAttentionInputs): Tensor {
    return tf.tidy(() => {
      const h = x.add(this.attention.apply(this.attentionNorm.apply(x), inputs));
      return h.add(this.feedForward.apply(this.ffnNorm.apply(h)));
    });
  }
}

/**
 * A LLaMA decoder (Touvron et al. 2023) in llama2.c's layout and names (`model.py` `Transformer`):
 * `tok_embeddings` [V, dim] (no scaling, no position embedding: position enters through RoPE), `layers.N`
 * ({@link LlamaBlock}), the final RMSNorm `norm`, and the output projection `output` [V, dim], tied to the token
 * embedding or its own. Weights from llama2.c or Hugging Face: see loadLlamaWeights. With `rope2d` (VisualGLM's
 * stand-in for ChatGLM-6B), RoPE is GLM's 2D one over the positions of {@link glmPositions}, and a forward's
 * `prefixLength` gives both the prefix-LM mask and the block positions.
 */
export class Llama extends Module implements CausalLM {
  /** `tok_embeddings` [V, dim] */
  readonly tokEmbeddings: Embedding;
  /** `layers.0` .. `layers.{L-1}` */
  readonly blocks: LlamaBlock[] = [];
  /** the final RMSNorm `norm` */
  readonly norm: RMSNorm;
  /** `output` [V, dim], or the token embedding's table when tied */
  readonly output: OutputProjection;
  /** dim / numHeads */
  readonly headDim: number;

  /** @param opts resolved sizes (see {@link buildLlama} for a config) @throws Error when the sizes do not divide (see CausalSelfAttention) */
  constructor(readonly opts: LlamaOptions) {
    super();
    this.headDim = opts.dim / opts.numHeads;
    this.tokEmbeddings = this.module('tok_embeddings', new Embedding(opts.vocabSize, opts.dim));
    const list = this.module('layers', new BlockList());
    for (let i = 0; i < opts.layers; i++) this.blocks.push(list.add(String(i), new LlamaBlock(opts)));
    this.norm = this.module('norm', new RMSNorm(opts.dim, opts.normEps));
    this.output = this.module('output', new OutputProjection(opts.dim, opts.vocabSize, { tiedTo: opts.tiedEmbeddings ? this.tokEmbeddings : undefined }));
  }

  /** the context length */
  get maxSeqLen(): number {
    return this.opts.maxSeqLen;
  }

  /** D, the width of the token embedding (`dim`) */
  get embedDim(): number {
    return this.opts.dim;
  }

  /**
   * Logits of the new tokens, given the cached ones (see {@link CausalLmForwardOptions}).
   * @param input int32 [B, T] ids, or float32 [B, T, dim] input embeddings in their place (the rank decides)
   * @returns logits float32 [B, T, V] and the final norm's output float32 [B, T, dim]
   * @throws Error when the input is neither, cached plus new positions exceed maxSeqLen, the attention mask is not
   *   [B, cached + T] or positionIds not [B, T] / [1, T]
   */
  forward(input: Tensor, opts: CausalLmForwardOptions = {}): CausalLmOutput {
    const cache = opts.cache;
    const out = tf.tidy(() => {
      const step = decoderStep('Llama', input, this.tokEmbeddings, opts, this.maxSeqLen);
      const { x, mask } = step;
      const { positions, blockPositions } = this.opts.rope2d ? glmPositions(step.positions, opts.prefixLength) : { positions: step.positions, blockPositions: undefined };
      const rope = ropeTables(positions, this.headDim, { theta: this.opts.ropeTheta, layout: this.opts.ropeLayout, blockPositions });
      let h = x;
      this.blocks.forEach((block, layer) => {
        h = block.apply(h, { rope, mask, cache: cache ? { cache, layer } : undefined });
      });
      const hidden = this.norm.apply(h);
      return { logits: this.output.apply(hidden), hidden };
    });
    cache?.commit();
    return out;
  }

  /** `tok_embeddings` of int32 [B, T] ids: float32 [B, T, dim] (what forward looks ids up in) @throws Error when ids is not [B, T] */
  embedTokens(ids: Tensor): Tensor {
    return embedTokens('Llama', this.tokEmbeddings, ids);
  }

  /**
   * The causal-LM objective of a batch (`text` ids, shifted `labels`, optional `lossMask`; see {@link clmTrainingLoss}).
   * @returns `{ total, parts: { clm } }`, float32 scalars
   * @throws Error when the batch has no `text`, or as core causalLmLoss for labels / lossMask of another shape
   */
  trainingLoss(batch: Pick<Batch, 'text' | 'labels' | 'lossMask'>): LossOutput {
    return clmTrainingLoss(this, batch, 'Llama');
  }

  /** An empty KV cache for this model (the caller disposes it). */
  newCache(): KVCache {
    return new KVCache(this.opts.layers);
  }
}

/**
 * Builds a LLaMA from a validated config; initialised as llama2.c does (N(0, 0.02), wo and w3 N(0, 0.02 /
 * sqrt(2 layers)), norms 1), from core's seeded initialisers.
 * @param parts.vocabSize the tokenizer's vocabulary size, used when the config has none
 * @throws Error when neither the config nor parts give a vocabulary size
 */
export function buildLlama(cfg: LlamaConfig, parts: { vocabSize?: number } = {}): Llama {
  const vocabSize = resolveVocabSize(cfg.vocabSize, parts, 'model.vocabSize');
  return new Llama({
    dim: cfg.dim,
    layers: cfg.layers,
    numHeads: cfg.numHeads,
    numKvHeads: cfg.numKvHeads ?? cfg.numHeads,
    vocabSize,
    hiddenDim: llamaConfigHiddenDim(cfg),
    normEps: cfg.normEps,
    ropeTheta: cfg.ropeTheta,
    ropeLayout: cfg.ropeLayout,
    rope2d: cfg.rope2d === true,
    maxSeqLen: cfg.maxSeqLen,
    tiedEmbeddings: cfg.tiedEmbeddings,
  });
}
