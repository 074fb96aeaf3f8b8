import { tf, Tensor, CausalSelfAttention, KVCache, decoderMask, ropeTables } from '@mmzoo/core';
import { BACKENDS, useBackend } from '../../helpers/fixtures';
import { centralDiff, dot, expectAllClose, expectGradMatch, seededUniform, tensorOf } from '../../helpers/finite-diff';

const W = 8;
const H = 4;
const KV = 2;
const D = W / H;
const rand = seededUniform(23);
const WQ = rand(W * W, -0.5, 0.5);
const WK = rand(KV * D * W, -0.5, 0.5);
const WV = rand(KV * D * W, -0.5, 0.5);
const WO = rand(W * W, -0.5, 0.5);

/** y = x @ w^T for x [n, in], w [out, in], in float64 */
function lin(x: ArrayLike<number>, w: ArrayLike<number>, n: number, inF: number, outF: number): Float64Array {
  const y = new Float64Array(n * outF);
  for (let r = 0; r < n; r++) for (let o = 0; o < outF; o++) for (let i = 0; i < inF; i++) y[r * outF + o] += x[r * inF + i] * w[o * inF + i];
  return y;
}

/**
 * float64 grouped-query causal self-attention for one row x [T, W], no RoPE: query head h uses kv head
 * floor(h / (H / KV)) (or h % KV with `tiled`, the wrong order), scale d^-1/2, causal, heads concatenated, then wo.
 */
function attentionRef(x: ArrayLike<number>, t: number, tiled = false): Float64Array {
  const q = lin(x, WQ, t, W, W);
  const k = lin(x, WK, t, W, KV * D);
  const v = lin(x, WV, t, W, KV * D);
  const merged = new Float64Array(t * W);
  for (let h = 0; h < H; h++) {
    const g = tiled ? h % KV : Math.floor(h / (H / KV));
    for (let i = 0; i < t; i++) {
      const s = Array.from({ length: i + 1 }, (_, j) => {
        let acc = 0;
        for (let c = 0; c < D; c++) acc += q[i * W + h * D + c] * k[j * KV * D + g * D + c];
        return acc / Math.sqrt(D);
      });
      const mx = Math.max(...s);
      const e = s.map((z) => Math.exp(z - mx));
      const tot = e.reduce((a, b) => a + b, 0);
      for (let c = 0; c < D; c++) merged[i * W + h * D + c] = e.reduce((acc, p, j) => acc + (p / tot) * v[j * KV * D + g * D + c], 0);
    }
  }
  return lin(merged, WO, t, W, W);
}

function build(): CausalSelfAttention {
  const attn = new CausalSelfAttention({ width: W, numHeads: H, numKvHeads: KV });
  attn.q.weight.assign(tensorOf(WQ, [W, W]));
  attn.k.weight.assign(tensorOf(WK, [KV * D, W]));
  attn.v.weight.assign(tensorOf(WV, [KV * D, W]));
  attn.out.weight.assign(tensorOf(WO, [W, W]));
  return attn;
}

