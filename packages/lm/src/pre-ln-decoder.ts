import {
  tf, Tensor, Module, BlockList, Embedding, LayerNorm, LearnedPositionEmbedding, MLP, OutputProjection, KVCache,
} from '@mmzoo/core';
import type { Batch, CausalLM, CausalLmForwardOptions, CausalLmOutput, CausalSelfAttentionInputs, LossOutput } from '@mmzoo/core';
import { decoderStep, embedTokens } from './decoder-step';
import { clmTrainingLoss } from './lm-training-loss';

/** A decoder attention as a block sees it (core CausalSelfAttention, or GPT-2's fused {@link Gpt2Attention}). */
export interface BlockAttention extends Module {
  /** @param x float32 [B, T, dim] @param inputs mask and cache of this step @returns float32 [B, T, dim] */
  apply(x: Tensor, inputs: CausalSelfAttentionInputs): Tensor;
}

/** The parts of one {@link PreLnBlock}, each with the name it is registered (and checkpointed) under. */
export interface PreLnBlockParts {
  ln1: [string, LayerNorm];
  attn: [string, BlockAttention];
  ln2: [string, LayerNorm];
  mlp: [string, MLP];
}

/**
 * One pre-LN decoder block (Radford et al. 2019, GPT-2 section 2.3; OPT, Zhang et al. 2022, with
 * `do_layer_norm_before`): `h = x + attn(ln1(x))`, then `h + mlp(ln2(h))`. GPT-2 names its parts `ln_1`, `attn`,
 * `ln_2`, `mlp`; OPT `self_attn_layer_norm`, `self_attn`, `final_layer_norm` and (flattened) `fc1` / `fc2`.
 */
export class PreLnBlock extends Module {
  readonly ln1: LayerNorm;
  readonly attn: BlockAttention;
  readonly ln2: LayerNorm;
  readonly mlp: MLP;

  /** @param parts the four parts and their names; an MLP named '' has its `fc` / `proj` registered on the block itself (OPT's flat `fc1`, `fc2`) */
  constructor(parts: PreLnBlockParts) {
    super();
    this.ln1 = this.module(...parts.ln1);
    this.attn = this.module(...parts.attn);
    this.ln2 = this.module(...parts.ln2);
    const [mlpName, mlp] = parts.mlp;
    if (mlpName) this.mlp = this.module(mlpName, mlp);
    else {
      this.mlp = mlp;
      for (const [name, child] of mlp.namedModules()) if (name && !name.includes('.')) this.module(name, child);
    }
  }

  /** @param x float32 [B, T, dim] @param inputs mask and cache of this step @returns float32 [B, T, dim] */
  apply(x: Tensor, inputs: CausalSelfAttentionInputs): Tensor {
    return tf.tidy(() => {
      const h = x.add(this.attn.apply(this.ln1.apply(x), inputs));
      return h.add(this.mlp.apply(this.ln2.apply(h)));
    });
  }
}

/** The names of a {@link PreLnDecoder}'s parts (GPT-2: `transformer`, `wte`, `wpe`, `h`, `ln_f`; OPT: `decoder`, `embed_tokens`, `embed_positions`, `layers`, `final_layer_norm`). */
export interface PreLnDecoderNames {
  root: string;
  tokens: string;
  positions: string;
  layers: string;
  finalNorm: string;
}

/** The sizes of a {@link PreLnDecoder}. */
export interface PreLnDecoderSizes {
  dim: number;
  layers: number;
  vocabSize: number;
  /** the context length: learned positions 0 .. maxSeqLen - 1 */
  maxSeqLen: number;
  /** rows of the position table before position 0 (GPT-2 0, OPT 2) */
  positionOffset: number;
  /** LayerNorm epsilon (1e-5 in GPT-2 and OPT) */
  normEps: number;
}

