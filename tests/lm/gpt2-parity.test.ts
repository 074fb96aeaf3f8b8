import * as fs from 'fs';
import * as path from 'path';
import { tf, causalLmLoss, manualSeed, parseSafetensors, RawTensor } from '@mmzoo/core';
import { Gpt2, Gpt2ConfigSchema, buildGpt2, gpt2ConfigFromHf, loadGpt2Weights } from '@mmzoo/lm';
import { expectGoldenGeneration, expectGoldenGrads, expectNoForwardLeak, perPositionNll } from '../helpers/lm-golden';
import { BACKENDS, FIXTURES, expectClose, readCase, readWeights, useBackend } from '../helpers/fixtures';
import { expectAllClose } from '../helpers/finite-diff';

// Parity with karpathy/nanoGPT model.py and Hugging Face GPT2LMHeadModel on tests/fixtures/gpt2-tiny (copied from
// ../shared/goldens; see its README): nanoGPT names and erf GELU, HF names with Conv1D [in, out] weights and gelu_new.
const golden = readCase('gpt2-tiny');
const weights = readWeights('gpt2-tiny');
const hfWeights = parseSafetensors(new Uint8Array(fs.readFileSync(path.join(FIXTURES, 'gpt2-tiny', 'weights-hf.safetensors'))));
const hfConfig = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'gpt2-tiny', 'config-hf.json'), 'utf8'));
const g = golden.config.gpt_config;
const NANO = { name: 'gpt2' as const, dim: g.n_embd, layers: g.n_layer, numHeads: g.n_head, vocabSize: g.vocab_size, maxSeqLen: g.block_size };
// the README's 1e-5 abs, which tells the erf GELU from the tanh one (they differ by up to 3.7e-5 on these logits)
const TIGHT = { atol: 1e-5, rtol: 0 };

function nano(activation: 'gelu' | 'gelu_tanh' = 'gelu'): Gpt2 {
  manualSeed(0);
  const model = buildGpt2(Gpt2ConfigSchema.parse({ ...NANO, activation }));
  loadGpt2Weights(model, weights, 'nanogpt');
  return model;
}

function hf(): Gpt2 {
  const model = buildGpt2(gpt2ConfigFromHf(hfConfig));
  loadGpt2Weights(model, hfWeights, 'hf');
  return model;
}

describe.each(BACKENDS)('GPT-2 parity with nanoGPT and HF GPT2LMHeadModel (gpt2-tiny) on %s', (backend) => {
  let model: Gpt2;
  const tokens = () => tf.tensor2d(golden.inputs.tokens, undefined, 'int32');
  const targets = () => tf.tensor2d(golden.inputs.targets, undefined, 'int32');
  const lossOf = (logits: tf.Tensor) => causalLmLoss(logits, targets(), { ignoreIndex: -1, shifted: true });
  beforeAll(async () => {
    await useBackend(backend);
    model = nano();
  });
  afterAll(() => model.dispose());

  test('107,264 parameters; the 28 distinct nanoGPT tensors load (lm_head.weight is checked equal to wte, not loaded twice)', () => {
    expect(model.numParams()).toBe(107264);
    expect(loadGpt2Weights(model, weights, 'nanogpt').loaded).toHaveLength(28);
    expect(model.output.tied).toBe(true);
  });

  test('logits (erf GELU within 1e-5 abs), final hidden state, per-position NLL and loss (ignore index -1, targets shifted)', () => {
    tf.tidy(() => {
      const { logits, hidden } = model.forward(tokens());
      expectClose(logits, golden.outputs.logits, 'logits');
      expectAllClose(logits, golden.outputs.logits.flat(2), 'logits (1e-5 abs)', TIGHT);
      expectClose(hidden.slice([0, 0, 0], [1, 12, 64]), golden.outputs.final_hidden_row0, 'final_hidden_row0');
      expectClose(lossOf(logits), golden.outputs.loss, 'loss');
      expectClose(perPositionNll(logits, targets()), golden.outputs.per_position_nll, 'per_position_nll');
    });
  });

  test('the tanh GELU gives logits_gelu_tanh within 1e-5 abs (and the erf model does not)', () => {
    const tanh = nano('gelu_tanh');
    tf.tidy(() => {
      const logits = tanh.forward(tokens()).logits;
      expectAllClose(logits, golden.outputs.logits_gelu_tanh.flat(2), 'logits_gelu_tanh', TIGHT);
      expectClose(lossOf(logits), golden.outputs.loss_gelu_tanh, 'loss_gelu_tanh');
      const erf = model.forward(tokens()).logits;
      const gap = erf.sub(tf.tensor(golden.outputs.logits_gelu_tanh)).abs().max().dataSync()[0];
      expect(gap).toBeGreaterThan(1e-5);
    });
    tanh.dispose();
  });

  test('HF: config.json and weights-hf.safetensors (Conv1D transposed, no lm_head) give hf_gpt2_logits within 1e-5 abs and hf_gpt2_loss', () => {
    const m = hf();
    expect(m.config).toEqual({ ...NANO, activation: 'gelu_tanh', normEps: 1e-5 });
    tf.tidy(() => {
      const logits = m.forward(tokens()).logits;
      expectAllClose(logits, golden.outputs.hf_gpt2_logits.flat(2), 'hf_gpt2_logits', TIGHT);
      const labels = tf.tensor2d(golden.inputs.labels_hf, undefined, 'int32');
      expectClose(causalLmLoss(logits, labels, { ignoreIndex: -100 }), golden.outputs.hf_gpt2_loss, 'hf_gpt2_loss');
    });
    m.dispose();
  });

  test('gradients of the loss (nanoGPT [out, in] layout)', () => expectGoldenGrads(model, golden, lossOf));

  test.each([true, false])('greedy generation (KV cache %s): the golden ids and every step\'s logits', (useCache) => expectGoldenGeneration(model, golden, useCache));

  test('no tensors leak from forward and loss', () => expectNoForwardLeak(model, golden, lossOf));
});