describe.each(BACKENDS)('nn/causal-self-attention on %s', (backend) => {
  let attn: CausalSelfAttention;
  beforeAll(async () => {
    await useBackend(backend);
    attn = build();
  });
  afterAll(() => attn.dispose());

  test('parameters: llama2.c names and grouped shapes, no biases by default; HF names and biases on request', () => {
    expect([...attn.namedParameters()].map(([n, v]) => `${n} [${v.shape}]`)).toEqual(['wq.weight [8,8]', 'wk.weight [4,8]', 'wv.weight [4,8]', 'wo.weight [8,8]']);
    const hf = new CausalSelfAttention({ width: 8, numHeads: 2, bias: true, names: { q: 'q_proj', k: 'k_proj', v: 'v_proj', out: 'out_proj' } });
    expect([...hf.namedParameters().keys()]).toEqual(['q_proj.weight', 'q_proj.bias', 'k_proj.weight', 'k_proj.bias', 'v_proj.weight', 'v_proj.bias', 'out_proj.weight', 'out_proj.bias']);
    hf.dispose();
    expect(() => new CausalSelfAttention({ width: 8, numHeads: 4, numKvHeads: 3 })).toThrow('numHeads 4 is not divisible by numKvHeads 3');
    expect(() => new CausalSelfAttention({ width: 9, numHeads: 4 })).toThrow('attention width 9 is not divisible by numHeads 4');
  });

  test('matches the float64 grouped-query reference (and not the tiled head order)', () => {
    const X = rand(2 * 5 * W);
    tf.tidy(() => {
      const y = attn.apply(tensorOf(X, [2, 5, W]), { mask: decoderMask(5, 5) });
      const ref = [...attentionRef(X.slice(0, 5 * W), 5), ...attentionRef(X.slice(5 * W), 5)];
      expectAllClose(y, ref, 'grouped-query attention');
      const tiled = attentionRef(X.slice(0, 5 * W), 5, true);
      const diff = Math.max(...Array.from(y.dataSync()).slice(0, 5 * W).map((v, i) => Math.abs(v - tiled[i])));
      expect(diff).toBeGreaterThan(1e-3);
    });
  });

  test('with the KV cache, a prompt then one token at a time gives the full pass (RoPE included); dispose frees the cache', () => {
    const X = rand(2 * 5 * W);
    const before = tf.memory().numTensors;
    const full = tf.tidy(() => {
      const rope = ropeTables(tf.range(0, 5, 1, 'int32').reshape([1, 5]), D);
      return attn.apply(tensorOf(X, [2, 5, W]), { mask: decoderMask(5, 5), rope });
    });
    const cache = new KVCache(1);
    const parts: Tensor[] = [];
    for (const [start, len] of [[0, 3], [3, 1], [4, 1]]) {
      parts.push(tf.tidy(() => {
        const x = tensorOf(X, [2, 5, W]).slice([0, start, 0], [2, len, W]);
        const rope = ropeTables(tf.range(start, start + len, 1, 'int32').reshape([1, len]), D);
        return attn.apply(x, { mask: decoderMask(len, start + len), rope, cache: { cache, layer: 0 } });
      }));
      cache.commit();
      expect(cache.length).toBe(start + len);
    }
    const stepped = tf.concat(parts, 1);
    expectAllClose(stepped, full.dataSync(), 'cached steps vs full pass');
    tf.dispose([full, stepped, ...parts]);
    expect(tf.memory().numTensors).toBe(before + 2); // the cache's keys and values
    cache.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  test('the gradient with respect to the input matches finite differences of the reference', () => {
    const X = rand(4 * W);
    const R = rand(4 * W);
    const expected = centralDiff((x) => dot(R, attentionRef(x, 4)), Float64Array.from(X));
    tf.tidy(() => {
      const g = tf.grad((x: Tensor) => attn.apply(x, { mask: decoderMask(4, 4) }))(tensorOf(X, [1, 4, W]), tensorOf(R, [1, 4, W]));
      expectGradMatch(g, expected, 'd/dx');
    });
  });
});

describe('nn/kv-cache', () => {
  test('appending a layer twice in one step, an unknown layer, or mismatched heads is an error; commit checks every layer', () => {
    const cache = new KVCache(2);
    const k = tf.zeros([1, 2, 3, 4]) as tf.Tensor4D;
    cache.append(0, k, k);
    expect(() => cache.append(0, k, k)).toThrow('KVCache: layer 0 already holds 3 positions, the cache 0 (appended twice without commit?)');
    expect(() => cache.append(2, k, k)).toThrow('KVCache: layer 2 is not in [0, 2)');
    expect(() => cache.commit()).toThrow('KVCache: layers hold different lengths [3,0] at commit');
    cache.append(1, k, k);
    cache.commit();
    expect(cache.length).toBe(3);
    const wrong = tf.zeros([1, 1, 1, 4]) as tf.Tensor4D;
    expect(() => cache.append(0, wrong, wrong)).toThrow('KVCache: layer 0 keys [1,1,1,4] do not extend the cached [1,2,3,4]');
    cache.dispose();
    expect(cache.length).toBe(0);
    tf.dispose([k, wrong]);
  });
});
