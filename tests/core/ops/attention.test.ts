import {
  tf, Tensor, Tensor4D, scaledDotProductAttention, causalMask, keyPaddingMask, splitHeads, mergeHeads,
} from '@mmzoo/core';
import { BACKENDS, useBackend } from '../../helpers/fixtures';
import { centralDiffs, dot, expectAllClose, expectGradMatch, seededUniform, tensorOf } from '../../helpers/finite-diff';

const NEG_INF = -Infinity;

interface Dims { b: number; h: number; nq: number; nk: number; d: number; dv: number }

/**
 * Plain-JS float64 attention `softmax(scale q k^T + bias + mask) v` with full-shape [B, H, Nq, Nk] mask and
 * bias arrays (or none); a query row whose keys are all -inf gives zeros.
 */
function attentionRef(
  q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>, dims: Dims,
  mask?: ArrayLike<number>, bias?: ArrayLike<number>, scale = 1 / Math.sqrt(dims.d),
): Float64Array {
  const { b, h, nq, nk, d, dv } = dims;
  const out = new Float64Array(b * h * nq * dv);
  for (let bh = 0; bh < b * h; bh++) {
    for (let i = 0; i < nq; i++) {
      const z = new Float64Array(nk);
      for (let j = 0; j < nk; j++) {
        let s = 0;
        for (let t = 0; t < d; t++) s += q[(bh * nq + i) * d + t] * scale * k[(bh * nk + j) * d + t];
        const at = (bh * nq + i) * nk + j;
        z[j] = s + (bias ? bias[at] : 0) + (mask ? mask[at] : 0);
      }
      const mx = Math.max(...z);
      if (mx === -Infinity) continue;
      const e = z.map((x) => Math.exp(x - mx));
      const tot = e.reduce((a, c) => a + c, 0);
      for (let j = 0; j < nk; j++) {
        for (let t = 0; t < dv; t++) out[(bh * nq + i) * dv + t] += (e[j] / tot) * v[(bh * nk + j) * dv + t];
      }
    }
  }
  return out;
}

/** Expands a [B, 1, Nq, Nk] or [1, H, Nq, Nk] array to the full [B, H, Nq, Nk] layout. */
function expand(x: ArrayLike<number>, dims: Dims, over: 'heads' | 'batch'): Float64Array {
  const { b, h, nq, nk } = dims;
  const out = new Float64Array(b * h * nq * nk);
  const plane = nq * nk;
  for (let bi = 0; bi < b; bi++) for (let hi = 0; hi < h; hi++) {
    const src = over === 'heads' ? bi : hi;
    for (let p = 0; p < plane; p++) out[(bi * h + hi) * plane + p] = x[src * plane + p];
  }
  return out;
}

const rand = seededUniform(7);

