/** Autoregressive decoding shared by every generative model (greedy, beam search, nucleus sampling). Browser-safe. */
export { generate } from './decode';
export type { DecodeStrategy, GenerateOptions, GenerateResult, NextTokenLogits } from './decode';
export { applyRepetitionPenalty, argmax, logSoftmaxRow, nucleus, suppressTokens } from './logits';
export { greedyGenerate, isCausalLM } from './causal-lm';
export type { CausalLM, CausalLmOutput, CausalLmForwardOptions, GreedyGenerateOptions, GreedyGenerateResult } from './causal-lm';
