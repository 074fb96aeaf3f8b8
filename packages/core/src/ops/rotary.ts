import { tf, Tensor, Tensor2D, Tensor4D } from '../tf';
import { matMul2d } from './matmul';

/**
 * How the dims of one attention head are paired for rotary position embedding (Su et al. 2021, "RoFormer",
 * section 3.4.2):
 * - `interleaved`: pairs (2i, 2i+1), as Meta's LLaMA and llama2.c (`apply_rotary_emb` on complex pairs);
 * - `half`: pairs (i, i + d/2), Hugging Face's `rotate_half`. HF checkpoints of Meta models store the q/k
 *   projection rows permuted so that this layout gives the same model (see `permuteRopeRows` in io/rope-rows.ts).
 * Pair i rotates by the angle `t * theta^(-2i/d)` in both layouts, t the 0-based absolute position.
 */
export type RopeLayout = 'interleaved' | 'half';

/** The per-position rotation of {@link applyRope}: cos and sin of each dim's angle. */
export interface RopeTables {
  /** float32 [B, 1, T, d]: cos of the angle of the pair each dim belongs to, laid out as `layout` */
  cos: Tensor4D;
  /** float32 [B, 1, T, d]: sin, laid out the same way */
  sin: Tensor4D;
  layout: RopeLayout;
  /**
   * true: 2D RoPE (GLM, Du et al. 2022, section 2.2; THUDM ChatGLM-6B `modeling_chatglm.py`): the head's two halves
   * are rotated separately, each as a head of d/2 dims in `layout`, the first by the positions, the second by the
   * block positions (see {@link ropeTables}' `blockPositions`)
   */
  halves?: boolean;
}

/**
 * RoPE's inverse frequencies `theta^(-2i/d)`, i = 0 .. d/2 - 1, rounded to float32 (as llama2.c's
 * `precompute_freqs_cis` and HF's `inv_freq` compute them).
 * @param headDim d, even
 * @param theta base (10000 in LLaMA-1/2; 500000 in LLaMA-3; read the checkpoint's config)
 * @returns float32 [d / 2]
 * @throws Error when headDim is not a positive even integer or theta is not > 0
 */
export function ropeInverseFrequencies(headDim: number, theta: number): Float32Array {
  if (!Number.isInteger(headDim) || headDim <= 0 || headDim % 2 !== 0) throw new Error(`RoPE needs an even head dim, got ${headDim}`);
  if (!(theta > 0)) throw new Error(`RoPE theta must be > 0, got ${theta}`);
  return Float32Array.from({ length: headDim / 2 }, (_, i) => 1 / theta ** ((2 * i) / headDim));
}

/**
 * Rotation angles `t * theta^(-2i/d)` in float32 (the product rounded as torch's float32 `outer` rounds it), one per
 * position and pair: the `freqs` of llama2.c (whose cos and sin are `freqs_cos` / `freqs_sin`).
 * @param positions int32 [..., T] absolute positions (0-based)
 * @param headDim d, even
 * @param theta frequency base
 * @returns float32 [..., T, d / 2]
 */
export function ropeAngles(positions: Tensor, headDim: number, theta: number): Tensor {
  const inv = ropeInverseFrequencies(headDim, theta);
  return tf.tidy(() => positions.toFloat().expandDims(-1).mul(tf.tensor1d(inv)));
}

/**
 * The cos and sin tables of {@link applyRope} for a batch of positions: each pair's angle (see {@link ropeAngles})
 * repeated on both dims of the pair, as the layout places them (`interleaved`: dims 2i and 2i+1; `half`: dims i
 * and i + d/2, HF's `cat(freqs, freqs)`). Compute them once per forward pass and share them across layers.
 * With `blockPositions`, 2D RoPE (GLM, Du et al. 2022, section 2.2; ChatGLM-6B's `position_encoding_2d`): the
 * tables of the positions and of the block positions, each for a head of d/2 dims, side by side.
 * @param positions int32 [B, T] absolute positions of each row's tokens (left-padded rows: see `positionsFromMask`)
 * @param headDim d, even (a multiple of 4 with blockPositions)
 * @param opts.theta frequency base (default 10000)
 * @param opts.layout dim pairing (default 'interleaved'), within each half with blockPositions
 * @param opts.blockPositions int32, the shape of positions: GLM's block positions, which rotate the second half of each head
 * @returns cos and sin, float32 [B, 1, T, d]
 * @throws Error when positions is not rank 2, blockPositions not its shape, or headDim is not even (a multiple of 4 with blockPositions)
 */
