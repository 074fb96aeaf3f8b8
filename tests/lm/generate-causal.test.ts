import { tf, generate, generateCausal, KVCache } from '@mmzoo/core';
import type { CausalGenerateOptions } from '@mmzoo/core';
import { Llama, buildLlama, loadLlamaWeights, LlamaConfigSchema } from '@mmzoo/lm';
import { readWeights, useBackend } from '../helpers/fixtures';

// The KV-cached engine (core generateCausal) on the llama-tiny weights, wasm backend: the cache against a full
// recompute, a left-padded batch against each prompt alone, beam search against the prefix-based decoder, stop ids,
// streaming, and no tensor left behind.
const TINY = { name: 'llama' as const, dim: 64, layers: 2, numHeads: 4, numKvHeads: 2, vocabSize: 96, multipleOf: 16, maxSeqLen: 16 };
const PROMPTS = [[11, 61, 5, 33], [7, 90], [42], [3, 14, 15, 92, 65, 35]];
const SAMPLE: CausalGenerateOptions = { strategy: 'sample', maxNewTokens: 8, temperature: 1.5, topK: 20, topP: 0.95, seed: 7 };
const BEAM: CausalGenerateOptions = { strategy: 'beam', maxNewTokens: 6, numBeams: 3, stopIds: [33] };

let model: Llama;
beforeAll(async () => {
  await useBackend('wasm');
  model = buildLlama(LlamaConfigSchema.parse(TINY));
  loadLlamaWeights(model, readWeights('llama-tiny'), 'llama2c');
});
afterAll(() => model.dispose());

describe('generateCausal: the KV cache gives what a full recompute gives', () => {
  test.each([
    ['greedy', { maxNewTokens: 8 }],
    ['beam search', BEAM],
    ['seeded sampling', SAMPLE],
  ] as const)('%s: the same tokens token for token, scores within float rounding', (_, opts) => {
    const cached = generateCausal(model, PROMPTS, opts);
    const recomputed = generateCausal(model, PROMPTS, { ...opts, useCache: false });
    expect(cached.sequences).toEqual(recomputed.sequences);
    cached.scores.forEach((s, i) => expect(s).toBeCloseTo(recomputed.scores[i], 4));
  });

  test('sampling draws differ between seeds and rows', () => {
    const a = generateCausal(model, [PROMPTS[0], PROMPTS[0]], SAMPLE);
    const b = generateCausal(model, [PROMPTS[0]], { ...SAMPLE, seed: 8 });
    expect(a.tokens[0]).not.toEqual(a.tokens[1]);
    expect(b.tokens[0]).not.toEqual(a.tokens[0]);
  });
});

describe('generateCausal: a batch of prompts of different lengths (left-padded, positions from the mask)', () => {
  test('greedy and beam search: each row is its prompt alone', () => {
    for (const opts of [{ maxNewTokens: 8, padId: 95 }, BEAM]) {
      const batch = generateCausal(model, PROMPTS, opts);
      PROMPTS.forEach((p, r) => {
        const alone = generateCausal(model, [p], opts);
        expect(batch.sequences[r]).toEqual(alone.sequences[0]);
        expect(batch.scores[r]).toBeCloseTo(alone.scores[0], 4);
      });
    }
  });

  test('seeded sampling: with one seed per prompt, each row is its prompt alone with its seed', () => {
    const seeds = [21, 22, 23, 24];
    const batch = generateCausal(model, PROMPTS, { ...SAMPLE, seed: seeds });
    PROMPTS.forEach((p, r) => {
      expect(batch.sequences[r]).toEqual(generateCausal(model, [p], { ...SAMPLE, seed: seeds[r] }).sequences[0]);
      expect(batch.sequences[r]).toEqual(generateCausal(model, [p], { ...SAMPLE, seed: [seeds[r]] }).sequences[0]);
    });
  });
});

