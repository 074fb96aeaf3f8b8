import { tf, KVCache, greedyGenerate, manualSeed, withShapesOnly, RawTensor, fromTensor } from '@mmzoo/core';
import { Llama, buildLlama, loadLlamaWeights, LlamaConfigSchema } from '@mmzoo/lm';
import { BACKENDS, readWeights, useBackend } from '../helpers/fixtures';
import { expectAllClose } from '../helpers/finite-diff';

// The KV cache and left padding on the llama-tiny weights (tests/fixtures/llama-tiny): cached steps must compute
// what a full recompute computes, and a left-padded row what its prompt alone computes.
const TINY = { name: 'llama' as const, dim: 64, layers: 2, numHeads: 4, numKvHeads: 2, vocabSize: 96, multipleOf: 16, maxSeqLen: 16 };
const weights = readWeights('llama-tiny');

function tiny(): Llama {
  const model = buildLlama(LlamaConfigSchema.parse(TINY));
  loadLlamaWeights(model, weights, 'llama2c');
  return model;
}

const PROMPTS = [[11, 61, 5, 33], [7, 90], [42], [3, 14, 15, 92, 65, 35]];

describe.each(BACKENDS)('LLaMA generation with the KV cache on %s', (backend) => {
  let model: Llama;
  beforeAll(async () => {
    await useBackend(backend);
    model = tiny();
  });
  afterAll(() => model.dispose());

  test('a forward pass in chunks against the cache gives the logits of one full pass', () => {
    const ids = [[5, 17, 88, 2, 40, 40, 9, 71, 63], [1, 2, 3, 4, 5, 6, 7, 8, 9]];
    const full = tf.tidy(() => model.forward(tf.tensor2d(ids, undefined, 'int32')).logits);
    const cache = model.newCache();
    const chunks = [[0, 4], [4, 1], [5, 3], [8, 1]].map(([start, len]) => tf.tidy(() => {
      const part = ids.map((r) => r.slice(start, start + len));
      return model.forward(tf.tensor2d(part, undefined, 'int32'), { cache }).logits;
    }));
    expect(cache.length).toBe(9);
    const stepped = tf.concat(chunks, 1);
    expectAllClose(stepped, full.dataSync(), 'chunked vs full', { atol: 1e-5, rtol: 1e-4 });
    tf.dispose([full, stepped, ...chunks]);
    cache.dispose();
  });

  test('greedy decoding: the cache and a full recompute give the same tokens and step logits', () => {
    const cached = greedyGenerate(model, PROMPTS, { maxNewTokens: 8 });
    const recomputed = greedyGenerate(model, PROMPTS, { maxNewTokens: 8, useCache: false });
    expect(cached.ids).toEqual(recomputed.ids);
    cached.stepLogits.forEach((rows, r) => rows.forEach((l, s) => expectAllClose(l, Array.from(recomputed.stepLogits[r][s]), `row ${r} step ${s}`, { atol: 1e-5, rtol: 1e-4 })));
  });

  test('a left-padded batch of prompts of different lengths: each row gives what its prompt alone gives', () => {
    const batch = greedyGenerate(model, PROMPTS, { maxNewTokens: 8, padId: 95 });
    PROMPTS.forEach((p, r) => {
      const alone = greedyGenerate(model, [p], { maxNewTokens: 8 });
      expect(batch.ids[r]).toEqual(alone.ids[0]);
      alone.stepLogits[0].forEach((l, s) => expectAllClose(batch.stepLogits[r][s], Array.from(l), `row ${r} step ${s}`, { atol: 1e-5, rtol: 1e-4 }));
    });
    // the golden prompt's tokens (llama-tiny generated_ids) in the batch too
    expect(batch.ids[0]).toEqual([11, 61, 5, 33, 33, 33, 33, 33, 33, 33, 78, 78]);
  });

  test('no tensors are left behind by generation, with or without the cache', () => {
    greedyGenerate(model, PROMPTS, { maxNewTokens: 2 }); // warm-up
    const before = tf.memory().numTensors;
    greedyGenerate(model, PROMPTS, { maxNewTokens: 3 });
    greedyGenerate(model, PROMPTS, { maxNewTokens: 3, useCache: false });
    expect(tf.memory().numTensors).toBe(before);
  });

  test('bad input: beyond the context, an attention mask of the wrong length, ids that are not [B, T], empty prompts', () => {
    expect(() => greedyGenerate(model, [PROMPTS[3]], { maxNewTokens: 11 })).toThrow('greedyGenerate: a prompt of 6 tokens plus 11 new tokens exceeds the context length 16');
    expect(() => greedyGenerate(model, [[]], { maxNewTokens: 1 })).toThrow('greedyGenerate: every prompt needs at least one token');
    expect(() => greedyGenerate(model, [[1]], { maxNewTokens: 0 })).toThrow('greedyGenerate: maxNewTokens must be an integer >= 1, got 0');
    tf.tidy(() => {
      expect(() => model.forward(tf.zeros([1, 17], 'int32'))).toThrow('Llama.forward: 0 cached plus 17 new positions exceed the context length maxSeqLen 16');
      expect(() => model.forward(tf.zeros([2, 3], 'int32'), { attentionMask: tf.ones([2, 4]) })).toThrow('Llama.forward: attentionMask must be [2, 3] (cached plus new positions), got [2,4]');
      expect(() => model.forward(tf.zeros([3], 'int32'))).toThrow('Llama.forward: input must be int32 [B, T] ids or float32 [B, T, 64] embeddings, got int32 [3]');
    });
    const cache: KVCache = model.newCache();
    tf.tidy(() => model.forward(tf.zeros([1, 10], 'int32'), { cache }));
    expect(() => tf.tidy(() => model.forward(tf.zeros([1, 7], 'int32'), { cache }))).toThrow('Llama.forward: 10 cached plus 7 new positions exceed the context length maxSeqLen 16');
    cache.dispose();
  });
});

