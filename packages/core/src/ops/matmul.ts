import { tf, Tensor, Tensor2D, Tensor3D } from '../tf';
import { customOp } from './custom-op';
import { fastTransposedMatMul } from './fused';

/**
 * Plain 2-D matrix product `a @ b` whose gradients also run as plain 2-D products on explicit transposes:
 * `da = dy @ b^T`, `db = a^T @ dy`. tfjs' built-in matMul gradient uses the transposeA/transposeB forms,
 * which the wasm backend runs 10-20x slower than the plain kernel (DESIGN.md, "Backend facts").
 *
 * @param a float32 [M, K]
 * @param b float32 [K, N]
 * @returns float32 [M, N]
 * @throws Error (from tfjs) when the inner dimensions differ.
 */
export function matMul2d(a: Tensor2D, b: Tensor2D): Tensor2D {
  const f = customOp((x, y, save) => {
    save([x, y]);
    return {
      value: tf.matMul(x as Tensor2D, y as Tensor2D),
      gradFunc: (dy, saved) => {
        const [xs, ys] = saved as [Tensor2D, Tensor2D];
        if (fastTransposedMatMul()) return [tf.matMul(dy as Tensor2D, ys, false, true), tf.matMul(xs, dy as Tensor2D, true, false)];
        return [matMul2d(dy as Tensor2D, ys.transpose()), matMul2d(xs.transpose(), dy as Tensor2D)];
      },
    };
  });
  return f(a, b) as Tensor2D;
}

/**
 * Batched product `a[i] @ b[i]` without transposeA/B flags, gradients on explicit transposes
 * (`da = dy @ b^T`, `db = a^T @ dy` per batch item). Used by attention (scores and values).
 *
 * @param a float32 [n, M, K]
 * @param b float32 [n, K, N]
 * @returns float32 [n, M, N]
 */
export function batchMatMul(a: Tensor3D, b: Tensor3D): Tensor3D {
  const f = customOp((x, y, save) => {
    save([x, y]);
    return {
      value: tf.matMul(x as Tensor3D, y as Tensor3D),
      gradFunc: (dy, saved) => {
        const [xs, ys] = saved as [Tensor3D, Tensor3D];
        if (fastTransposedMatMul()) return [tf.matMul(dy as Tensor3D, ys, false, true), tf.matMul(xs, dy as Tensor3D, true, false)];
        return [
          batchMatMul(dy as Tensor3D, ys.transpose([0, 2, 1])),
          batchMatMul(xs.transpose([0, 2, 1]), dy as Tensor3D),
        ];
      },
    };
  });
  return f(a, b) as Tensor3D;
}

/**
 * Affine map `x @ W^T + b` over the last axis, with the weight in the PyTorch / reference layout
 * [out, in]. Any leading shape is flattened to one 2-D product (the fast wasm path). One custom-gradient op
 * (a hot composite, see DESIGN.md): `dx = dy @ W`, `dW = dy^T @ x`, `db = 1^T @ dy`, all plain 2-D products
 * (a row-sum over the first axis is slow on wasm, a matmul with a ones row is not). On the native backend the
 * transposes are BLAS flags instead of copies (ops/fused.ts `fastTransposedMatMul`).
 *
 * @param x float32 [..., in]
 * @param weight float32 [out, in]
 * @param bias optional float32 [out]
 * @returns float32 [..., out]
 */
export function linear(x: Tensor, weight: Tensor2D, bias?: Tensor): Tensor {
  const inDim = x.shape[x.rank - 1];
  const outDim = weight.shape[0];
  const x2 = x.reshape([-1, inDim]) as Tensor2D;
  const rows = x2.shape[0];
  const f = customOp((xs: Tensor2D, w: Tensor2D, ...rest: unknown[]) => {
    const b = bias ? (rest[0] as Tensor) : undefined;
    const save = rest[rest.length - 1] as (t: Tensor[]) => void;
    save([xs, w]);
    const flags = fastTransposedMatMul();
    const y = flags
      ? tf.fused.matMul({ a: xs, b: w, transposeB: true, bias: b })
      : tf.tidy(() => {
          const prod = tf.matMul(xs, w.transpose());
          return b ? prod.add(b) : prod;
        });
    return {
      value: y,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [xv, wv] = saved as [Tensor2D, Tensor2D];
        const dy2 = dy as Tensor2D;
        const grads = tf.tidy(() => {
          const out: Tensor[] = [tf.matMul(dy2, wv), flags ? tf.matMul(dy2, xv, true, false) : tf.matMul(dy2.transpose(), xv)];
          if (b) out.push(flags ? dy2.sum(0) : tf.matMul(tf.ones([1, rows]), dy2).reshape([outDim]));
          return out;
        });
        return grads;
      },
    };
  });
  const y = bias ? f(x2, weight, bias) : f(x2, weight);
  return y.reshape([...x.shape.slice(0, -1), outDim]);
}

/**
 * Product `x @ P` over the last axis with a projection matrix stored [in, out] (open_clip's `proj`,
 * `text_projection`).
 *
 * @param x float32 [..., in]
 * @param proj float32 [in, out]
 * @returns float32 [..., out]
 */
export function project(x: Tensor, proj: Tensor2D): Tensor {
  const inDim = x.shape[x.rank - 1];
  return matMul2d(x.reshape([-1, inDim]) as Tensor2D, proj).reshape([...x.shape.slice(0, -1), proj.shape[1]]);
}
