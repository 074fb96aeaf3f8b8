import { tf, Tensor, Tensor4D, applyRope, ropeAngles, ropeInverseFrequencies, ropeTables, RopeLayout } from '@mmzoo/core';
import { BACKENDS, useBackend } from '../../helpers/fixtures';
import { centralDiff, dot, expectAllClose, expectGradMatch, seededUniform, tensorOf } from '../../helpers/finite-diff';

/**
 * float64 RoPE written from RoFormer eq. 34 and the two layouts: x [B, H, T, d]; pair i of each head is (2i, 2i+1)
 * (interleaved) or (i, i + d/2) (half), rotated by pos[b][t] * theta^(-2i/d).
 */
function ropeRef(x: ArrayLike<number>, [b, h, t, d]: number[], pos: number[][], theta: number, layout: RopeLayout): Float64Array {
  const out = new Float64Array(x.length);
  for (let bi = 0; bi < b; bi++) for (let hi = 0; hi < h; hi++) for (let ti = 0; ti < t; ti++) {
    const base = ((bi * h + hi) * t + ti) * d;
    for (let i = 0; i < d / 2; i++) {
      const ang = pos[bi][ti] * theta ** ((-2 * i) / d);
      const [a, c] = layout === 'interleaved' ? [2 * i, 2 * i + 1] : [i, i + d / 2];
      out[base + a] = x[base + a] * Math.cos(ang) - x[base + c] * Math.sin(ang);
      out[base + c] = x[base + c] * Math.cos(ang) + x[base + a] * Math.sin(ang);
    }
  }
  return out;
}

/**
 * float64 2D RoPE as ChatGLM-6B's attention applies it (`position_encoding_2d`): each head's dims chunked in two
 * halves, the first rotated as a head of d/2 dims by pos, the second by block (each with {@link ropeRef}).
 */
function rope2dRef(x: ArrayLike<number>, [b, h, t, d]: number[], pos: number[][], block: number[][], theta: number, layout: RopeLayout): Float64Array {
  const half = (k: number) => Float64Array.from({ length: x.length / 2 }, (_, i) => x[Math.floor(i / (d / 2)) * d + k * (d / 2) + (i % (d / 2))]);
  const [r1, r2] = [ropeRef(half(0), [b, h, t, d / 2], pos, theta, layout), ropeRef(half(1), [b, h, t, d / 2], block, theta, layout)];
  return Float64Array.from({ length: x.length }, (_, i) => {
    const [row, k] = [Math.floor(i / d), i % d];
    return k < d / 2 ? r1[row * (d / 2) + k] : r2[row * (d / 2) + k - d / 2];
  });
}

const rand = seededUniform(11);
const SHAPE = [2, 3, 4, 8];
const POS = [[0, 1, 2, 3], [0, 0, 5, 9]];

