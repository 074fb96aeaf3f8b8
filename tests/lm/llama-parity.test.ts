import { tf, causalLmLoss, ropeAngles, ropeTables, manualSeed } from '@mmzoo/core';
import { Llama, buildLlama, loadLlamaWeights, LlamaConfigSchema } from '@mmzoo/lm';
import { expectGoldenGeneration, expectGoldenGrads, expectNoForwardLeak, perPositionNll } from '../helpers/lm-golden';
import { BACKENDS, expectClose, readCase, readWeights, useBackend } from '../helpers/fixtures';

// Parity with karpathy/llama2.c model.py on tests/fixtures/llama-tiny (copied from ../shared/goldens; see its README).
const golden = readCase('llama-tiny');
const weights = readWeights('llama-tiny');
const a = golden.config.model_args;

function build(): Llama {
  manualSeed(0);
  const model = buildLlama(LlamaConfigSchema.parse({
    name: 'llama', dim: a.dim, layers: a.n_layers, numHeads: a.n_heads, numKvHeads: a.n_kv_heads, vocabSize: a.vocab_size,
    multipleOf: a.multiple_of, normEps: a.norm_eps, maxSeqLen: a.max_seq_len,
  }));
  loadLlamaWeights(model, weights, 'llama2c');
  return model;
}

describe.each(BACKENDS)('LLaMA parity with llama2.c (llama-tiny) on %s', (backend) => {
  let model: Llama;
  const tokens = () => tf.tensor2d(golden.inputs.tokens, undefined, 'int32');
  const targets = () => tf.tensor2d(golden.inputs.targets, undefined, 'int32');
  const lossOf = (logits: tf.Tensor) => causalLmLoss(logits, targets(), { ignoreIndex: -1, shifted: true });
  beforeAll(async () => {
    await useBackend(backend);
    model = build();
  });
  afterAll(() => model.dispose());

  test('loads the 20 distinct reference tensors (the tied output.weight is checked equal, not loaded twice)', () => {
    expect(model.numParams()).toBe(98624);
    expect(loadLlamaWeights(model, weights, 'llama2c').loaded).toHaveLength(20);
    expect(model.output.tied).toBe(true);
  });

  test('RoPE tables equal llama2.c freqs_cos / freqs_sin', () => {
    tf.tidy(() => {
      const angles = ropeAngles(tf.range(0, 16, 1, 'int32'), 16, 10000);
      expectClose(angles.cos(), golden.outputs.freqs_cos, 'freqs_cos');
      expectClose(angles.sin(), golden.outputs.freqs_sin, 'freqs_sin');
      // the interleaved tables repeat each pair's angle on dims 2i and 2i+1
      const { cos } = ropeTables(tf.range(0, 16, 1, 'int32').reshape([1, 16]), 16);
      const even = cos.reshape([16, 8, 2]).slice([0, 0, 0], [16, 8, 1]).reshape([16, 8]);
      const odd = cos.reshape([16, 8, 2]).slice([0, 0, 1], [16, 8, 1]).reshape([16, 8]);
      expectClose(even, golden.outputs.freqs_cos, 'interleaved cos, even dims');
      expectClose(odd, golden.outputs.freqs_cos, 'interleaved cos, odd dims');
    });
  });

  test('logits, final hidden state, per-position NLL and loss (ignore index -1, targets already shifted)', () => {
    tf.tidy(() => {
      const { logits, hidden } = model.forward(tokens());
      expectClose(logits, golden.outputs.logits, 'logits');
      expectClose(hidden.slice([0, 0, 0], [1, 12, 64]), golden.outputs.final_hidden_row0, 'final_hidden_row0');
      const loss = lossOf(logits);
      expectClose(loss, golden.outputs.loss, 'loss');
      expectClose(perPositionNll(logits, targets()), golden.outputs.per_position_nll, 'per_position_nll');
    });
  });

  test('gradients of the loss', () => expectGoldenGrads(model, golden, lossOf));

  test.each([true, false])('greedy generation (KV cache %s): the golden ids and every step\'s logits', (useCache) => expectGoldenGeneration(model, golden, useCache));

  test('no tensors leak from forward and loss', () => expectNoForwardLeak(model, golden, lossOf));
});
