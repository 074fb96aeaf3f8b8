import { tf, Tensor } from '../tf';
import { keyPaddingMask } from './attention';

/**
 * The additive attention mask of a decoder step: causal (query i, at absolute index `keyLength - queryLength + i`,
 * sees keys up to its own index; the first keys may be cached from earlier steps) combined with a key padding mask
 * (padded keys are never seen). With left padding and -Infinity, the query rows of padding positions see no key
 * and give zeros (see ops/attention.ts), never NaN. With `prefix`, a prefix LM (GLM, Du et al. 2022, section 2.1;
 * ChatGLM-6B's `get_masks`): every query also sees the prefix keys, so the prefix attends bidirectionally among
 * itself and the rest causally.
 * @param queryLength T, the new positions of this step
 * @param keyLength S >= T, cached plus new positions
 * @param valid optional float32 or int32 [B, S], 1 = real token, 0 = padding (the attention mask of HF `generate`)
 * @param value the masking constant (default -Infinity)
 * @param prefix optional float32 or int32 [B, S], 1 = a prefix key, seen by every query of its row (padding stays masked)
 * @returns float32 [1, 1, T, S] without `valid` and `prefix`, [B, 1, T, S] with either
 * @throws Error when keyLength < queryLength, or valid or prefix is not [B, keyLength]
 */
export function decoderMask(queryLength: number, keyLength: number, valid?: Tensor, value = -Infinity, prefix?: Tensor): Tensor {
  if (!(Number.isInteger(queryLength) && queryLength >= 1 && keyLength >= queryLength)) {
    throw new Error(`decoderMask: need 1 <= queryLength <= keyLength, got queryLength ${queryLength}, keyLength ${keyLength}`);
  }
  for (const [name, t] of [['valid', valid], ['prefix', prefix]] as const) {
    if (t && (t.rank !== 2 || t.shape[1] !== keyLength)) throw new Error(`decoderMask: ${name} must be [B, ${keyLength}], got [${t.shape}]`);
  }
  const past = keyLength - queryLength;
  const data = new Float32Array(queryLength * keyLength);
  for (let i = 0; i < queryLength; i++) for (let j = past + i + 1; j < keyLength; j++) data[i * keyLength + j] = value;
  const causal = tf.tensor4d(data, [1, 1, queryLength, keyLength]);
  if (!valid && !prefix) return causal;
  return tf.tidy(() => {
    // a prefix key: 0 for every query (the causal mask holds only 0 and value, so the maximum keeps the rest)
    const isPrefix = prefix?.toFloat().equal(1).reshape([-1, 1, 1, keyLength]);
    const seen = isPrefix ? causal.maximum(tf.where(isPrefix, tf.zeros(isPrefix.shape), tf.fill(isPrefix.shape, value))) : causal;
    return valid ? seen.add(keyPaddingMask(valid, value)) : seen;
  });
}

/**
 * Each token's position in its row when rows are left-padded: `cumsum(valid) - 1` (HF `generate`, OPT's
 * positions), so a row's first real token is at position 0 whatever its padding. Padding positions get 0 (they
 * are masked as keys, and their own outputs are unused).
 * @param valid float32 or int32 [B, S], 1 = real token, 0 = padding
 * @returns int32 [B, S]
 */
export function positionsFromMask(valid: Tensor): Tensor {
  if (valid.rank !== 2) throw new Error(`positionsFromMask: valid must be [B, S], got [${valid.shape}]`);
  return tf.tidy(() => valid.toFloat().cumsum(1).sub(tf.scalar(1)).maximum(tf.scalar(0)).toInt());
}