describe.each(BACKENDS)('ops/rotary on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  test('inverse frequencies theta^(-2i/d) and angles t * freq', () => {
    expect(Array.from(ropeInverseFrequencies(8, 10000))).toEqual([1, 0.1, 0.01, 0.001].map(Math.fround));
    expect(Array.from(ropeInverseFrequencies(4, 100))).toEqual([1, 0.1].map(Math.fround));
    tf.tidy(() => {
      const a = ropeAngles(tf.tensor1d([0, 3], 'int32'), 4, 10000);
      expect(a.shape).toEqual([2, 2]);
      expectAllClose(a, [0, 0, 3, 0.03], 'angles');
    });
    expect(() => ropeInverseFrequencies(5, 10000)).toThrow('RoPE needs an even head dim, got 5');
    expect(() => ropeInverseFrequencies(4, 0)).toThrow('RoPE theta must be > 0, got 0');
  });

  test.each(['interleaved', 'half'] as const)('%s layout: matches the float64 rotation per row positions', (layout) => {
    const X = rand(2 * 3 * 4 * 8);
    tf.tidy(() => {
      const tables = ropeTables(tf.tensor2d(POS, undefined, 'int32'), 8, { theta: 100, layout });
      expect(tables.cos.shape).toEqual([2, 1, 4, 8]);
      expectAllClose(applyRope(tensorOf(X, SHAPE) as Tensor4D, tables), ropeRef(X, SHAPE, POS, 100, layout), layout);
    });
  });

  test('the two layouts differ, and position 0 is the identity', () => {
    const X = rand(2 * 3 * 4 * 8);
    tf.tidy(() => {
      const pos = tf.tensor2d(POS, undefined, 'int32');
      const x = tensorOf(X, SHAPE) as Tensor4D;
      const inter = applyRope(x, ropeTables(pos, 8, { layout: 'interleaved' }));
      const half = applyRope(x, ropeTables(pos, 8, { layout: 'half' }));
      expect(inter.sub(half).abs().max().dataSync()[0]).toBeGreaterThan(1e-2);
      // row 0, position 0 (first T slot of every head) is unchanged
      const first = (t: Tensor) => t.slice([0, 0, 0, 0], [1, 3, 1, 8]);
      expectAllClose(first(inter), first(x).dataSync(), 'position 0');
    });
  });

  test('relative positions: q at m and k at n give a dot product that depends on m - n only (RoFormer section 3.4.1)', () => {
    const Q = rand(8);
    const K = rand(8);
    for (const layout of ['interleaved', 'half'] as const) {
      const dotAt = (m: number, n: number) => tf.tidy(() => {
        const q = applyRope(tensorOf(Q, [1, 1, 1, 8]) as Tensor4D, ropeTables(tf.tensor2d([[m]], undefined, 'int32'), 8, { layout }));
        const k = applyRope(tensorOf(K, [1, 1, 1, 8]) as Tensor4D, ropeTables(tf.tensor2d([[n]], undefined, 'int32'), 8, { layout }));
        return q.mul(k).sum().dataSync()[0];
      });
      expect(Math.abs(dotAt(7, 5) - dotAt(3, 1))).toBeLessThan(1e-5);
      expect(Math.abs(dotAt(7, 5) - dotAt(3, 0))).toBeGreaterThan(1e-3);
    }
  });

  test('the gradient with respect to x matches finite differences of the reference', () => {
    const X = rand(2 * 3 * 4 * 8);
    const R = rand(2 * 3 * 4 * 8);
    for (const layout of ['interleaved', 'half'] as const) {
      const expected = centralDiff((x) => dot(R, ropeRef(x, SHAPE, POS, 10000, layout)), Float64Array.from(X));
      tf.tidy(() => {
        const tables = ropeTables(tf.tensor2d(POS, undefined, 'int32'), 8, { layout });
        const g = tf.grad((x: Tensor) => applyRope(x as Tensor4D, tables))(tensorOf(X, SHAPE), tensorOf(R, SHAPE));
        expectGradMatch(g, expected, `d/dx ${layout}`);
      });
    }
  });

  test('2D RoPE (GLM): the halves rotated by positions and block positions, values and gradient against the reference', () => {
    const X = rand(2 * 3 * 4 * 8);
    const R = rand(2 * 3 * 4 * 8);
    const BLOCK = [[0, 0, 1, 2], [0, 3, 0, 1]];
    for (const layout of ['interleaved', 'half'] as const) {
      const expected = centralDiff((x) => dot(R, rope2dRef(x, SHAPE, POS, BLOCK, 10000, layout)), Float64Array.from(X));
      tf.tidy(() => {
        const tables = ropeTables(tf.tensor2d(POS, undefined, 'int32'), 8, { layout, blockPositions: tf.tensor2d(BLOCK, undefined, 'int32') });
        expect(tables.halves).toBe(true);
        expectAllClose(applyRope(tensorOf(X, SHAPE) as Tensor4D, tables), rope2dRef(X, SHAPE, POS, BLOCK, 10000, layout), `2D ${layout}`);
        const g = tf.grad((x: Tensor) => applyRope(x as Tensor4D, tables))(tensorOf(X, SHAPE), tensorOf(R, SHAPE));
        expectGradMatch(g, expected, `d/dx 2D ${layout}`);
      });
    }
    tf.tidy(() => {
      const pos = tf.tensor2d([[0, 1]], undefined, 'int32');
      expect(() => ropeTables(pos, 8, { blockPositions: tf.tensor2d([[0, 1, 2]], undefined, 'int32') })).toThrow('ropeTables: blockPositions must be [1,2] like positions, got [1,3]');
      expect(() => ropeTables(pos, 6, { blockPositions: pos })).toThrow('ropeTables: 2D RoPE needs a head dim divisible by 4, got 6');
    });
  });

  test('tables that do not fit x, or positions that are not [B, T], are errors', () => {
    tf.tidy(() => {
      const tables = ropeTables(tf.tensor2d([[0, 1, 2]], undefined, 'int32'), 8);
      expect(() => applyRope(tf.zeros([1, 2, 4, 8]) as Tensor4D, tables)).toThrow('applyRope: tables [1,1,3,8] do not match x [1,2,4,8] (positions or head dim)');
      expect(() => ropeTables(tf.tensor1d([0, 1], 'int32'), 8)).toThrow('ropeTables: positions must be [B, T], got [2]');
    });
  });
});
