import { z } from 'zod';
import { hfConfigReader } from './hf-config-reader';

/**
 * A GPT-2 decoder's configuration, in nanoGPT's `GPTConfig` terms (Radford et al. 2019, section 2.3; Hugging Face
 * `GPT2Config`). The output is always tied to the token embedding; biases are always on. Keys are strict.
 */
export const Gpt2ConfigSchema = z
  .object({
    name: z.literal('gpt2'),
    /** model width (`n_embd`) */
    dim: z.number().int().positive(),
    /** decoder blocks (`n_layer`) */
    layers: z.number().int().positive(),
    /** attention heads (`n_head`) */
    numHeads: z.number().int().positive(),
    /** vocabulary size (GPT-2: 50257); when omitted, the tokenizer's */
    vocabSize: z.number().int().positive().optional(),
    /** MLP width (HF `n_inner`; default 4 dim) */
    hiddenDim: z.number().int().positive().optional(),
    /** context length = learned positions (`block_size`, HF `n_positions`; GPT-2: 1024) */
    maxSeqLen: z.number().int().positive(),
    /** 'gelu': exact erf GELU (nanoGPT nn.GELU); 'gelu_tanh': the tanh GELU of OpenAI's GPT-2 and HF `gelu_new` */
    activation: z.enum(['gelu', 'gelu_tanh']).default('gelu'),
    /** LayerNorm epsilon (GPT-2 1e-5) */
    normEps: z.number().positive().default(1e-5),
  })
  .strict()
  .refine((c) => c.dim % c.numHeads === 0, { message: 'dim must be divisible by numHeads', path: ['numHeads'] });

/** A validated GPT-2 config. */
export type Gpt2Config = z.infer<typeof Gpt2ConfigSchema>;
/** A GPT-2 config before defaults are applied. */
export type Gpt2ConfigInput = z.input<typeof Gpt2ConfigSchema>;

/** HF `activation_function` values and the activation they name. */
const HF_ACTIVATIONS: Record<string, Gpt2Config['activation']> = { gelu_new: 'gelu_tanh', gelu_pytorch_tanh: 'gelu_tanh', gelu: 'gelu' };

/**
 * A GPT-2 config from a Hugging Face `config.json` (GPT2LMHeadModel; HF `configuration_gpt2.py`): `n_embd`,
 * `n_layer`, `n_head`, `vocab_size`, `n_positions`, `n_inner` (null: 4 n_embd), `layer_norm_epsilon`, and
 * `activation_function` ('gelu_new' / 'gelu_pytorch_tanh' -> 'gelu_tanh', 'gelu' -> 'gelu').
 * @param json the parsed config.json
 * @param where names the file in error messages
 * @throws Error (one line, naming the file and key) for another model type, another activation, untied
 *   embeddings, unscaled or layer-scaled attention (`scale_attn_weights` false, `scale_attn_by_inverse_layer_idx`),
 *   or a missing size
 */
export function gpt2ConfigFromHf(json: Record<string, unknown>, where = 'config.json'): Gpt2Config {
  const { fail, int, parse } = hfConfigReader(json, where);
  if (json.model_type !== 'gpt2') fail(`model_type ${JSON.stringify(json.model_type)} is not 'gpt2'`);
  const act = json.activation_function ?? 'gelu_new';
  const activation = HF_ACTIVATIONS[String(act)] ?? fail(`activation_function ${JSON.stringify(act)} is not supported (${Object.keys(HF_ACTIVATIONS).join(', ')})`);
  if (json.tie_word_embeddings === false) fail('tie_word_embeddings false is not supported (GPT-2 ties lm_head to wte)');
  if (json.scale_attn_weights === false || json.scale_attn_by_inverse_layer_idx === true) fail('scale_attn_weights false / scale_attn_by_inverse_layer_idx are not supported');
  return parse(Gpt2ConfigSchema, {
    name: 'gpt2',
    dim: int('n_embd'),
    layers: int('n_layer'),
    numHeads: int('n_head'),
    vocabSize: int('vocab_size'),
    hiddenDim: json.n_inner === undefined || json.n_inner === null ? undefined : int('n_inner'),
    maxSeqLen: int('n_positions'),
    activation,
    normEps: json.layer_norm_epsilon ?? 1e-5,
  });
}
