import { ModelSpec, evalTask } from '@mmzoo/core';
import type { BuildParts } from '@mmzoo/core';
import type { z } from 'zod';
import { LlamaConfig, LlamaConfigSchema } from './llama-config';
import { Llama, buildLlama } from './llama';
import { Gpt2Config, Gpt2ConfigSchema } from './gpt2-config';
import { Gpt2, buildGpt2 } from './gpt2';
import { OptConfig, OptConfigSchema } from './opt-config';
import { Opt, buildOpt } from './opt';
import type { PreLnDecoder } from './pre-ln-decoder';

/** What tells one decoder-LM spec from another (the rest is {@link decoderLmSpec}'s). */
interface DecoderLmSpecParts<C extends { maxSeqLen: number }, M extends Llama | PreLnDecoder> {
  name: string;
  describe: string;
  schema: z.ZodType<C>;
  build: (cfg: C, parts: BuildParts) => M;
  /** the parameter-name prefixes of each component: `embeddings`, `layers` (the blocks) and `head` (final norm, output) */
  prefixes: { embeddings: string[]; layers: string[]; head: string[] };
  presets: string[];
}

/**
 * A decoder-only LM as the harness and the CLI see it: its one input is `text` (token ids of `tokenizers.text`,
 * contextLength = `maxSeqLen`; a language model trained alone reads the run's text tokenizer, the `lm` key being for
 * a language model inside a multimodal one, beside a `text` tokenizer of its own), one objective (`clm`, next-token
 * cross-entropy on texts: `trainingLoss` of the model), held-out perplexity on the text corpus and, instruction-tuned
 * on dialogues, the `chat` task (each gives no metrics on the other's data), and three components named by prefixes.
 * The builder takes the vocabulary from the run's `text` tokenizer when the config leaves `vocabSize` out.
 */
function decoderLmSpec<C extends { maxSeqLen: number }, M extends Llama | PreLnDecoder>(parts: DecoderLmSpecParts<C, M>): ModelSpec<C, M> {
  const under = (prefixes: string[]) => (n: string) => prefixes.some((p) => n.startsWith(p));
  return {
    name: parts.name,
    describe: parts.describe,
    schema: parts.schema,
    inputs: (cfg) => ({ text: { contextLength: cfg.maxSeqLen } }),
    build: parts.build,
    objectives: () => ({ clm: ['texts'] }),
    stagewise: false,
    evalTasks: () => [evalTask('perplexity', {}), evalTask('chat', {})],
    components: () => ({
      embeddings: under(parts.prefixes.embeddings),
      layers: under(parts.prefixes.layers),
      head: under(parts.prefixes.head),
    }),
    presets: parts.presets,
  };
}

/** LLaMA (Touvron et al. 2023) as a spec ({@link decoderLmSpec}), its weights by component in llama2.c's names. */
export const llamaSpec: ModelSpec<LlamaConfig, Llama> = decoderLmSpec({
  name: 'llama',
  describe: 'LLaMA (Touvron et al. 2023): decoder-only LM with RMSNorm, RoPE, SwiGLU and grouped-query attention, causal-LM loss',
  schema: LlamaConfigSchema,
  build: buildLlama,
  prefixes: { embeddings: ['tok_embeddings.'], layers: ['layers.'], head: ['norm.', 'output.'] },
  presets: ['configs/lm/llama2-7b.yaml', 'configs/lm/tinyllama-1.1b.yaml', 'configs/lm/stories15m.yaml'],
});

/**
 * GPT-2 (Radford et al. 2019) as a spec ({@link decoderLmSpec}), its weights by component in nanoGPT's names (the
 * tied `lm_head` has no parameter of its own: `head` is the final LayerNorm).
 */
export const gpt2Spec: ModelSpec<Gpt2Config, Gpt2> = decoderLmSpec({
  name: 'gpt2',
  describe: 'GPT-2 (Radford et al. 2019): pre-LN decoder-only LM with learned positions and a tied output, causal-LM loss',
  schema: Gpt2ConfigSchema,
  build: buildGpt2,
  prefixes: { embeddings: ['transformer.wte.', 'transformer.wpe.'], layers: ['transformer.h.'], head: ['transformer.ln_f.'] },
  presets: ['configs/lm/gpt2-124m.yaml'],
});

/**
 * OPT (Zhang et al. 2022) as a spec ({@link decoderLmSpec}), its weights by component in Hugging Face's names (the
 * tied `lm_head` has no parameter of its own: `head` is the final LayerNorm).
 */
export const optSpec: ModelSpec<OptConfig, Opt> = decoderLmSpec({
  name: 'opt',
  describe: 'OPT (Zhang et al. 2022): pre-LN decoder-only LM with offset learned positions, ReLU MLP and a tied output, causal-LM loss',
  schema: OptConfigSchema,
  build: buildOpt,
  prefixes: { embeddings: ['decoder.embed_tokens.', 'decoder.embed_positions.'], layers: ['decoder.layers.'], head: ['decoder.final_layer_norm.'] },
  presets: ['configs/lm/opt-125m.yaml'],
});
