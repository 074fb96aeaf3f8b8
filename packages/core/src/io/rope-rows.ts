/**
 * Converting q/k projection weights between the two RoPE layouts (browser-safe, no tfjs).
 *
 * Meta's LLaMA and llama2.c rotate interleaved pairs of each head's dims, (2i, 2i+1); Hugging Face's LLaMA rotates
 * halves, (i, i + d/2) (`rotate_half`). transformers' `convert_llama_weights_to_hf.py` (`permute`) therefore
 * reorders the output rows of `wq` and `wk` head by head: `w.view(n_heads, d/2, 2, in).transpose(1, 2)
 * .reshape(out, in)`, so that HF row `h*d + i` is Meta row `h*d + 2i` and HF row `h*d + d/2 + i` is Meta row
 * `h*d + 2i + 1` (i = 0 .. d/2 - 1). A model with the `half` layout on the permuted rows equals one with the
 * `interleaved` layout on the original rows. Biases of q/k (where a model has them) permute the same way.
 */
import type { RawTensor } from './safetensors';
import type { RopeLayout } from '../ops/rotary';

/**
 * For each output row of a q or k projection in layout `to`, the row of the weight in the other layout it comes
 * from (`to: 'half'`: Meta -> HF, transformers' `permute`; `to: 'interleaved'`: HF -> Meta, its inverse).
 * @param outFeatures rows of the weight, numHeads * headDim
 * @param numHeads heads of this projection (the key/value heads for `wk`)
 * @param to the layout the permuted weight is for
 * @returns source row index of each target row, length outFeatures
 * @throws Error when outFeatures is not numHeads times an even head dim
 */
export function ropeRowPermutation(outFeatures: number, numHeads: number, to: RopeLayout): number[] {
  const d = outFeatures / numHeads;
  if (!Number.isInteger(d) || d % 2 !== 0) throw new Error(`ropeRowPermutation: ${outFeatures} rows are not ${numHeads} heads of an even head dim`);
  const half = d / 2;
  const rows: number[] = [];
  for (let h = 0; h < numHeads; h++) {
    for (let r = 0; r < d; r++) {
      // to half: target r < d/2 takes 2r, target d/2 + i takes 2i + 1; to interleaved: target 2i takes i, 2i + 1 takes d/2 + i
      const src = to === 'half' ? (r < half ? 2 * r : 2 * (r - half) + 1) : r % 2 === 0 ? r / 2 : half + (r - 1) / 2;
      rows.push(h * d + src);
    }
  }
  return rows;
}

/**
 * A q or k projection weight (or bias) converted between RoPE layouts by reordering its output rows (see
 * {@link ropeRowPermutation}). Pure: returns a new tensor of the same dtype (F32, F16, BF16, ...) and shape.
 * @param weight [out, in] (torch Linear layout) or a bias [out]
 * @param numHeads heads of this projection (query heads for q, key/value heads for k)
 * @param to the layout the result is for: 'half' turns Meta / llama2.c rows into HF rows, 'interleaved' the reverse
 * @throws Error when the weight is not rank 1 or 2, or its rows are not numHeads heads of an even head dim
 */
export function permuteRopeRows(weight: RawTensor, numHeads: number, to: RopeLayout): RawTensor {
  if (weight.shape.length !== 1 && weight.shape.length !== 2) throw new Error(`permuteRopeRows: expected a weight [out, in] or bias [out], got [${weight.shape}]`);
  const [out, inner = 1] = weight.shape;
  const order = ropeRowPermutation(out, numHeads, to);
  const src = weight.data;
  const dst = src.slice();
  order.forEach((from, row) => {
    const block = src.subarray(from * inner, (from + 1) * inner);
    if (dst instanceof BigInt64Array) dst.set(block as BigInt64Array, row * inner);
    else if (!(block instanceof BigInt64Array)) dst.set(block, row * inner);
  });
  return { dtype: weight.dtype, shape: [...weight.shape], data: dst };
}
