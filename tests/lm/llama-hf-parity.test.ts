import * as fs from 'fs';
import * as path from 'path';
import { tf, causalLmLoss, greedyGenerate, ropeTables, ropeRowPermutation, permuteRopeRows, toTensor } from '@mmzoo/core';
import { Llama, buildLlama, hfLlamaName, llamaConfigFromHf, loadLlamaWeights } from '@mmzoo/lm';
import { BACKENDS, FIXTURES, expectClose, expectGradClose, readCase, readWeights, useBackend } from '../helpers/fixtures';

// Parity with Hugging Face LlamaForCausalLM on tests/fixtures/llama-hf-tiny (copied from ../shared/goldens; see its
// README): HF names, q/k rows permuted for the 'half' (rotate_half) RoPE layout, labels with -100 and HF's shift.
const golden = readCase('llama-hf-tiny');
const hfWeights = readWeights('llama-hf-tiny');
const metaWeights = readWeights('llama-tiny');
const hfConfig = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'llama-hf-tiny', 'config.json'), 'utf8'));

function build(layout: 'half' | 'interleaved'): Llama {
  const model = buildLlama({ ...llamaConfigFromHf(hfConfig), ropeLayout: layout });
  loadLlamaWeights(model, hfWeights, 'hf');
  return model;
}

test('the HF config maps onto the llama2.c one: sizes, eps, theta, tied, and the half layout', () => {
  expect(llamaConfigFromHf(hfConfig)).toEqual({
    name: 'llama', dim: 64, layers: 2, numHeads: 4, numKvHeads: 2, vocabSize: 96, hiddenDim: 176, multipleOf: 256, normEps: 1e-5,
    ropeTheta: 10000, ropeLayout: 'half', maxSeqLen: 16, tiedEmbeddings: true,
  });
  expect(() => llamaConfigFromHf({ ...hfConfig, model_type: 'gpt2' }, 'x/config.json')).toThrow(/^x\/config.json: model_type "gpt2" is not 'llama'$/);
  expect(() => llamaConfigFromHf({ ...hfConfig, rope_scaling: { type: 'linear', factor: 2 } })).toThrow(/rope_scaling is not supported/);
  expect(() => llamaConfigFromHf({ ...hfConfig, hidden_size: undefined })).toThrow(/hidden_size must be a positive integer, got undefined/);
  expect(() => llamaConfigFromHf({ ...hfConfig, num_key_value_heads: 3 })).toThrow(/numKvHeads: numHeads must be divisible by numKvHeads/);
});

test('HF names map to llama2.c names; rotary buffers are skipped', () => {
  expect(hfLlamaName('model.layers.1.self_attn.k_proj.weight')).toBe('layers.1.attention.wk.weight');
  expect(hfLlamaName('model.layers.0.mlp.up_proj.weight')).toBe('layers.0.feed_forward.w3.weight');
  expect(hfLlamaName('model.layers.0.post_attention_layernorm.weight')).toBe('layers.0.ffn_norm.weight');
  expect(hfLlamaName('lm_head.weight')).toBe('output.weight');
  expect(hfLlamaName('model.layers.0.self_attn.rotary_emb.inv_freq')).toBeNull();
  expect(hfLlamaName('model.something_else.weight')).toBe('model.something_else.weight');
});

test("the q/k row permutation is transformers' permute(): the golden's row sources, and llama-tiny's wq/wk become its q_proj/k_proj bit for bit", () => {
  const perm = golden.config.permutation;
  expect(ropeRowPermutation(64, 4, 'half')).toEqual(perm.q_proj_row_source);
  expect(ropeRowPermutation(32, 2, 'half')).toEqual(perm.k_proj_row_source);
  for (const [meta, hf, heads] of [['wq', 'q_proj', 4], ['wk', 'k_proj', 2]] as const) {
    for (const layer of [0, 1]) {
      const converted = permuteRopeRows(metaWeights.get(`layers.${layer}.attention.${meta}.weight`)!, heads, 'half');
      const stored = hfWeights.get(`model.layers.${layer}.self_attn.${hf}.weight`)!;
      expect(converted.shape).toEqual(stored.shape);
      expect(Buffer.from(converted.data.buffer).equals(Buffer.from(stored.data.buffer))).toBe(true);
      // and back
      const back = permuteRopeRows(stored, heads, 'interleaved');
      expect(Array.from(back.data as Float32Array)).toEqual(Array.from(metaWeights.get(`layers.${layer}.attention.${meta}.weight`)!.data as Float32Array));
    }
  }
});

