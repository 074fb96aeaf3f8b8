import { tf, Tensor, Tensor2D, Tensor3D, matMul2d, batchMatMul, linear, project } from '@mmzoo/core';
import { BACKENDS, useBackend } from '../../helpers/fixtures';
import { expectAllClose, seededUniform, tensorOf } from '../../helpers/finite-diff';

/** Plain-JS [M, K] x [K, N] product in float64, row-major. */
function mm(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let t = 0; t < k; t++) s += a[i * k + t] * b[t * n + j];
    out[i * n + j] = s;
  }
  return out;
}

/** Plain-JS transpose of a row-major [r, c] matrix. */
function tr(a: ArrayLike<number>, r: number, c: number): Float64Array {
  const out = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = a[i * c + j];
  return out;
}

const rand = seededUniform(1234);

describe.each(BACKENDS)('ops/matmul on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  test('matMul2d: value and gradients equal tf.matMul and a plain-JS product', () => {
    const [m, k, n] = [5, 7, 3];
    const A = rand(m * k);
    const B = rand(k * n);
    const DY = rand(m * n);
    tf.tidy(() => {
      const a = tensorOf(A, [m, k]) as Tensor2D;
      const b = tensorOf(B, [k, n]) as Tensor2D;
      const dy = tensorOf(DY, [m, n]);
      const y = matMul2d(a, b);
      expect(y.shape).toEqual([m, n]);
      expectAllClose(y, mm(A, B, m, k, n), 'value vs plain JS');
      expectAllClose(y, tf.matMul(a, b).dataSync(), 'value vs tf.matMul');
      const [da, db] = tf.grads((x: Tensor, w: Tensor) => matMul2d(x as Tensor2D, w as Tensor2D))([a, b], dy);
      const [ra, rb] = tf.grads((x: Tensor, w: Tensor) => tf.matMul(x as Tensor2D, w as Tensor2D))([a, b], dy);
      expect(da.shape).toEqual([m, k]);
      expect(db.shape).toEqual([k, n]);
      expectAllClose(da, ra.dataSync(), 'da vs tf.matMul');
      expectAllClose(db, rb.dataSync(), 'db vs tf.matMul');
      // independent: da = dy @ b^T, db = a^T @ dy
      expectAllClose(da, mm(DY, tr(B, k, n), m, n, k), 'da vs plain JS');
      expectAllClose(db, mm(tr(A, m, k), DY, k, m, n), 'db vs plain JS');
    });
  });

  test('matMul2d inside a composite loss: gradient equals that of tf.matMul', () => {
    tf.tidy(() => {
      const a = tensorOf(rand(6), [2, 3]) as Tensor2D;
      const b = tensorOf(rand(12), [3, 4]) as Tensor2D;
      // d/da sum((a @ b)^2) = 2 (a b) b^T
      const g = tf.grad((x: Tensor) => matMul2d(x as Tensor2D, b).square().sum())(a);
      const ref = tf.grad((x: Tensor) => tf.matMul(x as Tensor2D, b).square().sum())(a);
      expectAllClose(g, ref.dataSync(), 'grad of squared product');
    });
  });

  test('matMul2d rejects mismatched inner dimensions', () => {
    tf.tidy(() => {
      expect(() => matMul2d(tf.zeros([2, 3]) as Tensor2D, tf.zeros([4, 2]) as Tensor2D)).toThrow();
    });
  });

  test('batchMatMul: value and gradients equal tf.matMul per batch item', () => {
    const [nb, m, k, n] = [3, 4, 5, 2];
    const A = rand(nb * m * k);
    const B = rand(nb * k * n);
    const DY = rand(nb * m * n);
    tf.tidy(() => {
      const a = tensorOf(A, [nb, m, k]) as Tensor3D;
      const b = tensorOf(B, [nb, k, n]) as Tensor3D;
      const dy = tensorOf(DY, [nb, m, n]);
      const y = batchMatMul(a, b);
      const ref = new Float64Array(nb * m * n);
      for (let i = 0; i < nb; i++) ref.set(mm(A.subarray(i * m * k, (i + 1) * m * k), B.subarray(i * k * n, (i + 1) * k * n), m, k, n), i * m * n);
      expectAllClose(y, ref, 'value vs plain JS');
      const [da, db] = tf.grads((x: Tensor, w: Tensor) => batchMatMul(x as Tensor3D, w as Tensor3D))([a, b], dy);
      const [ra, rb] = tf.grads((x: Tensor, w: Tensor) => tf.matMul(x as Tensor3D, w as Tensor3D))([a, b], dy);
      expect(da.shape).toEqual([nb, m, k]);
      expect(db.shape).toEqual([nb, k, n]);
      expectAllClose(da, ra.dataSync(), 'da vs tf.matMul');
      expectAllClose(db, rb.dataSync(), 'db vs tf.matMul');
    });
  });

  test('linear on a rank-3 input: x @ W^T + b with W [out, in]; gradients equal the stock tfjs path', () => {
    const [b0, b1, inDim, outDim] = [2, 3, 4, 6];
    const X = rand(b0 * b1 * inDim);
    const W = rand(outDim * inDim);
    const BIAS = rand(outDim);
    const DY = rand(b0 * b1 * outDim);
    tf.tidy(() => {
      const x = tensorOf(X, [b0, b1, inDim]);
      const w = tensorOf(W, [outDim, inDim]) as Tensor2D;
      const bias = tensorOf(BIAS, [outDim]);
      const dy = tensorOf(DY, [b0, b1, outDim]);
      const y = linear(x, w, bias);
      expect(y.shape).toEqual([b0, b1, outDim]);
      const ref = mm(X, tr(W, outDim, inDim), b0 * b1, inDim, outDim).map((v, i) => v + BIAS[i % outDim]);
      expectAllClose(y, ref, 'value vs plain JS');
      expectAllClose(linear(x, w), mm(X, tr(W, outDim, inDim), b0 * b1, inDim, outDim), 'value without bias');
      const stock = (xx: Tensor, ww: Tensor, bb: Tensor) =>
        tf.matMul(xx.reshape([-1, inDim]) as Tensor2D, ww as Tensor2D, false, true).add(bb).reshape([b0, b1, outDim]);
      const [dx, dw, db] = tf.grads((xx: Tensor, ww: Tensor, bb: Tensor) => linear(xx, ww as Tensor2D, bb))([x, w, bias], dy);
      const [rx, rw, rb] = tf.grads(stock)([x, w, bias], dy);
      expect(dx.shape).toEqual([b0, b1, inDim]);
      expect(dw.shape).toEqual([outDim, inDim]);
      expect(db.shape).toEqual([outDim]);
      expectAllClose(dx, rx.dataSync(), 'dx');
      expectAllClose(dw, rw.dataSync(), 'dW');
      expectAllClose(db, rb.dataSync(), 'dbias');
      // independent: dW = dy^T x, dbias = column sums of dy
      expectAllClose(dw, mm(tr(DY, b0 * b1, outDim), X, outDim, b0 * b1, inDim), 'dW vs plain JS');
      const colSums = new Float64Array(outDim);
      DY.forEach((v, i) => (colSums[i % outDim] += v));
      expectAllClose(db, colSums, 'dbias vs plain JS');
    });
  });

  test('project: x @ P with P [in, out] on a rank-3 input', () => {
    const X = rand(2 * 3 * 4);
    const P = rand(4 * 5);
    tf.tidy(() => {
      const y = project(tensorOf(X, [2, 3, 4]), tensorOf(P, [4, 5]) as Tensor2D);
      expect(y.shape).toEqual([2, 3, 5]);
      expectAllClose(y, mm(X, P, 6, 4, 5), 'project');
    });
  });
});
