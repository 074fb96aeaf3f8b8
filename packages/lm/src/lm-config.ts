import { z } from 'zod';
import { withShapesOnly } from '@mmzoo/core';
import type { CausalLM, Module } from '@mmzoo/core';
import { LlamaConfigSchema } from './llama-config';
import type { LlamaConfig } from './llama-config';
import { Gpt2ConfigSchema } from './gpt2-config';
import type { Gpt2Config } from './gpt2-config';
import { OptConfigSchema } from './opt-config';
import type { OptConfig } from './opt-config';
import { buildLlama } from './llama';
import { buildGpt2 } from './gpt2';
import { buildOpt } from './opt';

/** Any decoder LM config of this package, told apart by `name` ('llama', 'gpt2', 'opt'). */
export const LmConfigSchema = z.union([LlamaConfigSchema, Gpt2ConfigSchema, OptConfigSchema]);
/** A validated LLaMA, GPT-2 or OPT config. */
export type LmConfig = LlamaConfig | Gpt2Config | OptConfig;

/** A built decoder LM: a module the generation loop can drive. */
export type LmModel = Module & CausalLM;

/**
 * Builds the model a config names (buildLlama, buildGpt2 or buildOpt), freshly initialised.
 * @param parts.vocabSize the tokenizer's vocabulary size, used when the config has none
 * @throws Error when neither the config nor parts give a vocabulary size
 */
export function buildLm(cfg: LmConfig, parts: { vocabSize?: number } = {}): LmModel {
  switch (cfg.name) {
    case 'llama': return buildLlama(cfg, parts);
    case 'gpt2': return buildGpt2(cfg, parts);
    case 'opt': return buildOpt(cfg, parts);
  }
}

/**
 * The parameter count of a config's model, from a shape-only build (core `withShapesOnly`: nothing allocated, so a
 * 7B config counts in milliseconds). Tied output matrices count once.
 * @param cfg a validated config, with its vocabSize set
 * @throws Error when the config has no vocabSize
 */
export function countLmParameters(cfg: LmConfig): number {
  return withShapesOnly(() => buildLm(cfg).numParams());
}
