import { tf, manualSeed } from '@mmzoo/core';
import type { Module } from '@mmzoo/core';
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

/**
 * Builds a model (seeded), checks every parameter against the first rule whose pattern matches its name (each must
 * match one), disposes it and checks that no tensor is left. Returns how many parameters each rule matched.
 */
function expectInit(build: () => Module, rules: [RegExp, Expected][]): number[] {
  const before = tf.memory().numTensors;
  manualSeed(0);
  const model = build();
  const matched = rules.map(() => 0);
  try {
    for (const [name, v] of model.namedParameters()) {
      const i = rules.findIndex(([re]) => re.test(name));
      expect({ name, rule: i >= 0 }).toEqual({ name, rule: true });
      matched[i]++;
      const values = v.dataSync() as Float32Array;
      const expected = rules[i][1];
      if ('constant' in expected) {
        expect({ name, values: [...new Set(values)] }).toEqual({ name, values: [expected.constant] });
        continue;
      }
      const { mean, std } = moments(values);
      expect({ name, stdRatio: Math.abs(std / expected.std - 1) < 0.06, meanOk: Math.abs(mean) < 5 * expected.std / Math.sqrt(values.length) })
        .toEqual({ name, stdRatio: true, meanOk: true });
    }
  } finally {
    model.dispose();
  }
  expect(tf.memory().numTensors).toBe(before);
  return matched;
}

beforeAll(() => useBackend('cpu'));

const N002 = { std: 0.02 };
const ZERO = { constant: 0 };
const ONE = { constant: 1 };

test("GPT-2's init is nanoGPT's: N(0, 0.02), both c_proj N(0, 0.02 / sqrt(2 layers)), biases 0, LayerNorms 1 / 0", () => {
  const matched = expectInit(() => buildGpt2(Gpt2ConfigSchema.parse({ name: 'gpt2', dim: 64, layers: LAYERS, numHeads: 4, vocabSize: 64, maxSeqLen: 64 })), [
    [/\.c_proj\.weight$/, { std: SCALED }],
    [/\.bias$/, ZERO],
    [/ln_\w+\.weight$/, ONE],
    [/\.weight$/, N002],
  ]);
  // attn.c_proj and mlp.c_proj in each block; biases of c_attn, c_proj, c_fc, c_proj and 3 LayerNorms (2 per block + ln_f)
  expect(matched).toEqual([2 * LAYERS, 6 * LAYERS + 1, 2 * LAYERS + 1, 2 * LAYERS + 2]);
});

test("LLaMA's init is llama2.c's: N(0, 0.02), wo and w3 N(0, 0.02 / sqrt(2 layers)), RMSNorms 1", () => {
  const matched = expectInit(() => buildLlama(LlamaConfigSchema.parse({ name: 'llama', dim: 64, layers: LAYERS, numHeads: 4, vocabSize: 64, hiddenDim: 64, maxSeqLen: 64 })), [
    [/\.(wo|w3)\.weight$/, { std: SCALED }],
    [/norm\.weight$/, ONE],
    [/\.weight$/, N002],
  ]);
  // wo and w3 in each block; attention_norm, ffn_norm and norm; tok_embeddings (output tied) and wq, wk, wv, w1, w2
  expect(matched).toEqual([2 * LAYERS, 2 * LAYERS + 1, 5 * LAYERS + 1]);
});

test("OPT's init is Hugging Face's: every weight N(0, 0.02), biases 0, LayerNorms 1 / 0", () => {
  const matched = expectInit(() => buildOpt(OptConfigSchema.parse({ name: 'opt', dim: 64, layers: LAYERS, numHeads: 4, vocabSize: 64, hiddenDim: 64, maxSeqLen: 62 })), [
    [/\.bias$/, ZERO],
    [/layer_norm\.weight$/, ONE],
    [/\.weight$/, N002],
  ]);
  // biases of q, k, v, out, fc1, fc2 and 2 LayerNorms per block + the final one; the norms; the 6 projections and 2 embeddings
  expect(matched).toEqual([8 * LAYERS + 1, 2 * LAYERS + 1, 6 * LAYERS + 2]);
});
