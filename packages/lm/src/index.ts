/** @mmzoo/lm: decoder-only language models composed from @mmzoo/core (LLaMA; GPT-2 and OPT to come, issue 16). */
export { Llama, LlamaBlock, buildLlama } from './llama';
export type { LlamaOptions } from './llama';
export { LlamaConfigSchema, llamaConfigHiddenDim, llamaConfigFromHf } from './llama-config';
export type { LlamaConfig, LlamaConfigInput } from './llama-config';
export { loadLlamaWeights, hfLlamaName } from './llama-weights';
export type { LlamaWeightsFormat } from './llama-weights';
export { llamaSpec } from './spec';
