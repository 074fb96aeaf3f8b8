import { tf, Tensor, Tensor2D } from '../tf';
import { backendHasKernel } from './kernels';
import { matMul2d } from './matmul';
import { customOp } from './custom-op';

/**
 * Embedding lookup `table[ids]` that trains on every backend. Where the backend has `UnsortedSegmentSum`
 * (the gradient of gather) tfjs' own gradient is used; elsewhere (wasm) the table gradient is computed as
 * `oneHot(ids)^T @ dy`, one plain 2-D matmul.
 *
 * @param table float32 [V, D]
 * @param ids int32 of any shape S, values in [0, V)
 * @returns float32 [...S, D]
 */
export function embeddingLookup(table: Tensor2D, ids: Tensor): Tensor {
  const flatIds = ids.reshape([-1]).toInt();
  const [vocab, dim] = table.shape;
  let rows: Tensor;
  if (backendHasKernel('UnsortedSegmentSum')) {
    rows = tf.gather(table, flatIds);
  } else {
    // The ids go through `save`: the engine keeps saved tensors until backprop, whereas `flatIds` itself is
    // disposed by the caller's tidy before the gradient runs.
    const f = customOp((t, save) => {
      save([flatIds]);
      return {
        value: tf.gather(t, flatIds),
        gradFunc: (dy, saved) => tf.tidy(() => matMul2d(tf.oneHot(saved[0], vocab).toFloat().transpose(), dy as Tensor2D)),
      };
    });
    rows = f(table);
  }
  return rows.reshape([...ids.shape, dim]);
}
