import { loadStateDict } from '@mmzoo/core';
import type { LoadStateDictResult, RawTensor } from '@mmzoo/core';
import type { Gpt2 } from './gpt2';
import { dropTiedCopy, transpose2d } from './checkpoint-tensors';

/** Where a GPT-2 state dict comes from: nanoGPT (`GPT.state_dict()`) or Hugging Face (GPT2LMHeadModel / GPT2Model). */
export type Gpt2WeightsFormat = 'nanogpt' | 'hf';

/** HF GPT-2's Conv1D weights, stored [in, out] (nanoGPT's Linear: [out, in]). */
const CONV1D = /\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight$/;
/** The causal-mask buffers both codebases may save (nanoGPT `attn.bias` without flash attention; HF `attn.bias`, `attn.masked_bias`). */
const MASK_BUFFER = /^(transformer\.)?h\.\d+\.attn\.(bias|masked_bias)$/;

/**
 * Loads a nanoGPT or Hugging Face GPT-2 state dict into a {@link Gpt2}, all or nothing (core `loadStateDict`,
 * strict). Both: the attention mask buffers (`h.N.attn.bias`, `h.N.attn.masked_bias`) are skipped, and a saved
 * `lm_head.weight` must equal `transformer.wte.weight` (tied) and is not loaded again. HF: GPT2Model names (no
 * `transformer.` prefix) get it, and the four Conv1D weights (`attn.c_attn`, `attn.c_proj`, `mlp.c_fc`,
 * `mlp.c_proj`), stored [in, out], are transposed to nanoGPT's [out, in].
 * @param model the model to fill
 * @param tensors the checkpoint (e.g. core `parseSafetensors` of a model.safetensors)
 * @param format whose names and layout the checkpoint has
 * @returns what core's loadStateDict did (names in nanoGPT form)
 * @throws Error for an `lm_head.weight` that differs from the embedding, a Conv1D weight that is not 2-D, or
 *   anything loadStateDict refuses (missing, unexpected or misshapen tensors); nothing is assigned then
 */
export function loadGpt2Weights(model: Gpt2, tensors: Map<string, RawTensor>, format: Gpt2WeightsFormat): LoadStateDictResult {
  const converted = new Map<string, RawTensor>();
  for (const [name, raw] of tensors) {
    if (MASK_BUFFER.test(name)) continue;
    if (format === 'nanogpt') converted.set(name, raw);
    else {
      const to = name.startsWith('transformer.') || name.startsWith('lm_head.') ? name : `transformer.${name}`;
      converted.set(to, CONV1D.test(to) ? transpose2d(raw, `loadGpt2Weights: ${name}`) : raw);
    }
  }
  dropTiedCopy(converted, 'lm_head.weight', 'transformer.wte.weight', 'loadGpt2Weights: GPT-2 ties lm_head to transformer.wte');
  return loadStateDict(model.namedParameters(), converted);
}
