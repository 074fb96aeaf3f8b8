import { z } from 'zod';
import { hfConfigReader } from './hf-config-reader';

/**
 * An OPT decoder's configuration (Zhang et al. 2022, "OPT", section 2.1 and Table 1; Hugging Face `OPTConfig`), for
 * the pre-LN models (`do_layer_norm_before`: every size but 350M): learned positions with offset 2, ReLU MLP,
 * biases everywhere, output tied to the token embedding. Keys are strict.
 */
export const OptConfigSchema = z
  .object({
    name: z.literal('opt'),
    /** model width (`hidden_size`) */
    dim: z.number().int().positive(),
    /** decoder blocks (`num_hidden_layers`) */
    layers: z.number().int().positive(),
    /** attention heads (`num_attention_heads`) */
    numHeads: z.number().int().positive(),
    /** vocabulary size (OPT: 50272); when omitted, the tokenizer's */
    vocabSize: z.number().int().positive().optional(),
    /** MLP width (`ffn_dim`; OPT: 4 dim) */
    hiddenDim: z.number().int().positive(),
    /** context length (`max_position_embeddings`; OPT: 2048, a table of 2050 rows with the offset) */
    maxSeqLen: z.number().int().positive(),
    /** LayerNorm epsilon (torch default 1e-5) */
    normEps: z.number().positive().default(1e-5),
  })
  .strict()
  .refine((c) => c.dim % c.numHeads === 0, { message: 'dim must be divisible by numHeads', path: ['numHeads'] });

/** A validated OPT config. */
export type OptConfig = z.infer<typeof OptConfigSchema>;
/** An OPT config before defaults are applied. */
export type OptConfigInput = z.input<typeof OptConfigSchema>;

/**
 * An OPT config from a Hugging Face `config.json` (OPTForCausalLM; HF `configuration_opt.py`): `hidden_size`,
 * `num_hidden_layers`, `num_attention_heads`, `ffn_dim`, `vocab_size`, `max_position_embeddings`.
 * @param json the parsed config.json
 * @param where names the file in error messages
 * @throws Error (one line, naming the file and key) for another model type; `word_embed_proj_dim` other than
 *   `hidden_size` (OPT-350M's `project_in` / `project_out`, not supported); `do_layer_norm_before` false (post-LN);
 *   an activation other than relu; `enable_bias` / `layer_norm_elementwise_affine` false;
 *   `_remove_final_layer_norm`; untied embeddings; a missing size
 */
export function optConfigFromHf(json: Record<string, unknown>, where = 'config.json'): OptConfig {
  const { fail, int, parse } = hfConfigReader(json, where);
  if (json.model_type !== 'opt') fail(`model_type ${JSON.stringify(json.model_type)} is not 'opt'`);
  const dim = int('hidden_size');
  if (json.word_embed_proj_dim !== undefined && json.word_embed_proj_dim !== dim) {
    fail(`word_embed_proj_dim ${JSON.stringify(json.word_embed_proj_dim)} differs from hidden_size ${dim} (project_in / project_out are not supported)`);
  }
  if (json.do_layer_norm_before === false) fail('do_layer_norm_before false (post-LN, OPT-350M) is not supported');
  const act = json.activation_function ?? 'relu';
  if (act !== 'relu') fail(`activation_function ${JSON.stringify(act)} is not supported (OPT uses 'relu')`);
  if (json.enable_bias === false || json.layer_norm_elementwise_affine === false) fail('enable_bias false / layer_norm_elementwise_affine false are not supported');
  if (json._remove_final_layer_norm === true) fail('_remove_final_layer_norm is not supported');
  if (json.tie_word_embeddings === false) fail('tie_word_embeddings false is not supported (OPT ties lm_head to embed_tokens)');
  return parse(OptConfigSchema, {
    name: 'opt',
    dim,
    layers: int('num_hidden_layers'),
    numHeads: int('num_attention_heads'),
    vocabSize: int('vocab_size'),
    hiddenDim: int('ffn_dim'),
    maxSeqLen: int('max_position_embeddings'),
  });
}