describe('LLaMA configs and weights', () => {
  test('untied: output.weight is its own parameter and loads from a llama2.c state dict; sizes count as llama2.c does', () => {
    const untied = buildLlama(LlamaConfigSchema.parse({ ...TINY, tiedEmbeddings: false }));
    expect(untied.numParams()).toBe(98624 + 96 * 64);
    loadLlamaWeights(untied, weights, 'llama2c');
    expect(Array.from(untied.output.weight.dataSync())).toEqual(Array.from(weights.get('output.weight')!.data as Float32Array));
    untied.dispose();
  });

  test('tied: an output.weight that differs from tok_embeddings.weight is refused, and nothing is assigned', () => {
    const model = tiny();
    const altered = new Map<string, RawTensor>(weights);
    const out = weights.get('output.weight')!;
    altered.set('output.weight', { ...out, data: Float32Array.from(out.data as Float32Array, (v, i) => (i === 0 ? v + 1 : v)) });
    altered.set('norm.weight', fromTensor(tf.zeros([64])));
    expect(() => loadLlamaWeights(model, altered, 'llama2c')).toThrow("loadLlamaWeights: the model ties output to tok_embeddings, but the checkpoint's output.weight differs from tok_embeddings.weight (set tiedEmbeddings: false)");
    expect(Array.from(model.norm.weight.dataSync())).toEqual(Array.from(weights.get('norm.weight')!.data as Float32Array));
    const missing = new Map(weights);
    missing.delete('layers.1.ffn_norm.weight');
    expect(() => loadLlamaWeights(model, missing, 'llama2c')).toThrow(/missing 1 \(in the model, not the checkpoint\): layers\.1\.ffn_norm\.weight/);
    model.dispose();
  });

  test('a shape-only build counts stories15M (dim 288, 6 layers, 6 heads, vocab 32000, tied) as 15,191,712 parameters without allocating', () => {
    manualSeed(0);
    const before = tf.memory().numTensors;
    const n = withShapesOnly(() => buildLlama(LlamaConfigSchema.parse({ name: 'llama', dim: 288, layers: 6, numHeads: 6, vocabSize: 32000, multipleOf: 32, maxSeqLen: 256 })).numParams());
    expect(n).toBe(15191712);
    expect(tf.memory().numTensors).toBe(before);
  });

  test('the schema refuses sizes that cannot work, naming the key', () => {
    const issue = (over: object) => LlamaConfigSchema.safeParse({ ...TINY, ...over }).error?.issues[0];
    expect(issue({ numKvHeads: 3 })).toMatchObject({ path: ['numKvHeads'], message: 'numHeads must be divisible by numKvHeads' });
    expect(issue({ numHeads: 5 })).toMatchObject({ path: ['numHeads'], message: 'dim must be divisible by numHeads' });
    expect(issue({ dim: 24, numHeads: 8, numKvHeads: 8 })).toMatchObject({ path: ['numHeads'], message: 'the head dim (dim / numHeads) must be even for RoPE' });
    expect(issue({ ropeLayout: 'neox' })?.path).toEqual(['ropeLayout']);
    expect(issue({ extra: 1 })?.code).toBe('unrecognized_keys');
  });
});