describe.each(BACKENDS)('LLaMA parity with HF LlamaForCausalLM (llama-hf-tiny) on %s', (backend) => {
  const models: Partial<Record<'half' | 'interleaved', Llama>> = {};
  const ids = () => tf.tensor2d(golden.inputs.input_ids, undefined, 'int32');
  const labels = () => tf.tensor2d(golden.inputs.labels, undefined, 'int32');
  beforeAll(async () => {
    await useBackend(backend);
    models.half = build('half');
    models.interleaved = build('interleaved');
  });
  afterAll(() => Object.values(models).forEach((m) => m!.dispose()));

  test('RoPE tables in the half layout are cos / sin of cat(freqs, freqs)', () => {
    tf.tidy(() => {
      const { cos, sin } = ropeTables(tf.range(0, 16, 1, 'int32').reshape([1, 16]), 16, { layout: 'half' });
      expectClose(cos, golden.outputs.rope_cos, 'rope_cos');
      expectClose(sin, golden.outputs.rope_sin, 'rope_sin');
    });
  });

  test.each(['half', 'interleaved'] as const)('%s layout: logits, final hidden, loss (-100, shifted) and gradients under HF names', (layout) => {
    const model = models[layout]!;
    tf.tidy(() => {
      const { logits, hidden } = model.forward(ids());
      expectClose(logits, golden.outputs.logits, 'logits');
      expectClose(hidden.slice([0, 0, 0], [1, 12, 64]), golden.outputs.final_hidden_row0, 'final_hidden_row0');
      const params = model.namedParameters();
      const names = Object.keys(golden.grads);
      const vars = names.map((n) => params.get(hfLlamaName(n)!)!);
      const { value, grads } = tf.variableGrads(() => causalLmLoss(model.forward(ids()).logits, labels()) as tf.Scalar, vars);
      expectClose(value, golden.outputs.loss, 'loss');
      names.forEach((n, i) => {
        let g = grads[vars[i].name];
        // the interleaved model holds llama2.c's q rows: its gradient, permuted like the weight, is HF's
        if (layout === 'interleaved' && n.includes('q_proj')) g = toTensor(permuteRopeRows({ dtype: 'F32', shape: g.shape, data: g.dataSync() as Float32Array }, 4, 'half'));
        expectGradClose(g, golden.grads[n], `grad ${n}`);
      });
    });
  });

  test('greedy ids with the KV cache', () => {
    expect(greedyGenerate(models.half!, golden.inputs.prompt, { maxNewTokens: 8 }).ids).toEqual(golden.outputs.greedy_ids);
  });

  test('control: the HF rows under interleaved RoPE without the permutation are a different model (logits off by > 1e-2)', () => {
    const wrong = buildLlama({ ...llamaConfigFromHf(hfConfig), ropeLayout: 'interleaved' });
    const renamed = new Map([...hfWeights].map(([n, t]) => [hfLlamaName(n)!, t]));
    loadLlamaWeights(wrong, renamed, 'llama2c'); // claims llama2.c rows: nothing is permuted
    const diff = tf.tidy(() => wrong.forward(ids()).logits.sub(tf.tensor(golden.outputs.logits)).abs().max().dataSync()[0]);
    expect(diff).toBeGreaterThan(1e-2);
    wrong.dispose();
  });
});
