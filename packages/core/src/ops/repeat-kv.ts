import { tf, Tensor } from '../tf';

/**
 * Repeats each key/value head for the query heads that share it (grouped-query attention, Ainslie et al. 2023,
 * section 2.2; multi-query when there is one kv head): kv head g serves query heads g * groups .. g * groups +
 * groups - 1, i.e. query head h uses kv head floor(h / groups) (torch `repeat_interleave`, HF `repeat_kv`; the
 * tiled order h % KV is a different, wrong model).
 * @param x float32 [B, KV, S, d]
 * @param groups query heads per kv head (H / KV)
 * @returns float32 [B, KV * groups, S, d] (x itself when groups is 1)
 */
export function repeatKvHeads(x: Tensor, groups: number): Tensor {
  if (groups === 1) return x;
  const [b, kv, s, d] = x.shape;
  // concat of row copies, not tile: tfjs' cpu Tile computes an index per element (a quarter of a tiny LLaMA's step)
  return tf.tidy(() => {
    const rows = x.reshape([b * kv, 1, s * d]);
    return tf.concat(new Array<Tensor>(groups).fill(rows), 1).reshape([b, kv * groups, s, d]);
  });
}
