import { tf, Tensor } from '@mmzoo/core';
import type { LmModel } from '@mmzoo/lm';
import { useBackend } from '../helpers/fixtures';
import { TINY_LMS, randomLm } from '../helpers/random-lm';
import { expectAllClose } from '../helpers/finite-diff';

// CausalLM.forward from input embeddings (HF `inputs_embeds`) and explicit positions (HF `position_ids`) on tiny
// random LLaMA, GPT-2 and OPT decoders: the embeddings of ids give what the ids give (with a padded mask, with the
// cache), positionIds override the positions derived from the mask, and bad shapes are one-line errors.
const IDS = [[5, 17, 3, 29, 8], [0, 0, 11, 2, 38]];
const MASK = [[1, 1, 1, 1, 1], [0, 0, 1, 1, 1]];

const int2d = (rows: number[][]) => tf.tensor2d(rows, undefined, 'int32');
/** forward's logits as nested arrays, nothing kept. */
const logitsOf = (model: LmModel, input: () => Tensor, opts: () => Parameters<LmModel['forward']>[1] = () => ({})) =>
  tf.tidy(() => model.forward(input(), opts()).logits.arraySync() as number[][][]);

beforeAll(() => useBackend('wasm'));

describe.each(Object.keys(TINY_LMS) as (keyof typeof TINY_LMS)[])('%s: forward from input embeddings', (name) => {
  let model: LmModel;
  beforeAll(() => {
    model = randomLm(TINY_LMS[name]);
  });
  afterAll(() => model.dispose());

  test('embedTokens is the token table looked up; embedDim its width', () => {
    expect(model.embedDim).toBe(32);
    const table = [...model.namedParameters()].find(([n]) => /(tok_embeddings|wte|embed_tokens)\.weight$/.test(n))![1];
    tf.tidy(() => {
      const e = model.embedTokens(int2d([[3, 0], [39, 3]]));
      expect(e.shape).toEqual([2, 2, 32]);
      expect(e.dtype).toBe('float32');
      const rows = table.arraySync() as number[][];
      expect(e.arraySync()).toEqual([[rows[3], rows[0]], [rows[39], rows[3]]]);
    });
  });

  test('forward(embedTokens(ids)) is forward(ids), bit for bit, with and without a padded attention mask', () => {
    expect(logitsOf(model, () => model.embedTokens(int2d(IDS)))).toEqual(logitsOf(model, () => int2d(IDS)));
    const mask = () => ({ attentionMask: int2d(MASK) });
    expect(logitsOf(model, () => model.embedTokens(int2d(IDS)), mask)).toEqual(logitsOf(model, () => int2d(IDS), mask));
  });

  test('with the cache: embeddings for the first three positions, then ids, give the logits of all ids at once', () => {
    const full = logitsOf(model, () => int2d(IDS), () => ({ attentionMask: int2d(MASK) }));
    const cache = model.newCache();
    const first = logitsOf(model, () => model.embedTokens(int2d(IDS.map((r) => r.slice(0, 3)))), () => ({ cache, attentionMask: int2d(MASK.map((r) => r.slice(0, 3))) }));
    const rest = logitsOf(model, () => int2d(IDS.map((r) => r.slice(3))), () => ({ cache, attentionMask: int2d(MASK) }));
    cache.dispose();
    // the real positions (row 1's first two are padding)
    expectAllClose([...first[0], ...rest[0], ...first[1].slice(2), ...rest[1]].flat(), [...full[0], ...full[1].slice(2)].flat(), 'cached logits', { atol: 1e-5, rtol: 1e-4 });
  });

  test('positionIds: arange(T) ([1, T] or [B, T]) is what no mask gives; cumsum(mask) - 1 is what the mask gives', () => {
    const plain = logitsOf(model, () => int2d(IDS));
    const arange = [0, 1, 2, 3, 4];
    expect(logitsOf(model, () => int2d(IDS), () => ({ positionIds: int2d([arange]) }))).toEqual(plain);
    expect(logitsOf(model, () => model.embedTokens(int2d(IDS)), () => ({ positionIds: int2d([arange, arange]) }))).toEqual(plain);
    const padded = logitsOf(model, () => int2d(IDS), () => ({ attentionMask: int2d(MASK) }));
    const fromMask = logitsOf(model, () => int2d(IDS), () => ({ attentionMask: int2d(MASK), positionIds: int2d([arange, [0, 0, 0, 1, 2]]) }));
    expectAllClose(fromMask[1].slice(2).flat(), padded[1].slice(2).flat(), 'positions cumsum(mask) - 1');
    // other positions under the same mask: row 1's last token at 3 instead of 2 changes its logits
    const other = logitsOf(model, () => int2d(IDS), () => ({ attentionMask: int2d(MASK), positionIds: int2d([arange, [0, 0, 0, 1, 3]]) }));
    expect(other[0]).toEqual(padded[0]);
    expectAllClose(other[1][3], padded[1][3], 'positions before the change');
    expect(Math.max(...other[1][4].map((v, i) => Math.abs(v - padded[1][4][i])))).toBeGreaterThan(1e-3);
    // arange under the mask (what LAVIS InstructBLIP trains with) shifts row 1's real tokens by 2: learned positions
    // see it, RoPE (relative) does not
    const shifted = logitsOf(model, () => int2d(IDS), () => ({ attentionMask: int2d(MASK), positionIds: int2d([arange]) }));
    const change = Math.max(...shifted[1].slice(2).flat().map((v, i) => Math.abs(v - padded[1].slice(2).flat()[i])));
    if (name === 'Llama') expect(change).toBeLessThan(1e-4);
    else expect(change).toBeGreaterThan(1e-3);
  });

  test('one-line errors naming the model and the shape', () => {
    const ids = int2d(IDS);
    const wide = tf.zeros([2, 5, 31]);
    const intEmbeds = tf.zeros([2, 5, 32], 'int32');
    expect(() => model.forward(tf.tensor1d([1, 2], 'int32'))).toThrow(`${name}.forward: input must be int32 [B, T] ids or float32 [B, T, 32] embeddings, got int32 [2]`);
    expect(() => model.forward(wide)).toThrow(`${name}.forward: input must be int32 [B, T] ids or float32 [B, T, 32] embeddings, got float32 [2,5,31]`);
    expect(() => model.forward(intEmbeds)).toThrow(`${name}.forward: input must be int32 [B, T] ids or float32 [B, T, 32] embeddings, got int32 [2,5,32]`);
    expect(() => model.embedTokens(intEmbeds)).toThrow(`${name}.embedTokens: ids must be int32 [B, T], got [2,5,32]`);
    expect(() => model.forward(ids, { positionIds: int2d([[0, 1, 2]]) })).toThrow(`${name}.forward: positionIds must be int32 [2, 5] or [1, 5] (the new positions), got [1,3]`);
    expect(() => model.forward(ids, { positionIds: tf.zeros([3, 5], 'int32') })).toThrow(`${name}.forward: positionIds must be int32 [2, 5] or [1, 5] (the new positions), got [3,5]`);
    tf.dispose([ids, wide, intEmbeds]);
  });

  test('no tensors are left behind', () => {
    const ids = int2d(IDS);
    const positions = int2d([[4, 3, 2, 1, 0]]);
    const run = () => {
      const e = model.embedTokens(ids);
      tf.dispose([e, ...Object.values(model.forward(e, { positionIds: positions }))]);
    };
    run(); // warm-up
    const before = tf.memory().numTensors;
    run();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([ids, positions]);
  });
});
