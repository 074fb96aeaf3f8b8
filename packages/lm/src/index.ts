/** @mmzoo/lm: decoder-only language models composed from @mmzoo/core (LLaMA, GPT-2; OPT to come, issue 16). */
export { Llama, LlamaBlock, buildLlama } from './llama';
export type { LlamaOptions } from './llama';
export { LlamaConfigSchema, llamaConfigHiddenDim, llamaConfigFromHf } from './llama-config';
export type { LlamaConfig, LlamaConfigInput } from './llama-config';
export { loadLlamaWeights, hfLlamaName } from './llama-weights';
export type { LlamaWeightsFormat } from './llama-weights';
export { Gpt2, Gpt2Attention, buildGpt2 } from './gpt2';
export { Gpt2ConfigSchema, gpt2ConfigFromHf } from './gpt2-config';
export type { Gpt2Config, Gpt2ConfigInput } from './gpt2-config';
export { loadGpt2Weights } from './gpt2-weights';
export type { Gpt2WeightsFormat } from './gpt2-weights';
export { PreLnBlock, PreLnDecoder, PreLnTrunk } from './pre-ln-decoder';
export type { BlockAttention, PreLnBlockParts, PreLnDecoderNames, PreLnDecoderSizes } from './pre-ln-decoder';
export { decoderStep } from './decoder-step';
export type { DecoderStep } from './decoder-step';
