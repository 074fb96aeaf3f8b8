/**
 * Host-side processing of one row of next-token logits (plain Float32Arrays, browser-safe): the steps every
 * decoding strategy in ./decode.ts shares. Each function returns a new array and leaves its input untouched.
 */

/**
 * Repetition penalty of CTRL (Keskar et al. 2019, section 4.1 "penalized sampling"), in the form generation
 * libraries use: the logit of every token already in `previous` is divided by `penalty` when positive and
 * multiplied by it when negative, so `penalty` > 1 makes repeats less likely whatever the logit's sign.
 * @param logits float32 [V]
 * @param previous token ids generated (or given) so far; repeats count once
 * @param penalty >= 1 to discourage (1: no change)
 * @returns float32 [V]
 * @throws RangeError when penalty is not a positive number
 */
export function applyRepetitionPenalty(logits: Float32Array, previous: readonly number[], penalty: number): Float32Array {
  if (!(penalty > 0)) throw new RangeError(`repetitionPenalty must be > 0, got ${penalty}`);
  const out = Float32Array.from(logits);
  if (penalty === 1) return out;
  for (const id of new Set(previous)) {
    if (id < 0 || id >= out.length) continue;
    out[id] = out[id] > 0 ? out[id] / penalty : out[id] * penalty;
  }
  return out;
}

/**
 * Sets the logits of `ids` to -Infinity (tokens that must not be generated now: padding, the start token, or the
 * end token before the minimum length).
 * @param logits float32 [V] @returns float32 [V]
 */
export function suppressTokens(logits: Float32Array, ids: readonly number[]): Float32Array {
  const out = Float32Array.from(logits);
  for (const id of ids) if (id >= 0 && id < out.length) out[id] = -Infinity;
  return out;
}

/**
 * Log-softmax `x - max - log(sum(exp(x - max)))` in float64 arithmetic. -Infinity entries stay -Infinity.
 * @param logits float32 [V], at least one finite entry
 * @returns float64 [V] log-probabilities
 * @throws Error when every logit is -Infinity (nothing can be generated)
 */
export function logSoftmaxRow(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  if (max === -Infinity) throw new Error('every token is suppressed: no token can be generated');
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  const lse = max + Math.log(sum);
  const out = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i] - lse;
  return out;
}

/** Index of the largest entry (the lowest index among ties). @param values [V], V >= 1 */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/**
 * The nucleus (top-p) of a distribution (Holtzman et al. 2020, "The Curious Case of Neural Text Degeneration",
 * section 3.1, eq. 2-3): the smallest set of most probable tokens whose probabilities sum to at least `topP`,
 * renormalised. The most probable token is always kept.
 * @param probs float64 [V] probabilities summing to 1
 * @param topP in (0, 1]; 1 keeps every token of non-zero probability
 * @returns the kept token ids (most probable first) and their renormalised probabilities
 * @throws RangeError when topP is not in (0, 1]
 */
export function nucleus(probs: ArrayLike<number>, topP: number): { ids: number[]; probs: number[] } {
  if (!(topP > 0 && topP <= 1)) throw new RangeError(`topP must be in (0, 1], got ${topP}`);
  const order = Array.from({ length: probs.length }, (_, i) => i)
    .filter((i) => probs[i] > 0)
    .sort((a, b) => probs[b] - probs[a] || a - b);
  const ids: number[] = [];
  let mass = 0;
  for (const i of order) {
    ids.push(i);
    mass += probs[i];
    if (mass >= topP) break;
  }
  return { ids, probs: ids.map((i) => probs[i] / mass) };
}

/**
 * Top-k filtering (Fan et al. 2018, "Hierarchical Neural Story Generation", section 5.4; HF's `TopKLogitsWarper`):
 * every logit below the k-th largest becomes -Infinity, so only the k most probable tokens (and any tied with the
 * k-th) can be drawn.
 * @param logits float32 [V]
 * @param k an integer >= 1; k >= V keeps every token
 * @returns float32 [V]
 * @throws RangeError when k is not an integer >= 1
 */
export function topK(logits: Float32Array, k: number): Float32Array {
  if (!(Number.isInteger(k) && k >= 1)) throw new RangeError(`topK must be an integer >= 1, got ${k}`);
  const out = Float32Array.from(logits);
  if (k >= out.length) return out;
  const kth = Float32Array.from(logits).sort()[out.length - k];
  for (let i = 0; i < out.length; i++) if (out[i] < kth) out[i] = -Infinity;
  return out;
}
