import { tf, Tensor, Tensor2D } from '../tf';
import { embeddingLookup } from './embedding';

/**
 * `x[index]` along the first axis with a gradient on every backend (tfjs' gather gradient needs
 * UnsortedSegmentSum, which wasm lacks): the rows are flattened into a [N, rest] table and looked up with
 * {@link embeddingLookup}. Used to assemble ITM pairs from batch rows (ALBEF, BLIP hard negatives).
 * @param x float32 [N, ...rest]
 * @param index K row indices in [0, N): a number array or an int32 tensor [K]
 * @returns float32 [K, ...rest]
 */
export function gatherRows(x: Tensor, index: ArrayLike<number> | Tensor): Tensor {
  return tf.tidy(() => {
    const rest = x.shape.slice(1);
    const ids = index instanceof tf.Tensor ? index : tf.tensor1d(Int32Array.from(index), 'int32');
    const out = embeddingLookup(x.reshape([x.shape[0], -1]) as Tensor2D, ids);
    return out.reshape([ids.shape[0] as number, ...rest]);
  });
}
