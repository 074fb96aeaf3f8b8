import { z } from 'zod';
import { llamaHiddenDim } from '@mmzoo/core';
import { hfConfigReader } from './hf-config-reader';

/**
 * A LLaMA decoder's configuration, in llama2.c's `ModelArgs` terms (Touvron et al. 2023, "LLaMA", section 2;
 * "Llama 2", section 2.2 for grouped-query attention). Defaults live only here; keys are strict.
 */
export const LlamaConfigSchema = z
  .object({
    name: z.literal('llama'),
    /** model width (llama2.c `dim`, HF `hidden_size`) */
    dim: z.number().int().positive(),
    /** decoder blocks (`n_layers`) */
    layers: z.number().int().positive(),
    /** query heads (`n_heads`) */
    numHeads: z.number().int().positive(),
    /** key/value heads (`n_kv_heads`; default numHeads: no grouping) */
    numKvHeads: z.number().int().positive().optional(),
    /** vocabulary size; when omitted, the tokenizer's */
    vocabSize: z.number().int().positive().optional(),
    /** SwiGLU width; when omitted, LLaMA's rule from dim, multipleOf and ffnDimMultiplier (core `llamaHiddenDim`) */
    hiddenDim: z.number().int().positive().optional(),
    /** the SwiGLU width is rounded up to a multiple of this (llama2.c default 256) */
    multipleOf: z.number().int().positive().default(256),
    /** scales the 2/3 * 4 dim width before rounding (LLaMA-2 70B: 1.3); none: 1 */
    ffnDimMultiplier: z.number().positive().optional(),
    /** RMSNorm epsilon (llama2.c and LLaMA-2 1e-5; many HF configs 1e-6) */
    normEps: z.number().positive().default(1e-5),
    /** RoPE base (LLaMA-1/2: 10000) */
    ropeTheta: z.number().positive().default(10000),
    /**
     * RoPE dim pairing: 'interleaved' for Meta / llama2.c weights, 'half' for Hugging Face weights (whose q/k rows
     * are permuted for it); loading converts between them (see loadLlamaWeights)
     */
    ropeLayout: z.enum(['interleaved', 'half']).default('interleaved'),
    /**
     * GLM's 2D RoPE (Du et al. 2022, section 2.2; ChatGLM-6B's `position_encoding_2d`), VisualGLM's stand-in for
     * ChatGLM-6B: each head's halves are rotated separately (in ropeLayout), the first by the position, the second
     * by the block position (see Llama); none (no default, so existing configs hash as before): plain RoPE
     */
    rope2d: z.boolean().optional(),
    /** context length (`max_seq_len`, HF `max_position_embeddings`) */
    maxSeqLen: z.number().int().positive(),
    /** whether the output projection reuses the token embedding (llama2.c: yes; LLaMA-2: no) */
    tiedEmbeddings: z.boolean().default(true),
  })
  .strict()
  .refine((c) => c.dim % c.numHeads === 0, { message: 'dim must be divisible by numHeads', path: ['numHeads'] })
  .refine((c) => (c.dim / c.numHeads) % 2 === 0, { message: 'the head dim (dim / numHeads) must be even for RoPE', path: ['numHeads'] })
  .refine((c) => !c.rope2d || (c.dim / c.numHeads) % 4 === 0, { message: 'the head dim (dim / numHeads) must be divisible by 4 for 2D RoPE', path: ['rope2d'] })
  .refine((c) => c.numHeads % (c.numKvHeads ?? c.numHeads) === 0, { message: 'numHeads must be divisible by numKvHeads', path: ['numKvHeads'] });

/** A validated LLaMA config. */
export type LlamaConfig = z.infer<typeof LlamaConfigSchema>;
/** A LLaMA config before defaults are applied. */
export type LlamaConfigInput = z.input<typeof LlamaConfigSchema>;

/** The SwiGLU width of a config: `hiddenDim`, or LLaMA's rule. */
export function llamaConfigHiddenDim(cfg: LlamaConfig): number {
  return cfg.hiddenDim ?? llamaHiddenDim(cfg.dim, cfg.multipleOf, cfg.ffnDimMultiplier);
}

/**
 * A LLaMA config from a Hugging Face `config.json` (LlamaForCausalLM), with `ropeLayout: 'half'` since HF weights
 * hold permuted q/k rows.
 * @param json the parsed config.json
 * @param where names the file in error messages
 * @throws Error (one line, naming the file and key) for another model type or architecture, an activation other
 *   than silu, rope_scaling, attention biases, a head_dim other than hidden_size / num_attention_heads, or a missing size
 */
export function llamaConfigFromHf(json: Record<string, unknown>, where = 'config.json'): LlamaConfig {
  const { fail, int, parse } = hfConfigReader(json, where);
  if (json.model_type !== 'llama') fail(`model_type ${JSON.stringify(json.model_type)} is not 'llama'`);
  const act = json.hidden_act ?? 'silu';
  if (act !== 'silu') fail(`hidden_act ${JSON.stringify(act)} is not supported (LLaMA uses 'silu')`);
  if (json.rope_scaling !== undefined && json.rope_scaling !== null) fail('rope_scaling is not supported');
  if (json.attention_bias === true || json.mlp_bias === true) fail('attention_bias / mlp_bias are not supported');
  const dim = int('hidden_size');
  const numHeads = int('num_attention_heads');
  if (json.head_dim !== undefined && json.head_dim !== dim / numHeads) fail(`head_dim ${JSON.stringify(json.head_dim)} is not hidden_size / num_attention_heads = ${dim / numHeads}`);
  return parse(LlamaConfigSchema, {
    name: 'llama',
    dim,
    layers: int('num_hidden_layers'),
    numHeads,
    numKvHeads: json.num_key_value_heads === undefined ? undefined : int('num_key_value_heads'),
    vocabSize: int('vocab_size'),
    hiddenDim: int('intermediate_size'),
    normEps: json.rms_norm_eps ?? 1e-6,
    ropeTheta: json.rope_theta ?? 10000,
    ropeLayout: 'half',
    maxSeqLen: int('max_position_embeddings'),
    tiedEmbeddings: json.tie_word_embeddings ?? false,
  });
}