/** The trunk of a {@link PreLnDecoder}: embeddings, blocks and final LayerNorm, registered under the names given. */
export class PreLnTrunk extends Module {
  readonly tokens: Embedding;
  readonly positions: LearnedPositionEmbedding;
  readonly blocks: PreLnBlock[] = [];
  readonly finalNorm: LayerNorm;
  constructor(sizes: PreLnDecoderSizes, names: PreLnDecoderNames, makeBlock: (layer: number) => PreLnBlock) {
    super();
    this.tokens = this.module(names.tokens, new Embedding(sizes.vocabSize, sizes.dim));
    this.positions = this.module(names.positions, new LearnedPositionEmbedding(sizes.maxSeqLen, sizes.dim, { offset: sizes.positionOffset }));
    const list = this.module(names.layers, new BlockList());
    for (let i = 0; i < sizes.layers; i++) this.blocks.push(list.add(String(i), makeBlock(i)));
    this.finalNorm = this.module(names.finalNorm, new LayerNorm(sizes.dim, sizes.normEps));
  }
}

/**
 * A pre-LN decoder LM with learned absolute positions and a tied output (GPT-2, OPT): `x = tokens[ids] +
 * positions[pos]`, the {@link PreLnBlock}s, the final LayerNorm, then logits `x @ tokens^T` (no bias). Positions
 * continue from the KV cache, or count real tokens under an attention mask (left padding), as OPT's do.
 */
export class PreLnDecoder extends Module implements CausalLM {
  /** the embeddings, blocks and final norm, registered under `names.root` */
  readonly trunk: PreLnTrunk;
  /** the output projection, tied to the token embedding (registers no parameter) */
  readonly output: OutputProjection;

  /**
   * @param modelName names the model in error messages ('Gpt2', 'Opt')
   * @param sizes the trunk's sizes
   * @param names where each part is registered
   * @param makeBlock builds block `layer`
   */
  constructor(readonly modelName: string, readonly sizes: PreLnDecoderSizes, names: PreLnDecoderNames, makeBlock: (layer: number) => PreLnBlock) {
    super();
    this.trunk = this.module(names.root, new PreLnTrunk(sizes, names, makeBlock));
    this.output = this.module('lm_head', new OutputProjection(sizes.dim, sizes.vocabSize, { tiedTo: this.trunk.tokens }));
  }

  /** the context length */
  get maxSeqLen(): number {
    return this.sizes.maxSeqLen;
  }

  /** D, the width of the token embedding (`dim`) */
  get embedDim(): number {
    return this.sizes.dim;
  }

  /**
   * Logits of the new tokens, given the cached ones (core `CausalLmForwardOptions`).
   * @param input int32 [B, T] ids, or float32 [B, T, dim] input embeddings in their place (the rank decides); the
   *   learned positions are added to either
   * @returns logits float32 [B, T, V] and the final LayerNorm's output float32 [B, T, dim]
   * @throws Error when the input is neither, cached plus new positions exceed maxSeqLen, the attention mask is not
   *   [B, cached + T] or positionIds not [B, T] / [1, T]
   */
  forward(input: Tensor, opts: CausalLmForwardOptions = {}): CausalLmOutput {
    const cache = opts.cache;
    const out = tf.tidy(() => {
      const { x, positions, mask } = decoderStep(this.modelName, input, this.trunk.tokens, opts, this.maxSeqLen);
      let h = x.add(this.trunk.positions.apply(positions));
      this.trunk.blocks.forEach((block, layer) => {
        h = block.apply(h, { mask, cache: cache ? { cache, layer } : undefined });
      });
      const hidden = this.trunk.finalNorm.apply(h);
      return { logits: this.output.apply(hidden), hidden };
    });
    cache?.commit();
    return out;
  }

  /** The token embedding of int32 [B, T] ids: float32 [B, T, dim] (what forward looks ids up in) @throws Error when ids is not [B, T] */
  embedTokens(ids: Tensor): Tensor {
    return embedTokens(this.modelName, this.trunk.tokens, ids);
  }

  /**
   * The causal-LM objective of a batch (`text` ids, shifted `labels`, optional `lossMask`; see {@link clmTrainingLoss}).
   * @returns `{ total, parts: { clm } }`, float32 scalars
   * @throws Error when the batch has no `text`, or as core causalLmLoss for labels / lossMask of another shape
   */
  trainingLoss(batch: Pick<Batch, 'text' | 'labels' | 'lossMask'>): LossOutput {
    return clmTrainingLoss(this, batch, this.modelName);
  }

  /** An empty KV cache for this model (the caller disposes it). */
  newCache(): KVCache {
    return new KVCache(this.sizes.layers);
  }
}
