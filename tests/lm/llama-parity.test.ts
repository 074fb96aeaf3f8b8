import { tf, causalLmLoss, greedyGenerate, ropeAngles, ropeTables, manualSeed } from '@mmzoo/core';
import { Llama, buildLlama, loadLlamaWeights, LlamaConfigSchema } from '@mmzoo/lm';
import { BACKENDS, expectClose, expectGradClose, readCase, readWeights, useBackend } from '../helpers/fixtures';

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
      const loss = causalLmLoss(logits, targets(), { ignoreIndex: -1, shifted: true });
      expectClose(loss, golden.outputs.loss, 'loss');
      const t = targets();
      const nll = tf.oneHot(t.maximum(0).toInt(), 96).mul(tf.logSoftmax(logits)).sum(-1).neg().mul(t.notEqual(-1).toFloat());
      expectClose(nll, golden.outputs.per_position_nll, 'per_position_nll');
    });
  });

  test('gradients of the loss', () => {
    tf.tidy(() => {
      const params = model.namedParameters();
      const names = Object.keys(golden.grads);
      const { value, grads } = tf.variableGrads(
        () => causalLmLoss(model.forward(tokens()).logits, targets(), { ignoreIndex: -1, shifted: true }) as tf.Scalar,
        names.map((n) => params.get(n)!),
      );
      expectClose(value, golden.outputs.loss, 'loss');
      for (const n of names) expectGradClose(grads[params.get(n)!.name], golden.grads[n], `grad ${n}`);
    });
  });

  test.each([true, false])('greedy generation (KV cache %s): the golden ids and every step\'s logits', (useCache) => {
    const before = tf.memory().numTensors;
    const out = greedyGenerate(model, golden.inputs.prompt, { maxNewTokens: 8, useCache });
    expect(tf.memory().numTensors).toBe(before);
    expect(out.ids).toEqual(golden.outputs.generated_ids);
    tf.tidy(() => expectClose(tf.tensor1d(out.stepLogits[0].flatMap((r) => Array.from(r))), golden.outputs.generation_step_logits, 'generation_step_logits'));
  });

  test('no tensors leak from forward and loss', () => {
    const ids = tokens();
    const t = targets();
    tf.tidy(() => causalLmLoss(model.forward(ids).logits, t, { ignoreIndex: -1, shifted: true })); // warm-up
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) tf.dispose(tf.tidy(() => causalLmLoss(model.forward(ids).logits, t, { ignoreIndex: -1, shifted: true })));
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([ids, t]);
  });
});
