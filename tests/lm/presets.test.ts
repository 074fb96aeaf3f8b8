import * as fs from 'fs';
import * as path from 'path';
import { parse } from 'yaml';
import { tf, manualSeed } from '@mmzoo/core';
import { LmConfigSchema, countLmParameters, buildLm } from '@mmzoo/lm';

// The published sizes of configs/lm/*.yaml, counted by @mmzoo/lm's shape-only build (`countLmParameters`; `mmzoo
// info --all` counts them through the specs, tests/cli/cli.test.ts). The expected counts are the ones published with
// each checkpoint, written here as well as in each file's reference section, so a preset edited together with its
// reference still fails.
const DIR = path.join(__dirname, '..', '..', 'configs', 'lm');
const PUBLISHED: Record<string, number> = {
  'gpt2-124m.yaml': 124_439_808,
  'opt-125m.yaml': 125_239_296,
  'llama2-7b.yaml': 6_738_415_616,
  'tinyllama-1.1b.yaml': 1_100_048_384,
  'stories15m.yaml': 15_191_712,
};

const read = (file: string) => parse(fs.readFileSync(path.join(DIR, file), 'utf8')) as { model: unknown; reference: { params: number } };

test('configs/lm holds the five presets (and runnable configs with a train: section)', () => {
  const presets = fs.readdirSync(DIR).filter((f) => !/^train:/m.test(fs.readFileSync(path.join(DIR, f), 'utf8')));
  expect(presets.sort()).toEqual(Object.keys(PUBLISHED).sort());
});

test.each(Object.entries(PUBLISHED))('%s counts %d parameters, its reference.params, without allocating', (file, published) => {
  const preset = read(file);
  expect(preset.reference.params).toBe(published);
  const before = tf.memory().numTensors;
  expect(countLmParameters(LmConfigSchema.parse(preset.model))).toBe(published);
  expect(tf.memory().numTensors).toBe(before);
});

test('buildLm builds the model a config names; a tiny GPT-2 counts as its parts add up', () => {
  manualSeed(0);
  const cfg = LmConfigSchema.parse({ name: 'gpt2', dim: 8, layers: 1, numHeads: 2, vocabSize: 10, maxSeqLen: 4 });
  const model = buildLm(cfg);
  // wte 10x8, wpe 4x8, ln_1/ln_2/ln_f 3 x 16, c_attn 8x24+24, c_proj 8x8+8, c_fc 8x32+32, mlp.c_proj 32x8+8
  expect(model.numParams()).toBe(80 + 32 + 48 + 216 + 72 + 288 + 264);
  expect(countLmParameters(cfg)).toBe(model.numParams());
  model.dispose();
  expect(() => countLmParameters(LmConfigSchema.parse({ name: 'opt', dim: 8, layers: 1, numHeads: 2, hiddenDim: 16, maxSeqLen: 4 }))).toThrow('model.vocabSize is not set and no tokenizer gives it');
  expect(LmConfigSchema.safeParse({ name: 'bloom', dim: 8 }).success).toBe(false);
});