export function ropeTables(positions: Tensor, headDim: number, opts: { theta?: number; layout?: RopeLayout; blockPositions?: Tensor } = {}): RopeTables {
  if (positions.rank !== 2) throw new Error(`ropeTables: positions must be [B, T], got [${positions.shape}]`);
  const layout = opts.layout ?? 'interleaved';
  const block = opts.blockPositions;
  const [b, t] = positions.shape;
  if (block && (block.rank !== 2 || block.shape[0] !== b || block.shape[1] !== t)) {
    throw new Error(`ropeTables: blockPositions must be [${positions.shape}] like positions, got [${block.shape}]`);
  }
  if (block && headDim % 4 !== 0) throw new Error(`ropeTables: 2D RoPE needs a head dim divisible by 4, got ${headDim}`);
  return tf.tidy(() => {
    /** [B, T, d] angles of a head of d dims, each on both dims of its pair */
    const laid = (p: Tensor, d: number) => {
      const angles = ropeAngles(p, d, opts.theta ?? 10000); // [B, T, d/2]
      return layout === 'interleaved' ? tf.stack([angles, angles], -1).reshape([b, t, d]) : tf.concat([angles, angles], -1);
    };
    const full = block ? tf.concat([laid(positions, headDim / 2), laid(block, headDim / 2)], -1) : laid(positions, headDim);
    const a = full.reshape([b, 1, t, headDim]);
    return { cos: a.cos() as Tensor4D, sin: a.sin() as Tensor4D, layout, ...(block ? { halves: true } : {}) };
  });
}

/**
 * Rotary position embedding (Su et al. 2021, eq. 34): each pair (x_a, x_b) of a head's dims becomes
 * `(x_a cos - x_b sin, x_b cos + x_a sin)`. Written as `x * cos + rotate(x) * sin`, where `rotate` maps each pair
 * (x_a, x_b) to (-x_b, x_a); `rotate` is one plain 2-D matmul with a signed permutation matrix (exact: one
 * non-zero term per output), so both layouts share the code and the gradient runs on every backend (wasm has no
 * gradient for a gather).
 * @param x float32 [B, H, T, d]: queries or keys split into heads, before key/value heads are repeated
 * @param tables from {@link ropeTables}, [B or 1, 1, T, d]
 * @returns float32 [B, H, T, d]
 * @throws Error when the tables' T or d do not match x
 */
export function applyRope(x: Tensor4D, tables: RopeTables): Tensor4D {
  const [, , t, d] = x.shape;
  const [, , tt, td] = tables.cos.shape;
  if (tt !== t || td !== d) throw new Error(`applyRope: tables [${tables.cos.shape}] do not match x [${x.shape}] (positions or head dim)`);
  return tf.tidy(() => {
    const rotated = matMul2d(x.reshape([-1, d]) as Tensor2D, rotationMatrix(d, tables.layout, tables.halves === true)).reshape(x.shape);
    return x.mul(tables.cos).add(rotated.mul(tables.sin)) as Tensor4D;
  });
}

/**
 * R [d, d] with `(x @ R)` = each pair (x_a, x_b) of the layout mapped to (-x_b, x_a); with `halves`, the pairs of
 * each half of d/2 dims (2D RoPE).
 */
function rotationMatrix(d: number, layout: RopeLayout, halves: boolean): Tensor2D {
  const r = new Float32Array(d * d);
  const size = halves ? d / 2 : d;
  for (let start = 0; start < d; start += size) {
    for (let i = 0; i < size / 2; i++) {
      const [a, b] = (layout === 'interleaved' ? [2 * i, 2 * i + 1] : [i, i + size / 2]).map((k) => start + k);
      r[b * d + a] = -1; // out[a] = -x[b]
      r[a * d + b] = 1; // out[b] = x[a]
    }
  }
  return tf.tensor2d(r, [d, d]);
}
