import { tf, Tensor, Tensor3D, Tensor4D } from '../tf';
import { batchMatMul } from './matmul';
import { maskedSoftmax } from './softmax';
import { customOp } from './custom-op';
import { FUSED_KERNELS, hasFusedKernel, runFused, sumToShape } from './fused';

/**
 * Scaled dot-product attention, the math only (Vaswani et al. 2017, eq. 1):
 * `softmax((q * scale) @ k^T + mask) @ v`, softmax over the keys. How q, k and v are projected, laid out
 * and named is the caller's business (see nn/attention.ts). Products run as batched plain matmuls with
 * explicit-transpose gradients (the fast wasm path).
 *
 * @param q float32 [B, H, Nq, d]
 * @param k float32 [B, H, Nk, d]
 * @param v float32 [B, H, Nk, dv]
 * @param mask optional additive float32 mask broadcastable to [B, H, Nq, Nk]: 0 keeps, -Infinity or a large
 *   negative constant removes. A query row whose keys are all -Infinity gives zeros and zero gradient.
 * @param bias optional additive float32 bias broadcastable to [B, H, Nq, Nk] that carries gradient
 *   (e.g. a relative position bias).
 * @param scale multiplies q before the product; default `d^-0.5`
 * @returns float32 [B, H, Nq, dv]
 */
export function scaledDotProductAttention(
  q: Tensor4D,
  k: Tensor4D,
  v: Tensor4D,
  mask?: Tensor,
  scale = 1 / Math.sqrt(q.shape[3]),
  bias?: Tensor,
): Tensor4D {
  if (q.size > 0 && k.size > 0 && v.size > 0 && hasFusedKernel(FUSED_KERNELS.attention)) {
    return fusedAttention(q, k, v, mask, scale, bias);
  }
  return tf.tidy(() => {
    const [b, h, nq, d] = q.shape;
    const nk = k.shape[2];
    const dv = v.shape[3];
    const q3 = q.mul(tf.scalar(scale)).reshape([b * h, nq, d]) as Tensor3D;
    const kT = k.reshape([b * h, nk, d]).transpose([0, 2, 1]) as Tensor3D;
    let scores: Tensor = batchMatMul(q3, kT).reshape([b, h, nq, nk]);
    if (bias) scores = scores.add(bias);
    const probs = maskedSoftmax(scores, mask).reshape([b * h, nq, nk]) as Tensor3D;
    return batchMatMul(probs, v.reshape([b * h, nk, dv]) as Tensor3D).reshape([b, h, nq, dv]) as Tensor4D;
  });
}

/**
 * {@link scaledDotProductAttention} as one op over the fused kernels. The mask (no gradient) and the bias (with
 * gradient: the scores gradient summed to the bias' shape) are added to the scores inside the kernel.
 */
function fusedAttention(q: Tensor4D, k: Tensor4D, v: Tensor4D, mask: Tensor | undefined, scale: number, bias?: Tensor): Tensor4D {
  const f = customOp((...args: unknown[]) => {
    const save = args.pop() as (t: Tensor[]) => void;
    const [qs, ks, vs, bs] = args as Tensor[];
    const addend = bs ? (mask ? tf.add(mask, bs) : bs) : mask;
    const inputs: Record<string, Tensor> = { q: qs, k: ks, v: vs };
    if (addend) inputs.mask = addend.dtype === 'float32' ? addend : addend.toFloat();
    const [out, probs] = runFused(FUSED_KERNELS.attention, inputs, { scale });
    save([qs, ks, vs, probs]);
    tf.dispose(probs); // save keeps its own reference
    if (addend && addend !== mask && addend !== bs) tf.dispose(addend);
    if (inputs.mask !== addend) tf.dispose(inputs.mask);
    return {
      value: out,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [qv, kv, vv, pv] = saved;
        const grads = runFused(FUSED_KERNELS.attentionGrad, { dy, q: qv, k: kv, v: vv, probs: pv }, { scale, scoresGrad: Boolean(bs) });
        if (!bs) return grads;
        const dBias = sumToShape(grads[3], bs.shape);
        tf.dispose(grads[3]);
        return [grads[0], grads[1], grads[2], dBias];
      },
    };
  });
  return (bias ? f(q, k, v, bias) : f(q, k, v)) as Tensor4D;
}

/** [B, N, H*d] -> [B, H, N, d]: heads are contiguous d-wide slices of the feature axis. */
export function splitHeads(x: Tensor, numHeads: number): Tensor4D {
  const [b, n, w] = x.shape;
  return x.reshape([b, n, numHeads, w / numHeads]).transpose([0, 2, 1, 3]) as Tensor4D;
}

/** [B, H, N, d] -> [B, N, H*d]: the inverse of {@link splitHeads}. */
export function mergeHeads(x: Tensor): Tensor3D {
  const [b, h, n, d] = x.shape;
  return x.transpose([0, 2, 1, 3]).reshape([b, n, h * d]) as Tensor3D;
}

/**
 * Additive causal mask: `value` strictly above the diagonal (a query never sees later keys), 0 elsewhere. With a
 * `prefix` it is the prefix-LM mask (UniLM's sequence-to-sequence mask, Dong et al. 2019, section 2.3; BLIP-2's
 * multimodal causal mask, Li et al. 2023, section 3.2 and Fig. 2): the first `prefix` positions see each other
 * (bidirectional) and never a later one; each later position sees the whole prefix and the positions up to its own.
 * @param n sequence length
 * @param value the masking constant; -Infinity as in open_clip, -10000 as in BERT-style models
 * @param prefix leading positions that attend bidirectionally among themselves, in [0, n] (default 0: plain causal)
 * @returns float32 [n, n]
 * @throws RangeError when prefix is not an integer in [0, n]
 */
export function causalMask(n: number, value = -Infinity, prefix = 0): Tensor {
  if (!(Number.isInteger(prefix) && prefix >= 0 && prefix <= n)) throw new RangeError(`causalMask: prefix ${prefix} is not an integer in [0, ${n}]`);
  const data = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = Math.max(i + 1, i < prefix ? prefix : 0); j < n; j++) data[i * n + j] = value;
  return tf.tensor2d(data, [n, n]);
}

/**
 * Additive key-padding mask from a 0/1 validity mask (1 = real token, 0 = padding), broadcastable over heads
 * and queries.
 * @param valid float32 or int32 [B, Nk]
 * @param value the masking constant for padded keys; -Infinity (default) or e.g. -10000 (BERT, BLIP)
 * @returns float32 [B, 1, 1, Nk]
 */
export function keyPaddingMask(valid: Tensor, value = -Infinity): Tensor {
  return tf.tidy(() => {
    const [b, nk] = valid.shape;
    const isPad = valid.toFloat().equal(tf.scalar(0));
    return tf.where(isPad, tf.fill([b, nk], value), tf.zeros([b, nk])).reshape([b, 1, 1, nk]);
  });
}
