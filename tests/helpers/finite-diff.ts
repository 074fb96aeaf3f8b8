/**
 * Numerical helpers for the core unit tests: central finite differences in float64 on plain-JS reference
 * functions, a seeded float64 random source, and array comparison with an absolute + relative tolerance.
 *
 * Gradients of tfjs ops (float32) are checked against finite differences of a separately written float64
 * re-implementation: in float64 a step of 1e-6 gives derivatives accurate to ~1e-9, so the comparison tests
 * the analytic gradient, not float32 rounding noise.
 */
import { tf, Tensor } from '@mmzoo/core';

/**
 * Central finite-difference gradient of a scalar function of a flat float64 vector:
 * `g[i] = (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)`. `x` is restored after each probe.
 *
 * @param f scalar function of the whole vector (e.g. `sum(R * ref(x))` for a fixed weight tensor R)
 * @param x point at which to differentiate (float64; temporarily modified)
 * @param eps step; 1e-6 suits float64 functions of O(1) magnitude
 * @returns float64 gradient, same length as `x`
 */
export function centralDiff(f: (x: Float64Array) => number, x: Float64Array, eps = 1e-6): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const keep = x[i];
    x[i] = keep + eps;
    const up = f(x);
    x[i] = keep - eps;
    const down = f(x);
    x[i] = keep;
    g[i] = (up - down) / (2 * eps);
  }
  return g;
}

/**
 * Gradients of a scalar function of several flat float64 inputs, one {@link centralDiff} per input, the others
 * held fixed.
 *
 * @param f scalar function of all inputs
 * @param inputs points at which to differentiate (temporarily modified)
 * @param eps step
 * @returns one float64 gradient per input
 */
export function centralDiffs(f: (...xs: Float64Array[]) => number, inputs: Float64Array[], eps = 1e-6): Float64Array[] {
  return inputs.map((_, k) => centralDiff((xk) => f(...inputs.map((x, j) => (j === k ? xk : x))), inputs[k], eps));
}

/**
 * Deterministic pseudo-random numbers (mulberry32), so that test inputs do not depend on tfjs' generators.
 * The values are rounded to float32, so a float64 reference and a float32 tensor made from them (see
 * {@link tensorOf}) start from exactly the same inputs.
 *
 * @param seed any integer
 * @returns a function producing `n` float32-representable values (held in a Float64Array) uniform in [lo, hi)
 */
export function seededUniform(seed: number): (n: number, lo?: number, hi?: number) => Float64Array {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return (n, lo = -1, hi = 1) => {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.fround(lo + (hi - lo) * next());
    return out;
  };
}

/**
 * A float32 tensor from any numbers (tfjs rejects Float64Array as tensor data).
 * @param values flat row-major values
 * @param shape tensor shape
 */
export function tensorOf(values: ArrayLike<number>, shape: number[]): Tensor {
  return tf.tensor(Float32Array.from(values), shape, 'float32');
}

/** `sum_i a[i] * b[i]` in float64 (the usual scalar probe `sum(R * y)` of a tensor-valued function). */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * Asserts `|actual[i] - expected[i]| <= atol + rtol * |expected[i]|` for every i and equal lengths; NaN fails.
 * The error names `what`, the worst element and both values.
 *
 * @param actual a tensor (read with dataSync) or numbers
 * @param expected reference numbers
 * @param what names the checked quantity in the error message
 * @param tol absolute and relative tolerance (defaults 1e-5 and 1e-5, float32 arithmetic on O(1) values)
 */
export function expectAllClose(
  actual: Tensor | ArrayLike<number>,
  expected: ArrayLike<number>,
  what: string,
  tol: { atol?: number; rtol?: number } = {},
): void {
  const a = isTensor(actual) ? Array.from(actual.dataSync() as ArrayLike<number>) : Array.from(actual);
  const atol = tol.atol ?? 1e-5;
  const rtol = tol.rtol ?? 1e-5;
  if (a.length !== expected.length) throw new Error(`${what}: length ${a.length}, expected ${expected.length}`);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const diff = Math.abs(a[i] - expected[i]);
    const ratio = diff === 0 ? 0 : diff / (atol + rtol * Math.abs(expected[i]));
    if (!(ratio <= worst)) {
      worst = ratio;
      at = i;
    }
  }
  if (!(worst <= 1)) {
    throw new Error(`${what}: element ${at} is ${a[at]}, expected ${expected[at]} (|diff| / tol = ${worst})`);
  }
}

/**
 * Asserts that a gradient matches a reference gradient tensor-wide: `max|diff| <= rel * max|ref|` (plus a tiny
 * absolute floor `atol` for references that are all ~0), the gradient criterion of DESIGN.md.
 *
 * @param actual analytic gradient (tensor or numbers)
 * @param expected reference gradient (e.g. from {@link centralDiff})
 * @param what names the checked gradient in the error message
 * @param rel relative tolerance against the largest reference magnitude (default 1e-3)
 * @param atol absolute floor (default 1e-6)
 */
export function expectGradMatch(
  actual: Tensor | ArrayLike<number>,
  expected: ArrayLike<number>,
  what: string,
  rel = 1e-3,
  atol = 1e-6,
): void {
  const a = isTensor(actual) ? Array.from(actual.dataSync() as ArrayLike<number>) : Array.from(actual);
  if (a.length !== expected.length) throw new Error(`${what}: length ${a.length}, expected ${expected.length}`);
  let maxRef = 0;
  let maxDiff = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    maxRef = Math.max(maxRef, Math.abs(expected[i]));
    const d = Math.abs(a[i] - expected[i]);
    if (!(d <= maxDiff)) {
      maxDiff = d;
      at = i;
    }
  }
  if (!(maxDiff <= rel * maxRef + atol)) {
    throw new Error(`${what}: max|diff| ${maxDiff} at ${at} (${a[at]} vs ${expected[at]}) > ${rel} * max|ref| ${maxRef}`);
  }
}

function isTensor(x: unknown): x is Tensor {
  return typeof (x as Tensor).dataSync === 'function';
}
