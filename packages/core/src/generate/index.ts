/**
 * Autoregressive decoding shared by every generative model (greedy, beam search, sampling): one token search
 * (./search.ts) driven over prefixes (`generate`: CoCa, BLIP) or over a KV-cached causal LM (`generateCausal` from ids, `generateFromEmbeds` from input embeddings). Browser-safe.
 */
export { generate } from './decode';
export { captionGenerateOptions, generateFromImage } from './image-captions';
export type { DecodeStrategy, GenerateOptions, GenerateResult, NextTokenLogits } from './decode';
export { TokenSearch, checkSearchSettings } from './search';
export type { OnToken, SearchResult, SearchRow, SearchSettings, SearchStrategy, SettingNames } from './search';
export { applyRepetitionPenalty, argmax, logSoftmaxRow, nucleus, suppressTokens, topK } from './logits';
export { isCausalLM } from './causal-lm';
export type { CausalLM, CausalLmOutput, CausalLmForwardOptions } from './causal-lm';
export { generateCausal, generateFromEmbeds, greedyGenerate } from './causal-generate';
export type {
  CausalGenerateOptions, CausalGenerateResult, EmbedsContext, EmbedsGenerateOptions, GreedyGenerateOptions, GreedyGenerateResult,
} from './causal-generate';
export { prefixLengthsFromLabels } from './prefix-lm';
