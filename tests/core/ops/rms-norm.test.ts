import { tf, Tensor, rmsNorm, RMSNorm } from '@mmzoo/core';
import { BACKENDS, useBackend } from '../../helpers/fixtures';
import { centralDiffs, dot, expectAllClose, expectGradMatch, seededUniform, tensorOf } from '../../helpers/finite-diff';

/** float64 RMSNorm over rows of width d: x * (mean(x^2) + eps)^-1/2 * w */
function rmsRef(x: ArrayLike<number>, w: ArrayLike<number>, d: number, eps: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / d; r++) {
    let ms = 0;
    for (let i = 0; i < d; i++) ms += x[r * d + i] ** 2 / d;
    for (let i = 0; i < d; i++) out[r * d + i] = (x[r * d + i] / Math.sqrt(ms + eps)) * w[i];
  }
  return out;
}

const rand = seededUniform(5);

describe.each(BACKENDS)('ops/rms-norm on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  test('known values: [3, 4] has mean square 12.5, so it becomes [3, 4] / sqrt(12.5); no mean is subtracted', () => {
    tf.tidy(() => {
      expectAllClose(rmsNorm(tf.tensor2d([[3, 4]]), tf.tensor1d([1, 1]), 0), [0.8485281, 1.1313708], 'eps 0', { atol: 1e-6 });
      // eps enters under the root: [1, 1] with eps 1 -> 1 / sqrt(2); weight scales per dim
      expectAllClose(rmsNorm(tf.tensor2d([[1, 1]]), tf.tensor1d([2, -1]), 1), [Math.SQRT2, -Math.SQRT1_2], 'eps 1, weight');
    });
  });

  test('random rows match the float64 reference; the module uses its weight and eps', () => {
    const X = rand(3 * 8, -2, 2);
    const W = rand(8, 0.5, 1.5);
    tf.tidy(() => {
      expectAllClose(rmsNorm(tensorOf(X, [3, 8]), tensorOf(W, [8]), 1e-5), rmsRef(X, W, 8, 1e-5), 'rmsNorm');
      const norm = new RMSNorm(8, 1e-6);
      expect([...norm.namedParameters().keys()]).toEqual(['weight']);
      norm.weight.assign(tensorOf(W, [8]));
      expectAllClose(norm.apply(tensorOf(X, [1, 3, 8])), rmsRef(X, W, 8, 1e-6), 'RMSNorm module');
      norm.dispose();
    });
  });

  test('gradients for x and weight match finite differences of the float64 reference', () => {
    const X = rand(2 * 6, -2, 2);
    const W = rand(6, 0.5, 1.5);
    const R = rand(2 * 6);
    const [gx, gw] = centralDiffs((x, w) => dot(R, rmsRef(x, w, 6, 1e-5)), [Float64Array.from(X), Float64Array.from(W)]);
    tf.tidy(() => {
      const g = tf.grads((x: Tensor, w: Tensor) => rmsNorm(x, w, 1e-5))([tensorOf(X, [2, 6]), tensorOf(W, [6])], tensorOf(R, [2, 6]));
      expectGradMatch(g[0], gx, 'd/dx');
      expectGradMatch(g[1], gw, 'd/dweight');
    });
  });

  test('a weight of the wrong width is an error naming both shapes', () => {
    tf.tidy(() => expect(() => rmsNorm(tf.zeros([2, 4]), tf.ones([3]), 1e-5)).toThrow('rmsNorm: weight [3] does not match the last axis of x [2,4]'));
  });
});
