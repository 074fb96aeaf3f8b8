import { tf, Tensor, Module, Linear, LayerNorm, MLP, attendHeads, resolveVocabSize } from '@mmzoo/core';
import type { CausalSelfAttentionInputs } from '@mmzoo/core';
import { PreLnBlock, PreLnDecoder } from './pre-ln-decoder';
import type { BlockAttention } from './pre-ln-decoder';
import type { Gpt2Config } from './gpt2-config';

/**
 * GPT-2's attention with one fused projection (nanoGPT `CausalSelfAttention`): `c_attn` [3 dim, dim] gives
 * [q | k | v] in that order, heads of dim / numHeads, causal softmax attention (core `attendHeads`), then `c_proj`
 * [dim, dim]. Weights in the torch Linear layout [out, in] (HF's Conv1D [in, out] is transposed on load).
 */
export class Gpt2Attention extends Module implements BlockAttention {
  /** fused q/k/v projection [3 dim, dim] with bias */
  readonly cAttn: Linear;
  /** output projection [dim, dim] with bias */
  readonly cProj: Linear;
  /** @param dim model width @param numHeads heads @param projStd N(0, std^2) init of c_proj (nanoGPT 0.02 / sqrt(2 layers)) */
  constructor(readonly dim: number, readonly numHeads: number, projStd: number) {
    super();
    this.cAttn = this.module('c_attn', new Linear(dim, 3 * dim));
    this.cProj = this.module('c_proj', new Linear(dim, dim, { std: projStd }));
  }

  /** @param x float32 [B, T, dim] @param inputs mask and cache of this step @returns float32 [B, T, dim] */
  apply(x: Tensor, inputs: CausalSelfAttentionInputs): Tensor {
    return tf.tidy(() => {
      const [q, k, v] = tf.split(this.cAttn.apply(x), 3, -1);
      return this.cProj.apply(attendHeads(q, k, v, this.numHeads, this.numHeads, inputs));
    });
  }
}

/**
 * GPT-2 (Radford et al. 2019) in nanoGPT's layout and names (`model.py` `GPT`): `transformer.wte` [V, dim],
 * `transformer.wpe` [maxSeqLen, dim], `transformer.h.N` (pre-LN blocks: `ln_1`, `attn.c_attn`, `attn.c_proj`,
 * `ln_2`, `mlp.c_fc`, `mlp.c_proj`), `transformer.ln_f`, and `lm_head` tied to `wte`. Weights from nanoGPT or
 * Hugging Face: see loadGpt2Weights.
 */
export class Gpt2 extends PreLnDecoder {
  /** @param cfg a validated config @param vocabSize its vocabulary size, resolved */
  constructor(readonly config: Gpt2Config, vocabSize: number) {
    const projStd = 0.02 / Math.sqrt(2 * config.layers);
    const hidden = config.hiddenDim ?? 4 * config.dim;
    super(
      'Gpt2',
      { dim: config.dim, layers: config.layers, vocabSize, maxSeqLen: config.maxSeqLen, positionOffset: 0, normEps: config.normEps },
      { root: 'transformer', tokens: 'wte', positions: 'wpe', layers: 'h', finalNorm: 'ln_f' },
      () => new PreLnBlock({
        ln1: ['ln_1', new LayerNorm(config.dim, config.normEps)],
        attn: ['attn', new Gpt2Attention(config.dim, config.numHeads, projStd)],
        ln2: ['ln_2', new LayerNorm(config.dim, config.normEps)],
        mlp: ['mlp', new MLP(config.dim, hidden, config.activation, { projStd })],
      }),
    );
  }
}

/**
 * Builds a GPT-2 from a validated config, initialised as nanoGPT does (N(0, 0.02), both c_proj N(0, 0.02 /
 * sqrt(2 layers)), biases 0, LayerNorms 1 / 0) from core's seeded initialisers.
 * @param parts.vocabSize the tokenizer's vocabulary size, used when the config has none
 * @throws Error when neither the config nor parts give a vocabulary size
 */
export function buildGpt2(cfg: Gpt2Config, parts: { vocabSize?: number } = {}): Gpt2 {
  const vocabSize = resolveVocabSize(cfg.vocabSize, parts, 'model.vocabSize');
  return new Gpt2(cfg, vocabSize);
}
