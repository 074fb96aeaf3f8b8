import { tf, Tensor, Embedding, decoderMask, generateCausal, ropeTables } from '@mmzoo/core';
import { Llama, LlamaConfigSchema, decoderStep, glmPositions } from '@mmzoo/lm';
import type { LmModel } from '@mmzoo/lm';
import { useBackend } from '../helpers/fixtures';
import { TINY_LMS, randomLm } from '../helpers/random-lm';
import { expectAllClose } from '../helpers/finite-diff';

// VisualGLM's stand-in for ChatGLM-6B in the LLaMA: GLM's prefix-LM mask (CausalLmForwardOptions.prefixLength, any
// decoder) and 2D RoPE (LlamaConfig rope2d): masks and positions by hand, the model against itself composed by hand,
// the cache, generation, the config and errors.
const X = -Infinity;
const IDS = [[5, 17, 3, 29, 8], [0, 0, 11, 2, 38]];
const MASK = [[1, 1, 1, 1, 1], [0, 0, 1, 1, 1]];
const int2d = (rows: number[][]) => tf.tensor2d(rows, undefined, 'int32');
const logitsOf = (model: LmModel, ids: number[][], opts: () => Parameters<LmModel['forward']>[1] = () => ({})) =>
  tf.tidy(() => model.forward(int2d(ids), opts()).logits.arraySync() as number[][][]);
const maxDiff = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));

beforeAll(() => useBackend('wasm'));

describe('GLM positions and the prefix mask by hand', () => {
  test('glmPositions: the prefix keeps its positions with block 0; later tokens take the mask token\'s position, blocks 1, 2, ...', () => {
    tf.tidy(() => {
      const out = glmPositions(int2d([[0, 1, 2, 3, 4, 5]]), [3, 1]);
      expect(out.positions.arraySync()).toEqual([[0, 1, 2, 2, 2, 2], [0, 0, 0, 0, 0, 0]]);
      expect(out.blockPositions.arraySync()).toEqual([[0, 0, 0, 1, 2, 3], [0, 1, 2, 3, 4, 5]]);
      const none = glmPositions(int2d([[4, 5]]));
      expect(none.positions.arraySync()).toEqual([[4, 5]]);
      expect(none.blockPositions.arraySync()).toEqual([[0, 0]]);
    });
  });

  test('decoderStep with prefixLength: each row\'s first n real tokens are seen by every query (left padding, the cache)', () => {
    tf.tidy(() => {
      const tokens = new Embedding(40, 8);
      const step = decoderStep('Llama', int2d(IDS), tokens, { attentionMask: int2d(MASK), prefixLength: [3, 2] }, 16);
      expect(step.mask.arraySync()).toEqual([
        [[[0, 0, 0, X, X], [0, 0, 0, X, X], [0, 0, 0, X, X], [0, 0, 0, 0, X], [0, 0, 0, 0, 0]]],
        [[[X, X, 0, 0, X], [X, X, 0, 0, X], [X, X, 0, 0, X], [X, X, 0, 0, X], [X, X, 0, 0, 0]]],
      ]);
      // one new token after 4 cached: sees all keys
      const cache = { length: 4 } as Parameters<typeof decoderStep>[3]['cache'];
      expect(decoderStep('Llama', int2d([[1]]), tokens, { cache, prefixLength: [2] }, 16).mask.arraySync()).toEqual([[[[0, 0, 0, 0, 0]]]]);
      // a prefix of 1 is the causal mask
      expect(decoderStep('Llama', int2d(IDS), tokens, { prefixLength: [1, 1] }, 16).mask.arraySync())
        .toEqual(tf.broadcastTo(decoderMask(5, 5), [2, 1, 5, 5]).arraySync());
      expect(() => decoderStep('Llama', int2d(IDS), tokens, { prefixLength: [2] }, 16)).toThrow('Llama.forward: prefixLength must be 2 integers >= 1 (one per row), got [2]');
      expect(() => decoderStep('Llama', int2d(IDS), tokens, { prefixLength: [2, 0] }, 16)).toThrow('Llama.forward: prefixLength must be 2 integers >= 1 (one per row), got [2,0]');
      tokens.dispose();
    });
  });
});

