import { tf, manualSeed } from '@mmzoo/core';
import { buildGpt2, buildLlama, buildOpt, Gpt2ConfigSchema, LlamaConfigSchema, OptConfigSchema } from '@mmzoo/lm';
import { useBackend } from '../helpers/fixtures';

// The decoders start from their references' initialisations (what `mmzoo train` trains from):
// - nanoGPT model.py `GPT._init_weights` and the loop after it: every Linear and Embedding N(0, 0.02), biases 0, and
//   every `c_proj.weight` (attention and MLP) N(0, 0.02 / sqrt(2 n_layer)); LayerNorms 1 / 0 (torch's default).
// - llama2.c model.py `Transformer.__init__`: the same, the scaled ones being `w3.weight` and `wo.weight`; RMSNorms 1.
// - HF OPT `OPTPreTrainedModel._init_weights`: every weight N(0, init_std = 0.02), biases 0, LayerNorms 1 / 0.
// Each tensor's mean and standard deviation are computed here from its values and compared with the reference's:
// at 4096 draws the sample std is within 1.1% (one sigma) of the true one, so 6% tells 0.02 from 0.01 and 0.02 / sqrt(2).
const LAYERS = 2;
const SCALED = 0.02 / Math.sqrt(2 * LAYERS);

/** The expected init of a parameter: N(0, std^2), or a constant. */
type Expected = { std: number } | { constant: number };

/** Mean and standard deviation of a list of numbers (population std). */
function moments(values: Float32Array): { mean: number; std: number } {
  let sum = 0;
  for (const v of values) sum += v;
  const mean = sum / values.length;
  let sq = 0;
  for (const v of values) sq += (v - mean) ** 2;
  return { mean, std: Math.sqrt(sq / values.length) };
}

/** Checks every parameter against the first rule whose pattern matches its name; each parameter must match one. */
function expectInit(params: Map<string, tf.Variable>, rules: [RegExp, Expected][]): void {
  for (const [name, v] of params) {
    const rule = rules.find(([re]) => re.test(name));
    expect({ name, rule: rule !== undefined }).toEqual({ name, rule: true });
    const values = v.dataSync() as Float32Array;
    const expected = rule![1];
    if ('constant' in expected) {
      expect({ name, values: [...new Set(values)] }).toEqual({ name, values: [expected.constant] });
      continue;
    }
    const { mean, std } = moments(values);
    expect({ name, stdRatio: Math.abs(std / expected.std - 1) < 0.06, meanOk: Math.abs(mean) < 5 * expected.std / Math.sqrt(values.length) })
      .toEqual({ name, stdRatio: true, meanOk: true });
  }
}

beforeAll(() => useBackend('cpu'));

const N002 = { std: 0.02 };
const ZERO = { constant: 0 };
const ONE = { constant: 1 };

test("GPT-2's init is nanoGPT's: N(0, 0.02), both c_proj N(0, 0.02 / sqrt(2 layers)), biases 0, LayerNorms 1 / 0", () => {
  const before = tf.memory().numTensors;
  manualSeed(0);
  const model = buildGpt2(Gpt2ConfigSchema.parse({ name: 'gpt2', dim: 64, layers: LAYERS, numHeads: 4, vocabSize: 64, maxSeqLen: 64 }));
  expectInit(model.namedParameters(), [
    [/\.c_proj\.weight$/, { std: SCALED }],
    [/\.bias$/, ZERO],
    [/ln_\w+\.weight$/, ONE],
    [/\.weight$/, N002],
  ]);
  expect(model.namedParameters().has('transformer.h.1.mlp.c_proj.weight')).toBe(true);
  model.dispose();
  expect(tf.memory().numTensors).toBe(before);
});

test("LLaMA's init is llama2.c's: N(0, 0.02), wo and w3 N(0, 0.02 / sqrt(2 layers)), RMSNorms 1", () => {
  const before = tf.memory().numTensors;
  manualSeed(0);
  const model = buildLlama(LlamaConfigSchema.parse({ name: 'llama', dim: 64, layers: LAYERS, numHeads: 4, vocabSize: 64, hiddenDim: 64, maxSeqLen: 64 }));
  const names = [...model.namedParameters().keys()];
  expect(names.filter((n) => /(wo|w3)\.weight$/.test(n)).length).toBe(2 * LAYERS);
  expectInit(model.namedParameters(), [
    [/\.(wo|w3)\.weight$/, { std: SCALED }],
    [/norm\.weight$/, ONE],
    [/\.weight$/, N002],
  ]);
  model.dispose();
  expect(tf.memory().numTensors).toBe(before);
});

test("OPT's init is Hugging Face's: every weight N(0, 0.02), biases 0, LayerNorms 1 / 0", () => {
  const before = tf.memory().numTensors;
  manualSeed(0);
  const model = buildOpt(OptConfigSchema.parse({ name: 'opt', dim: 64, layers: LAYERS, numHeads: 4, vocabSize: 64, hiddenDim: 64, maxSeqLen: 62 }));
  expectInit(model.namedParameters(), [
    [/\.bias$/, ZERO],
    [/layer_norm\.weight$/, ONE],
    [/\.weight$/, N002],
  ]);
  model.dispose();
  expect(tf.memory().numTensors).toBe(before);
});
