import { loadStateDict, permuteRopeRows } from '@mmzoo/core';
import type { LoadStateDictResult, RawTensor, RopeLayout } from '@mmzoo/core';
import type { Llama } from './llama';
import { dropTiedCopy } from './checkpoint-tensors';

/** Where a LLaMA state dict comes from: its names, and the RoPE layout its q/k rows are laid out for. */
export type LlamaWeightsFormat = 'llama2c' | 'hf';

const SOURCE_LAYOUT: Record<LlamaWeightsFormat, RopeLayout> = { llama2c: 'interleaved', hf: 'half' };

const HF_LAYER_NAMES: Record<string, string> = {
  'self_attn.q_proj': 'attention.wq',
  'self_attn.k_proj': 'attention.wk',
  'self_attn.v_proj': 'attention.wv',
  'self_attn.o_proj': 'attention.wo',
  'mlp.gate_proj': 'feed_forward.w1',
  'mlp.down_proj': 'feed_forward.w2',
  'mlp.up_proj': 'feed_forward.w3',
  input_layernorm: 'attention_norm',
  post_attention_layernorm: 'ffn_norm',
};

/**
 * The llama2.c name of a Hugging Face LlamaForCausalLM tensor (transformers `convert_llama_weights_to_hf.py`, read
 * backwards): `model.embed_tokens` -> `tok_embeddings`, `model.layers.N.self_attn.q_proj` -> `layers.N.attention.wq`,
 * `mlp.gate_proj / down_proj / up_proj` -> `feed_forward.w1 / w2 / w3`, `input_layernorm` -> `attention_norm`,
 * `post_attention_layernorm` -> `ffn_norm`, `model.norm` -> `norm`, `lm_head` -> `output`. Older checkpoints'
 * `rotary_emb.inv_freq` buffers give null (not weights). Any other name is returned unchanged (so a strict load
 * reports it as unexpected).
 */
export function hfLlamaName(name: string): string | null {
  if (name.endsWith('.rotary_emb.inv_freq')) return null;
  if (name === 'model.embed_tokens.weight') return 'tok_embeddings.weight';
  if (name === 'model.norm.weight') return 'norm.weight';
  if (name === 'lm_head.weight') return 'output.weight';
  const m = /^model\.layers\.(\d+)\.(.+)\.weight$/.exec(name);
  const mapped = m && HF_LAYER_NAMES[m[2]];
  return mapped ? `layers.${m[1]}.${mapped}.weight` : name;
}

/**
 * Loads a llama2.c or Hugging Face state dict into a {@link Llama}, all or nothing (core `loadStateDict`, strict):
 * HF names are mapped to llama2.c's ({@link hfLlamaName}); when the checkpoint's RoPE layout (llama2.c:
 * interleaved, HF: half) differs from the model's `ropeLayout`, the rows of every `wq` / `wk` are permuted per
 * head (core `permuteRopeRows`), so either checkpoint runs under either layout; with tied embeddings an
 * `output.weight` in the checkpoint (llama2.c saves the tied tensor twice) must equal `tok_embeddings.weight` and is
 * not loaded again.
 * @param model the model to fill
 * @param tensors the checkpoint (e.g. core `parseSafetensors` of a model.safetensors)
 * @param format whose names and q/k row order the checkpoint has
 * @returns what core's loadStateDict did (names in llama2.c form)
 * @throws Error for a tied `output.weight` that differs from the embedding, or anything loadStateDict refuses
 *   (missing, unexpected or misshapen tensors); nothing is assigned then
 */
export function loadLlamaWeights(model: Llama, tensors: Map<string, RawTensor>, format: LlamaWeightsFormat): LoadStateDictResult {
  const renamed = new Map<string, RawTensor>();
  for (const [name, raw] of tensors) {
    const to = format === 'hf' ? hfLlamaName(name) : name;
    if (to !== null) renamed.set(to, raw);
  }
  const permute = SOURCE_LAYOUT[format] !== model.opts.ropeLayout;
  const converted = new Map<string, RawTensor>();
  for (const [name, raw] of renamed) {
    const qk = /^layers\.\d+\.attention\.(wq|wk)\.weight$/.exec(name)?.[1];
    const heads = qk === 'wq' ? model.opts.numHeads : model.opts.numKvHeads;
    converted.set(name, permute && qk && raw.shape[0] === heads * model.headDim ? permuteRopeRows(raw, heads, model.opts.ropeLayout) : raw);
  }
  if (model.opts.tiedEmbeddings) {
    dropTiedCopy(converted, 'output.weight', 'tok_embeddings.weight', 'loadLlamaWeights: the model ties output to tok_embeddings', 'set tiedEmbeddings: false');
  }
  return loadStateDict(model.namedParameters(), converted);
}
