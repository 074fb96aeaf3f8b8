import { loadStateDict, CausalSelfAttention, LayerNorm, MLP, resolveVocabSize } from '@mmzoo/core';
import type { LoadStateDictResult, RawTensor } from '@mmzoo/core';
import { PreLnBlock, PreLnDecoder } from './pre-ln-decoder';
import type { OptConfig } from './opt-config';
import { dropTiedCopy } from './checkpoint-tensors';

/** Rows of OPT's position table before position 0 (fairseq's padding offset; HF `OPTLearnedPositionalEmbedding.offset`). */
export const OPT_POSITION_OFFSET = 2;

/**
 * OPT (Zhang et al. 2022), pre-LN, in Hugging Face's names (`modeling_opt.py` OPTDecoder, without the `model.`
 * of OPTForCausalLM): `decoder.embed_tokens` [V, dim], `decoder.embed_positions` [maxSeqLen + 2, dim] read at
 * position + 2, `decoder.layers.N` (`self_attn_layer_norm`, `self_attn.q_proj / k_proj / v_proj / out_proj`,
 * `final_layer_norm`, `fc1`, `fc2` with ReLU), `decoder.final_layer_norm`, and `lm_head` tied to `embed_tokens`.
 * Attention scales q by head_dim^-0.5 after its bias, which is what core's attention computes.
 */
export class Opt extends PreLnDecoder {
  /** @param config a validated config @param vocabSize its vocabulary size, resolved */
  constructor(readonly config: OptConfig, vocabSize: number) {
    super(
      'Opt',
      { dim: config.dim, layers: config.layers, vocabSize, maxSeqLen: config.maxSeqLen, positionOffset: OPT_POSITION_OFFSET, normEps: config.normEps },
      { root: 'decoder', tokens: 'embed_tokens', positions: 'embed_positions', layers: 'layers', finalNorm: 'final_layer_norm' },
      () => new PreLnBlock({
        ln1: ['self_attn_layer_norm', new LayerNorm(config.dim, config.normEps)],
        attn: ['self_attn', new CausalSelfAttention({ width: config.dim, numHeads: config.numHeads, bias: true, names: { q: 'q_proj', k: 'k_proj', v: 'v_proj', out: 'out_proj' } })],
        ln2: ['final_layer_norm', new LayerNorm(config.dim, config.normEps)],
        mlp: ['', new MLP(config.dim, config.hiddenDim, 'relu', { names: { fc: 'fc1', proj: 'fc2' } })],
      }),
    );
  }
}

/**
 * Builds an OPT from a validated config, initialised as HF OPT does (every weight N(0, 0.02), biases 0,
 * LayerNorms 1 / 0) from core's seeded initialisers.
 * @param parts.vocabSize the tokenizer's vocabulary size, used when the config has none
 * @throws Error when neither the config nor parts give a vocabulary size
 */
export function buildOpt(cfg: OptConfig, parts: { vocabSize?: number } = {}): Opt {
  return new Opt(cfg, resolveVocabSize(cfg.vocabSize, parts, 'model.vocabSize'));
}

/**
 * Loads a Hugging Face OPT state dict (OPTForCausalLM, `model.decoder...`, or OPTModel, `decoder...`) into an
 * {@link Opt}, all or nothing (core `loadStateDict`, strict): the `model.` prefix is dropped, and a saved
 * `lm_head.weight` must equal `decoder.embed_tokens.weight` (tied) and is not loaded again.
 * @param model the model to fill
 * @param tensors the checkpoint (e.g. core `parseSafetensors` of a model.safetensors)
 * @returns what core's loadStateDict did (names in OPTModel form)
 * @throws Error for an `lm_head.weight` that differs from the embedding, or anything loadStateDict refuses
 *   (missing, unexpected or misshapen tensors); nothing is assigned then
 */
export function loadOptWeights(model: Opt, tensors: Map<string, RawTensor>): LoadStateDictResult {
  const renamed = new Map<string, RawTensor>();
  for (const [name, raw] of tensors) renamed.set(name.replace(/^model\./, ''), raw);
  dropTiedCopy(renamed, 'lm_head.weight', 'decoder.embed_tokens.weight', 'loadOptWeights: OPT ties lm_head to decoder.embed_tokens');
  return loadStateDict(model.namedParameters(), renamed);
}