describe('generateCausal: beam search', () => {
  test('matches the prefix-based decoder (core generate) on the same model, where every step re-runs the prefixes', () => {
    // the model as a NextTokenLogits: each prefix run whole, no cache, no padding
    const next = (prefixes: number[][]) => tf.tidy(() => {
      const { logits } = model.forward(tf.tensor2d(prefixes, undefined, 'int32'));
      const [b, t, v] = logits.shape;
      const last = logits.slice([0, t - 1, 0], [b, 1, v]).reshape([b, v]).dataSync() as Float32Array;
      return prefixes.map((_, r) => last.slice(r * v, (r + 1) * v));
    });
    for (const [numBeams, lengthPenalty] of [[2, 1], [4, 0]]) {
      const cached = generateCausal(model, PROMPTS, { ...BEAM, numBeams, lengthPenalty });
      const reference = generate(next, PROMPTS, { strategy: 'beam', beamSize: numBeams, lengthPenalty, maxLength: 6, endId: 33 });
      expect(cached.sequences).toEqual(reference.sequences);
      cached.scores.forEach((s, i) => expect(s).toBeCloseTo(reference.scores[i], 4));
    }
  });

  test('the cache rows follow the re-selected beams (KVCache.select gathers rows, repeats allowed)', () => {
    const cache = new KVCache(1);
    const k = tf.tensor4d([1, 2, 3, 4, 5, 6], [3, 1, 2, 1]);
    cache.append(0, k, k);
    cache.commit();
    cache.select([2, 0, 2]);
    const out = tf.tidy(() => cache.append(0, tf.zeros([3, 1, 1, 1]) as tf.Tensor4D, tf.zeros([3, 1, 1, 1]) as tf.Tensor4D).k.arraySync());
    expect(out).toEqual([[[[5], [6], [0]]], [[[1], [2], [0]]], [[[5], [6], [0]]]]);
    expect(() => cache.select([3])).toThrow('KVCache.select: row 3 is not in [0, 3)');
    cache.dispose();
    k.dispose();
    expect(() => cache.select([0])).toThrow('KVCache.select: the cache is empty');
  });
});

describe('generateCausal: stop ids, min new tokens, streaming', () => {
  // greedy from PROMPTS[0] gives 33 33 33 33 33 33 78 78 (the llama-tiny golden)
  test('a stop id ends its row (kept); min new tokens suppresses it; other rows go on', () => {
    const out = generateCausal(model, [PROMPTS[0], PROMPTS[2]], { maxNewTokens: 8, stopIds: [33, 1000] });
    expect(out.tokens[0]).toEqual([33]);
    expect(out.tokens[1].length).toBe(out.tokens[1].includes(33) ? out.tokens[1].indexOf(33) + 1 : 8);
    const late = generateCausal(model, [PROMPTS[0]], { maxNewTokens: 8, stopIds: [33], minNewTokens: 2 });
    expect(late.tokens[0].slice(0, 2)).not.toContain(33);
    expect(late.tokens[0][late.tokens[0].length - 1] === 33 || late.tokens[0].length === 8).toBe(true);
  });

  test('onToken sees each row\'s tokens in order as they come; returning true stops that row (stop strings)', () => {
    for (const opts of [{ maxNewTokens: 6 }, SAMPLE, BEAM]) {
      const seen: number[][] = PROMPTS.map(() => []);
      const out = generateCausal(model, PROMPTS, { ...opts, onToken: (row, token) => void seen[row].push(token) });
      expect(seen).toEqual(out.tokens);
    }
    const out = generateCausal(model, PROMPTS, { maxNewTokens: 6, onToken: (row, token) => row === 1 && token !== -1 });
    expect(out.tokens.map((t) => t.length)).toEqual([6, 1, 6, 6]);
  });
});

describe('generateCausal: bad input and memory', () => {
  test('one-line errors', () => {
    expect(() => generateCausal(model, [PROMPTS[3]], { maxNewTokens: 11 })).toThrow('generateCausal: a prompt of 6 tokens plus 11 new tokens exceeds the context length 16');
    expect(() => generateCausal(model, [], { maxNewTokens: 1 })).toThrow('generateCausal: every prompt needs at least one token');
    expect(() => generateCausal(model, [[1]], { maxNewTokens: 2, strategy: 'sample', topK: -1 })).toThrow('generateCausal: topK must be an integer >= 0 (0: no limit), got -1');
    expect(() => generateCausal(model, [[1]], { maxNewTokens: 2, minNewTokens: 3 })).toThrow('generateCausal: minNewTokens must be an integer in [0, maxNewTokens = 2], got 3');
    expect(() => generateCausal(model, [[1]], { maxNewTokens: 2, strategy: 'beam', numBeams: 0 })).toThrow('generateCausal: numBeams must be an integer >= 1, got 0');
    expect(() => generateCausal(model, [[1], [2]], { maxNewTokens: 2, seed: [1] })).toThrow('generateCausal: seed has 1 entries for 2 prompts');
    expect(() => generateCausal(model, [[1]], { maxNewTokens: 2, stopIds: [1.5] })).toThrow('generateCausal: stopIds must be a list of integer ids >= 0, got [1.5]');
    expect(() => generateCausal(model, [[1]], { maxNewTokens: 2, strategy: 'top' as 'greedy' })).toThrow("generateCausal: unknown strategy 'top'; valid: greedy, beam, sample");
  });

  test('no tensors are left behind by any strategy, with or without the cache', () => {
    generateCausal(model, PROMPTS, { maxNewTokens: 2 }); // warm-up
    const before = tf.memory().numTensors;
    for (const opts of [{ maxNewTokens: 3 }, { ...SAMPLE, maxNewTokens: 3 }, { ...BEAM, maxNewTokens: 3 }]) {
      generateCausal(model, PROMPTS, opts);
      generateCausal(model, PROMPTS, { ...opts, useCache: false });
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