describe.each(BACKENDS)('ops/attention on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  test('known small example worked by hand, with and without a causal mask', () => {
    tf.tidy(() => {
      // d = 1 so scale = 1; query 0 is 0 (uniform weights), query 1 is ln 3 (scores 0, ln 3 -> weights 1/4, 3/4)
      const q = tf.tensor4d([0, Math.log(3)], [1, 1, 2, 1]);
      const k = tf.tensor4d([0, 1], [1, 1, 2, 1]);
      const v = tf.tensor4d([4, 0, 0, 8], [1, 1, 2, 2]);
      expectAllClose(scaledDotProductAttention(q, k, v), [2, 4, 1, 6], 'no mask');
      // causal: query 0 sees key 0 only
      expectAllClose(scaledDotProductAttention(q, k, v, causalMask(2)), [4, 0, 1, 6], 'causal');
      // explicit scale 0: every query uniform
      expectAllClose(scaledDotProductAttention(q, k, v, undefined, 0), [2, 4, 2, 4], 'scale 0');
      // additive bias [0, ln 3] on query 0 gives it weights 1/4, 3/4 too
      const bias = tf.tensor4d([0, Math.log(3), 0, 0], [1, 1, 2, 2]);
      expectAllClose(scaledDotProductAttention(q, k, v, undefined, undefined, bias), [1, 6, 1, 6], 'bias');
    });
  });

  test('causalMask and keyPaddingMask values', () => {
    tf.tidy(() => {
      const c = causalMask(3);
      expect(c.shape).toEqual([3, 3]);
      expect(Array.from(c.dataSync())).toEqual([0, NEG_INF, NEG_INF, 0, 0, NEG_INF, 0, 0, 0]);
      expect(Array.from(causalMask(2, -10000).dataSync())).toEqual([0, -10000, 0, 0]);
      expect(Array.from(causalMask(1).dataSync())).toEqual([0]);
      const valid = tf.tensor2d([[1, 1, 0], [1, 0, 0]], undefined, 'int32');
      const p = keyPaddingMask(valid);
      expect(p.shape).toEqual([2, 1, 1, 3]);
      expect(Array.from(p.dataSync())).toEqual([0, 0, NEG_INF, 0, NEG_INF, NEG_INF]);
      const pf = keyPaddingMask(tf.tensor2d([[0, 1]]), -10000);
      expect(Array.from(pf.dataSync())).toEqual([-10000, 0]);
    });
  });

  test('splitHeads / mergeHeads: heads are contiguous slices of the feature axis', () => {
    tf.tidy(() => {
      const x = tf.range(0, 8).reshape([1, 2, 4]);
      const s = splitHeads(x, 2);
      expect(s.shape).toEqual([1, 2, 2, 2]);
      expect(Array.from(s.dataSync())).toEqual([0, 1, 4, 5, 2, 3, 6, 7]);
      expect(Array.from(mergeHeads(s).dataSync())).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    });
  });

  test('key padding mask: padded keys get no weight (equals attention over the real keys only)', () => {
    const dims: Dims = { b: 1, h: 2, nq: 3, nk: 4, d: 2, dv: 3 };
    const Q = rand(1 * 2 * 3 * 2);
    const K = rand(1 * 2 * 4 * 2);
    const V = rand(1 * 2 * 4 * 3);
    tf.tidy(() => {
      const q = tensorOf(Q, [1, 2, 3, 2]) as Tensor4D;
      const k = tensorOf(K, [1, 2, 4, 2]) as Tensor4D;
      const v = tensorOf(V, [1, 2, 4, 3]) as Tensor4D;
      const out = scaledDotProductAttention(q, k, v, keyPaddingMask(tf.tensor2d([[1, 1, 1, 0]])));
      const trimmed = scaledDotProductAttention(q, k.slice([0, 0, 0, 0], [1, 2, 3, 2]), v.slice([0, 0, 0, 0], [1, 2, 3, 3]));
      expectAllClose(out, trimmed.dataSync(), 'padded vs trimmed');
      expectAllClose(out, attentionRef(Q, K, V, dims, expand([0, 0, 0, NEG_INF, 0, 0, 0, NEG_INF, 0, 0, 0, NEG_INF], dims, 'heads')), 'vs reference');
    });
  });

  test('a query row whose keys are all -Infinity gives zeros and zero gradient (no NaN) for q, k, v', () => {
    const dims: Dims = { b: 1, h: 1, nq: 2, nk: 3, d: 2, dv: 2 };
    tf.tidy(() => {
      const q = tensorOf(rand(4), [1, 1, 2, 2]) as Tensor4D;
      const k = tensorOf(rand(6), [1, 1, 3, 2]) as Tensor4D;
      const v = tensorOf(rand(6), [1, 1, 3, 2]) as Tensor4D;
      const mask = tf.tensor4d([NEG_INF, NEG_INF, NEG_INF, 0, 0, NEG_INF], [1, 1, 2, 3]);
      const f = (a: Tensor, b: Tensor, c: Tensor) => scaledDotProductAttention(a as Tensor4D, b as Tensor4D, c as Tensor4D, mask);
      const out = f(q, k, v);
      expect(Array.from(out.dataSync()).slice(0, 2).map(Math.abs)).toEqual([0, 0]);
      expectAllClose(Array.from(out.dataSync()).slice(2), attentionRef(q.dataSync(), k.dataSync(), v.dataSync(), dims, mask.dataSync()).slice(2), 'row 1');
      // a loss that reads only the fully masked row: every gradient is exactly zero
      const onlyRow0 = tf.tensor4d([1, -2, 0, 0], [1, 1, 2, 2]);
      for (const g of tf.grads(f)([q, k, v], onlyRow0)) {
        const gd = Array.from(g.dataSync());
        expect(gd.every(Number.isFinite)).toBe(true);
        expect(gd.map(Math.abs)).toEqual(gd.map(() => 0));
      }
      // a loss over both rows: finite, and q's gradient for the masked row is zero
      const both = tf.tensor4d([1, -2, 0.5, 3], [1, 1, 2, 2]);
      const [gq, gk, gv] = tf.grads(f)([q, k, v], both);
      for (const g of [gq, gk, gv]) expect(Array.from(g.dataSync()).every(Number.isFinite)).toBe(true);
      expect(Array.from(gq.dataSync()).slice(0, 2).map(Math.abs)).toEqual([0, 0]);
      expect(Math.abs(gk.dataSync()[4]) + Math.abs(gv.dataSync()[4])).toBe(0); // key 2 is masked for every query
    });
  });

  test('a query row fully masked by the finite constant -10000 follows the reference (uniform for equal scores)', () => {
    const dims: Dims = { b: 1, h: 1, nq: 2, nk: 3, d: 2, dv: 2 };
    const Q = [0, 0, 0.5, -0.5]; // query 0 is zero: all scores equal
    const K = rand(6);
    const V = [1, 2, 3, 4, 5, 9];
    const M = [-10000, -10000, -10000, 0, -10000, 0];
    tf.tidy(() => {
      const q = tensorOf(Q, [1, 1, 2, 2]) as Tensor4D;
      const k = tensorOf(K, [1, 1, 3, 2]) as Tensor4D;
      const v = tensorOf(V, [1, 1, 3, 2]) as Tensor4D;
      const mask = tensorOf(M, [1, 1, 2, 3]);
      const out = scaledDotProductAttention(q, k, v, mask);
      // query 0: uniform weights over all three keys, the mean of v's rows
      expectAllClose(Array.from(out.dataSync()).slice(0, 2), [3, 5], 'uniform row', { atol: 1e-5 });
      expectAllClose(out, attentionRef(Q, K, V, dims, M), 'vs reference', { atol: 1e-4 });
      const [gq, gk, gv] = tf.grads((a: Tensor, b: Tensor, c: Tensor) =>
        scaledDotProductAttention(a as Tensor4D, b as Tensor4D, c as Tensor4D, mask))([q, k, v], tf.onesLike(out));
      for (const g of [gq, gk, gv]) expect(Array.from(g.dataSync()).every(Number.isFinite)).toBe(true);
      // d out[0] / d v: 1/3 per key for the uniform row
      const gvRow0 = tf.grad((c: Tensor) => scaledDotProductAttention(q, k, c as Tensor4D, mask))(v, tf.tensor4d([1, 0, 0, 0], [1, 1, 2, 2]));
      expectAllClose(gvRow0, [1 / 3, 0, 1 / 3, 0, 1 / 3, 0], 'dv of the uniform row', { atol: 1e-6 });
    });
  });

  test('gradients w.r.t. q, k, v and bias match float64 finite differences (masked, multi-head, Nq != Nk)', () => {
    const dims: Dims = { b: 2, h: 2, nq: 3, nk: 4, d: 3, dv: 2 };
    const { b, h, nq, nk, d, dv } = dims;
    const Q = rand(b * h * nq * d, -2, 2);
    const K = rand(b * h * nk * d, -2, 2);
    const V = rand(b * h * nk * dv, -2, 2);
    const BIAS = rand(h * nq * nk); // [1, H, Nq, Nk]
    const R = rand(b * h * nq * dv);
    // [B, 1, Nq, Nk]: batch 0 causal-like, batch 1 with a fully masked query row and padded keys
    const M = [
      0, 0, NEG_INF, NEG_INF, 0, 0, 0, NEG_INF, 0, 0, 0, 0,
      NEG_INF, NEG_INF, NEG_INF, NEG_INF, 0, NEG_INF, 0, NEG_INF, 0, 0, 0, NEG_INF,
    ];
    const fullM = expand(M, dims, 'heads');
    const loss = (q: Float64Array, k: Float64Array, v: Float64Array, bias: Float64Array) =>
      dot(R, attentionRef(q, k, v, dims, fullM, expand(bias, dims, 'batch')));
    const fd = centralDiffs(loss, [Q, K, V, BIAS].map((x) => Float64Array.from(x)));
    tf.tidy(() => {
      const args = [tensorOf(Q, [b, h, nq, d]), tensorOf(K, [b, h, nk, d]), tensorOf(V, [b, h, nk, dv]), tensorOf(BIAS, [1, h, nq, nk])];
      const mask = tensorOf(M, [b, 1, nq, nk]);
      const f = (q: Tensor, k: Tensor, v: Tensor, bias: Tensor) =>
        scaledDotProductAttention(q as Tensor4D, k as Tensor4D, v as Tensor4D, mask, undefined, bias);
      expectAllClose(f(args[0], args[1], args[2], args[3]), attentionRef(Q, K, V, dims, fullM, expand(BIAS, dims, 'batch')), 'value');
      const grads = tf.grads(f)(args, tensorOf(R, [b, h, nq, dv]));
      ['q', 'k', 'v', 'bias'].forEach((name, i) => {
        expect(grads[i].shape).toEqual(args[i].shape);
        expectGradMatch(grads[i], fd[i], `d loss / d ${name}`, 1e-4);
      });
    });
  });
});
