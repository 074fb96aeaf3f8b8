import { tf, Tensor, maskedSoftmax } from '@mmzoo/core';
import { BACKENDS, useBackend } from '../../helpers/fixtures';
import { centralDiff, dot, expectAllClose, expectGradMatch, seededUniform, tensorOf } from '../../helpers/finite-diff';

const NEG_INF = -Infinity;

/** Plain-JS float64 softmax of each row of `s + m` (additive mask); a row that is all -inf gives zeros. */
function softmaxRef(s: ArrayLike<number>, m: ArrayLike<number> | undefined, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const z = Array.from({ length: cols }, (_, j) => s[r * cols + j] + (m ? m[r * cols + j] : 0));
    const mx = Math.max(...z);
    if (mx === -Infinity) continue;
    const e = z.map((v) => Math.exp(v - mx));
    const tot = e.reduce((a, b) => a + b, 0);
    e.forEach((v, j) => (out[r * cols + j] = v / tot));
  }
  return out;
}

const rand = seededUniform(99);

describe.each(BACKENDS)('ops/softmax maskedSoftmax on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  test('known values: softmax([1, 2, 3]) and with the middle key masked', () => {
    tf.tidy(() => {
      const s = tf.tensor2d([[1, 2, 3]]);
      // e^-2, e^-1, 1 over their sum 1.5032147
      expectAllClose(maskedSoftmax(s), [0.09003057, 0.24472847, 0.66524096], 'softmax([1,2,3])', { atol: 1e-6 });
      // only 1 and 3 remain: 1 / (1 + e^2) and e^2 / (1 + e^2)
      const m = tf.tensor2d([[0, NEG_INF, 0]]);
      expectAllClose(maskedSoftmax(s, m), [0.11920292, 0, 0.88079708], 'masked', { atol: 1e-6 });
      // a mask of shape [1, Nk] broadcasts over rows
      const s2 = tf.tensor2d([[1, 2, 3], [0, 0, 0]]);
      expectAllClose(maskedSoftmax(s2, m), [0.11920292, 0, 0.88079708, 0.5, 0, 0.5], 'broadcast mask', { atol: 1e-6 });
    });
  });

  test('stable for large scores (shifted by the row max)', () => {
    tf.tidy(() => {
      const p = maskedSoftmax(tf.tensor2d([[1000, 1000, 999]]));
      // 1 / (2 + e^-1), e^-1 / (2 + e^-1)
      expectAllClose(p, [0.42231882, 0.42231882, 0.15536236], 'large', { atol: 1e-6 });
    });
  });

  test('a fully -Infinity row gives zeros and zero gradient, no NaN; other rows unaffected', () => {
    tf.tidy(() => {
      const s = tf.tensor2d([[0.3, -0.2, 0.5], [1, 2, 3]]);
      const m = tf.tensor2d([[NEG_INF, NEG_INF, NEG_INF], [0, 0, 0]]);
      const p = maskedSoftmax(s, m);
      expectAllClose(p, [0, 0, 0, 0.09003057, 0.24472847, 0.66524096], 'p', { atol: 1e-6 });
      const dy = tf.tensor2d([[1, -2, 3], [0.5, 0.25, -1]]);
      const g = tf.grad((x: Tensor) => maskedSoftmax(x, m))(s, dy);
      const gd = Array.from(g.dataSync());
      expect(gd.every(Number.isFinite)).toBe(true);
      expect(gd.slice(0, 3).map(Math.abs)).toEqual([0, 0, 0]); // exactly zero (either sign)
      // row 2: dS = p * (dy - sum(dy * p)), as for an unmasked softmax
      const ref = tf.grad((x: Tensor) => tf.softmax(x))(tf.tensor2d([[1, 2, 3]]), tf.tensor2d([[0.5, 0.25, -1]]));
      expectAllClose(gd.slice(3), ref.dataSync(), 'unmasked row gradient');
    });
  });

  test('a fully masked row with a finite constant (-10000) behaves as the plain softmax of scores + mask', () => {
    tf.tidy(() => {
      // equal scores: uniform weights
      const m = tf.tensor2d([[-10000, -10000, -10000, -10000]]);
      expectAllClose(maskedSoftmax(tf.zeros([1, 4]), m), [0.25, 0.25, 0.25, 0.25], 'uniform', { atol: 1e-7 });
      // unequal scores: softmax(s - 10000) = softmax(s) up to float32 rounding of s - 10000 (ulp ~ 1e-3)
      const s = [0.5, -0.25, 1.0, 0.0];
      expectAllClose(maskedSoftmax(tf.tensor2d([s]), m), softmaxRef(s, undefined, 1, 4), 'reference', { atol: 2e-3, rtol: 2e-3 });
    });
  });

  test('gradient equals tf.softmax\'s without a mask and matches float64 finite differences with -inf masks', () => {
    const [rows, cols] = [4, 5];
    const S = rand(rows * cols, -2, 2);
    const R = rand(rows * cols);
    const M = new Float64Array(rows * cols);
    M[1] = NEG_INF;
    M[3] = NEG_INF;
    for (let j = 0; j < cols; j++) M[2 * cols + j] = NEG_INF; // row 2 fully masked
    M[3 * cols + 4] = NEG_INF;
    tf.tidy(() => {
      const s = tensorOf(S, [rows, cols]);
      const dy = tensorOf(R, [rows, cols]);
      const g0 = tf.grad((x: Tensor) => maskedSoftmax(x))(s, dy);
      const r0 = tf.grad((x: Tensor) => tf.softmax(x))(s, dy);
      expectAllClose(g0, r0.dataSync(), 'no mask vs tf.softmax', { atol: 1e-6 });
      const mask = tensorOf(M, [rows, cols]);
      expectAllClose(maskedSoftmax(s, mask), softmaxRef(S, M, rows, cols), 'masked value', { atol: 1e-6 });
      const g = tf.grad((x: Tensor) => maskedSoftmax(x, mask))(s, dy);
      const fd = centralDiff((x) => dot(R, softmaxRef(x, M, rows, cols)), Float64Array.from(S));
      expectGradMatch(g, fd, 'masked gradient vs finite differences', 1e-4);
    });
  });
});
