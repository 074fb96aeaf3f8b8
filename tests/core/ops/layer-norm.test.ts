import { tf, Tensor, layerNorm, LayerNorm } from '@mmzoo/core';
import { BACKENDS, useBackend } from '../../helpers/fixtures';
import { centralDiffs, dot, expectAllClose, expectGradMatch, seededUniform, tensorOf } from '../../helpers/finite-diff';

/** Plain-JS float64 LayerNorm over the last axis (biased variance), rows of width `dim`. */
function layerNormRef(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>, dim: number, eps: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / dim; r++) {
    let mean = 0;
    for (let j = 0; j < dim; j++) mean += x[r * dim + j];
    mean /= dim;
    let variance = 0;
    for (let j = 0; j < dim; j++) variance += (x[r * dim + j] - mean) ** 2;
    variance /= dim;
    const inv = 1 / Math.sqrt(variance + eps);
    for (let j = 0; j < dim; j++) out[r * dim + j] = (x[r * dim + j] - mean) * inv * w[j] + b[j];
  }
  return out;
}

const rand = seededUniform(5);

describe.each(BACKENDS)('ops/layer-norm on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  test('known values: [1, 2, 3, 4] normalises to (x - 2.5) / sqrt(1.25)', () => {
    tf.tidy(() => {
      const y = layerNorm(tf.tensor2d([[1, 2, 3, 4]]), tf.ones([4]), tf.zeros([4]), 0);
      expectAllClose(y, [-1.3416408, -0.4472136, 0.4472136, 1.3416408], 'unit affine', { atol: 1e-6 });
      // weight and bias are applied per feature after normalising
      const z = layerNorm(tf.tensor2d([[1, 2, 3, 4]]), tf.tensor1d([2, 0, 1, -1]), tf.tensor1d([0, 5, 0, 1]), 0);
      expectAllClose(z, [-2.6832816, 5, 0.4472136, -0.3416408], 'affine', { atol: 1e-6 });
    });
  });

  test('a constant row gives the bias (eps keeps it finite)', () => {
    tf.tidy(() => {
      const y = layerNorm(tf.fill([2, 3], 7), tf.ones([3]), tf.tensor1d([0.1, 0.2, 0.3]), 1e-5);
      expectAllClose(y, [0.1, 0.2, 0.3, 0.1, 0.2, 0.3], 'constant rows', { atol: 1e-6 });
    });
  });

  test('values on a rank-3 input and the LayerNorm module match a plain-JS reference', () => {
    const [dim, eps] = [5, 1e-5];
    const X = rand(2 * 3 * dim, -3, 3);
    const W = rand(dim, 0.5, 1.5);
    const B = rand(dim);
    tf.tidy(() => {
      const x = tensorOf(X, [2, 3, dim]);
      const y = layerNorm(x, tensorOf(W, [dim]), tensorOf(B, [dim]), eps);
      expect(y.shape).toEqual([2, 3, dim]);
      expectAllClose(y, layerNormRef(X, W, B, dim, eps), 'layerNorm', { atol: 1e-5 });
      const ln = new LayerNorm(dim, 1e-6);
      expect([...ln.namedParameters().keys()]).toEqual(['weight', 'bias']);
      expectAllClose(ln.apply(x), layerNormRef(X, new Float64Array(dim).fill(1), new Float64Array(dim), dim, 1e-6), 'module at init');
      ln.dispose();
    });
  });

  test('gradients w.r.t. x, weight and bias match float64 finite differences', () => {
    const [rows, dim, eps] = [4, 6, 1e-5];
    const X = rand(rows * dim, -2, 2);
    const W = rand(dim, 0.5, 1.5);
    const B = rand(dim);
    const R = rand(rows * dim);
    const fd = centralDiffs((x, w, b) => dot(R, layerNormRef(x, w, b, dim, eps)), [X, W, B].map((a) => Float64Array.from(a)));
    tf.tidy(() => {
      const args = [tensorOf(X, [rows, dim]), tensorOf(W, [dim]), tensorOf(B, [dim])];
      const grads = tf.grads((x: Tensor, w: Tensor, b: Tensor) => layerNorm(x, w, b, eps))(args, tensorOf(R, [rows, dim]));
      ['x', 'weight', 'bias'].forEach((name, i) => {
        expect(grads[i].shape).toEqual(args[i].shape);
        expectGradMatch(grads[i], fd[i], `d loss / d ${name}`, 1e-4);
      });
    });
  });
});
