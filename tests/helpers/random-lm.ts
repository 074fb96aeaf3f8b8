import { tf, manualSeed } from '@mmzoo/core';
import { LmConfigSchema, buildLm } from '@mmzoo/lm';
import type { LmModel } from '@mmzoo/lm';

/** Tiny LLaMA, GPT-2 and OPT configs of one width (32), for tests that run all three decoders. */
export const TINY_LMS = {
  Llama: { name: 'llama', dim: 32, layers: 2, numHeads: 4, numKvHeads: 2, vocabSize: 40, multipleOf: 16, maxSeqLen: 16, ropeLayout: 'half' },
  Gpt2: { name: 'gpt2', dim: 32, layers: 2, numHeads: 4, vocabSize: 40, maxSeqLen: 16 },
  Opt: { name: 'opt', dim: 32, layers: 2, numHeads: 4, vocabSize: 40, hiddenDim: 48, maxSeqLen: 16 },
} as const;

/** A decoder of `config` with every parameter redrawn N(0, std^2) from fixed seeds, so that positions and masks change the logits visibly. */
export function randomLm(config: Record<string, unknown>, std = 0.3): LmModel {
  manualSeed(3);
  const model = buildLm(LmConfigSchema.parse(config));
  let seed = 1;
  for (const p of model.namedParameters().values()) p.assign(tf.randomNormal(p.shape, 0, std, 'float32', seed++));
  return model;
}
