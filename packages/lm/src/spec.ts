import { ModelSpec, evalTask } from '@mmzoo/core';
import { LlamaConfig, LlamaConfigSchema } from './llama-config';
import { Llama, buildLlama } from './llama';

/**
 * LLaMA as the harness and the CLI see it (Touvron et al. 2023): the `model:` schema, the builder (the vocabulary from
 * the run's `text` tokenizer when `vocabSize` is left out), one objective (`clm`, next-token cross-entropy on text),
 * held-out perplexity on the text corpus and, instruction-tuned on dialogues, the `chat` task (each gives no metrics
 * on the other's data), and its weights by component in llama2.c's names. Its one input is `text` (token ids of
 * `tokenizers.text`, contextLength = `maxSeqLen`): a language model trained alone reads the run's text tokenizer;
 * the `lm` key is for a language model inside a multimodal one, beside a `text` tokenizer of its own.
 */
export const llamaSpec: ModelSpec<LlamaConfig, Llama> = {
  name: 'llama',
  describe: 'LLaMA (Touvron et al. 2023): decoder-only LM with RMSNorm, RoPE, SwiGLU and grouped-query attention, causal-LM loss',
  schema: LlamaConfigSchema,
  inputs: (cfg) => ({ text: { contextLength: cfg.maxSeqLen } }),
  build: buildLlama,
  objectives: () => ({ clm: ['texts'] }),
  stagewise: false,
  evalTasks: () => [evalTask('perplexity', {}), evalTask('chat', {})],
  components: () => ({
    embeddings: (n) => n.startsWith('tok_embeddings.'),
    layers: (n) => n.startsWith('layers.'),
    head: (n) => n.startsWith('norm.') || n.startsWith('output.'),
  }),
  presets: ['configs/lm/llama2-7b.yaml', 'configs/lm/tinyllama-1.1b.yaml', 'configs/lm/stories15m.yaml'],
};