describe('GPT-2 weights and configs', () => {
  test('GPT2Model names (no transformer. prefix) with attn.bias / attn.masked_bias buffers load as GPT2LMHeadModel names do', () => {
    const bare = new Map<string, RawTensor>();
    for (const [n, raw] of hfWeights) bare.set(n.replace(/^transformer\./, ''), raw);
    bare.set('h.0.attn.bias', { dtype: 'F32', shape: [1, 1, 16, 16], data: new Float32Array(256) });
    bare.set('h.1.attn.masked_bias', { dtype: 'F32', shape: [], data: new Float32Array([-1e4]) });
    const a = hf();
    const b = buildGpt2(gpt2ConfigFromHf(hfConfig));
    expect(loadGpt2Weights(b, bare, 'hf').loaded).toHaveLength(28);
    for (const [n, p] of a.namedParameters()) expect(Array.from(b.namedParameters().get(n)!.dataSync())).toEqual(Array.from(p.dataSync()));
    a.dispose();
    b.dispose();
  });

  test('bad input: a differing lm_head, a missing tensor, the HF layout loaded as nanoGPT, an unknown activation (one-line errors)', () => {
    const model = buildGpt2(Gpt2ConfigSchema.parse(NANO));
    const altered = new Map(weights);
    const head = weights.get('lm_head.weight')!;
    altered.set('lm_head.weight', { ...head, data: Float32Array.from(head.data as Float32Array, (v, i) => (i === 0 ? v + 1 : v)) });
    expect(() => loadGpt2Weights(model, altered, 'nanogpt')).toThrow("loadGpt2Weights: GPT-2 ties lm_head to transformer.wte, but the checkpoint's lm_head.weight differs from transformer.wte.weight");
    const missing = new Map(weights);
    missing.delete('transformer.h.1.ln_2.bias');
    expect(() => loadGpt2Weights(model, missing, 'nanogpt')).toThrow(/missing 1 \(in the model, not the checkpoint\): transformer\.h\.1\.ln_2\.bias/);
    expect(() => loadGpt2Weights(model, hfWeights, 'nanogpt')).toThrow(/transformer\.h\.0\.attn\.c_attn\.weight/);
    model.dispose();
    expect(() => gpt2ConfigFromHf({ ...hfConfig, activation_function: 'relu' }, 'm/config.json')).toThrow(/^m\/config.json: activation_function "relu" is not supported \(gelu_new, gelu_pytorch_tanh, gelu\)$/);
    expect(() => gpt2ConfigFromHf({ ...hfConfig, model_type: 'opt' })).toThrow(/^config.json: model_type "opt" is not 'gpt2'$/);
    expect(() => gpt2ConfigFromHf({ ...hfConfig, n_head: 5 })).toThrow(/^config.json: numHeads: dim must be divisible by numHeads$/);
  });
});