describe.each(['Llama', 'Gpt2'] as const)('%s: a prefix LM', (name) => {
  let model: LmModel;
  beforeAll(() => {
    model = randomLm(TINY_LMS[name]);
  });
  afterAll(() => model.dispose());

  test('a prefix token sees the later prefix tokens, not the tokens after the prefix; a prefix of 1 is causal', () => {
    const opts = () => ({ prefixLength: [3, 3] });
    const base = logitsOf(model, IDS, opts);
    expect(logitsOf(model, IDS, () => ({ prefixLength: [1, 1] }))).toEqual(logitsOf(model, IDS));
    expect(maxDiff(base[0][0], logitsOf(model, IDS)[0][0])).toBeGreaterThan(1e-3);
    const changedInPrefix = logitsOf(model, [[5, 17, 4, 29, 8], IDS[1]], opts); // token 2: in the prefix
    expect(maxDiff(changedInPrefix[0][0], base[0][0])).toBeGreaterThan(1e-3);
    const changedAfter = logitsOf(model, [[5, 17, 3, 30, 8], IDS[1]], opts); // token 3: after it
    [0, 1, 2].forEach((t) => expect(changedAfter[0][t]).toEqual(base[0][t]));
  });

  test('with the cache: the prefix in the first call, the rest after, gives the logits of one call', () => {
    const full = logitsOf(model, IDS, () => ({ attentionMask: int2d(MASK), prefixLength: [3, 2] }));
    const cache = model.newCache();
    const first = logitsOf(model, IDS.map((r) => r.slice(0, 4)), () => ({ cache, attentionMask: int2d(MASK.map((r) => r.slice(0, 4))), prefixLength: [3, 2] }));
    const rest = logitsOf(model, IDS.map((r) => r.slice(4)), () => ({ cache, attentionMask: int2d(MASK), prefixLength: [3, 2] }));
    cache.dispose();
    expectAllClose([...first[0], ...rest[0], ...first[1].slice(2), ...rest[1]].flat(), [...full[0], ...full[1].slice(2)].flat(), 'cached logits', { atol: 1e-5, rtol: 1e-4 });
  });
});

describe('LLaMA with 2D RoPE (rope2d)', () => {
  const CONFIG = { ...TINY_LMS.Llama, rope2d: true };
  let model: Llama;
  beforeAll(() => {
    model = randomLm(CONFIG) as Llama;
  });
  afterAll(() => model.dispose());

  test('the config: rope2d is optional with no default (existing configs parse, and hash, as before); the head dim must divide by 4', () => {
    expect('rope2d' in LlamaConfigSchema.parse(TINY_LMS.Llama)).toBe(false);
    expect(LlamaConfigSchema.parse(CONFIG).rope2d).toBe(true);
    expect(() => LlamaConfigSchema.parse({ ...CONFIG, dim: 24 })).toThrow('the head dim (dim / numHeads) must be divisible by 4 for 2D RoPE');
  });

  test('forward is the model composed by hand with GLM positions and a prefix mask written out', () => {
    // row 0: prefix 3 of 5 real tokens; row 1: 2 padding, prefix 2 of 3 real tokens
    const positions = [[0, 1, 2, 2, 2], [0, 0, 0, 1, 1]];
    const blocks = [[0, 0, 0, 1, 2], [0, 0, 0, 0, 1]];
    const mask = [
      [[[0, 0, 0, X, X], [0, 0, 0, X, X], [0, 0, 0, X, X], [0, 0, 0, 0, X], [0, 0, 0, 0, 0]]],
      [[[X, X, 0, 0, X], [X, X, 0, 0, X], [X, X, 0, 0, X], [X, X, 0, 0, X], [X, X, 0, 0, 0]]],
    ];
    const byHand = tf.tidy(() => {
      const rope = ropeTables(int2d(positions), model.headDim, { layout: 'half', blockPositions: int2d(blocks) });
      let h: Tensor = model.embedTokens(int2d(IDS));
      for (const block of model.blocks) h = block.apply(h, { rope, mask: tf.tensor4d(mask) });
      return model.output.apply(model.norm.apply(h)).arraySync() as number[][][];
    });
    const got = logitsOf(model, IDS, () => ({ attentionMask: int2d(MASK), prefixLength: [3, 2] }));
    expectAllClose([...got[0], ...got[1].slice(2)].flat(), [...byHand[0], ...byHand[1].slice(2)].flat(), 'logits', { atol: 1e-5, rtol: 1e-4 });
    // plain RoPE gives other logits
    const plain = randomLm(TINY_LMS.Llama);
    expect(maxDiff(logitsOf(plain, IDS, () => ({ prefixLength: [3, 3] }))[0][4], got[0][4])).toBeGreaterThan(1e-3);
    plain.dispose();
  });

  test('generation with the prompt as the prefix: the cache gives what a full recompute gives; each row is its prompt alone', () => {
    const prompts = [[11, 6, 5, 33], [7, 30]];
    for (const opts of [{ maxNewTokens: 5 }, { strategy: 'beam' as const, maxNewTokens: 4, numBeams: 2 }]) {
      const cached = generateCausal(model, prompts, { ...opts, prefixLength: [4, 2] });
      const recomputed = generateCausal(model, prompts, { ...opts, prefixLength: [4, 2], useCache: false });
      expect(cached.sequences).toEqual(recomputed.sequences);
      prompts.forEach((p, r) => expect(generateCausal(model, [p], { ...opts, prefixLength: [p.length] }).sequences[0]).toEqual(cached.sequences[r]));
    }
    expect(() => generateCausal(model, prompts, { maxNewTokens: 1, prefixLength: [1] })).toThrow('generateCausal: prefixLength has 1 entries for 2 prompts');
  });

  test('no tensors are left behind', () => {
    const run = () => tf.dispose(tf.tidy(() => model.forward(int2d(IDS), { attentionMask: int2d(MASK), prefixLength: [3, 2] }).logits));
    run();
    const before = tf.memory().numTensors;
    run();
    generateCausal(model, [[1, 2]], { maxNewTokens: 2, prefixLength: [2] });
    expect(tf.memory().numTensors).toBe(before);
  });
});
