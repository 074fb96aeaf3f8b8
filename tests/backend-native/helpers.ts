/**
 * Helpers for the native-backend tests: run the same computation on the cpu and native backends from plain-JS
 * inputs and compare the results (NaN matches NaN, infinities match by sign).
 */
import { tf, Tensor } from '@mmzoo/core';
import { NATIVE_UNAVAILABLE } from '../helpers/fixtures';

/** `describe` when the native backend loads here, `describe.skip` otherwise (the reason is in the title). */
export const describeNative: jest.Describe = NATIVE_UNAVAILABLE ? describe.skip : describe;
/** Title suffix that says why native tests are skipped. */
export const SKIP_NOTE = NATIVE_UNAVAILABLE ? ` (skipped: ${NATIVE_UNAVAILABLE})` : '';

/** A result read back from a backend. */
export interface Result {
  shape: number[];
  dtype: string;
  values: number[];
}

/** Makes `backend` the active tfjs backend (loading the native one when needed). */
export async function switchTo(backend: 'cpu' | 'native'): Promise<void> {
  if (backend === 'native') require('@mmzoo/backend-native');
  await tf.setBackend(backend);
}

/** Runs `fn` on `backend` inside a tidy and reads every output tensor back. */
export async function runOn(backend: 'cpu' | 'native', fn: () => Tensor | Tensor[]): Promise<Result[]> {
  await switchTo(backend);
  return tf.tidy(() => {
    const out = fn();
    return (Array.isArray(out) ? out : [out]).map((t) => ({ shape: t.shape.slice(), dtype: t.dtype, values: Array.from(t.dataSync()) }));
  });
}

/** Runs `fn` on cpu and on native; returns both results. */
export async function onBoth(fn: () => Tensor | Tensor[]): Promise<{ cpu: Result[]; native: Result[] }> {
  const cpu = await runOn('cpu', fn);
  const native = await runOn('native', fn);
  return { cpu, native };
}

/**
 * Expects equal shapes and dtypes and values within `atol + rtol |cpu|`; NaN must match NaN and an infinity the
 * same infinity.
 */
export function expectSame(r: { cpu: Result[]; native: Result[] }, what: string, tol: { rtol?: number; atol?: number } = {}): void {
  const { rtol = 1e-5, atol = 1e-6 } = tol;
  expect(r.native.length).toBe(r.cpu.length);
  r.cpu.forEach((c, k) => {
    const n = r.native[k];
    expect({ what, k, shape: n.shape, dtype: n.dtype }).toEqual({ what, k, shape: c.shape, dtype: c.dtype });
    for (let i = 0; i < c.values.length; i++) {
      const a = c.values[i];
      const b = n.values[i];
      const ok = Number.isNaN(a) ? Number.isNaN(b) : !Number.isFinite(a) ? a === b : Math.abs(a - b) <= atol + rtol * Math.abs(a);
      if (!ok) throw new Error(`${what} output ${k} element ${i}: cpu ${a}, native ${b}`);
    }
  });
}

/** Deterministic values in [lo, hi) (mulberry32), as a plain array. */
export function rand(seed: number, n: number, lo = -1, hi = 1): number[] {
  let s = seed >>> 0;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out.push(lo + (hi - lo) * (((t ^ (t >>> 14)) >>> 0) / 4294967296));
  }
  return out;
}

/** A float32 tensor of `shape` with deterministic values. */
export function randT(seed: number, shape: number[], lo = -1, hi = 1): Tensor {
  return tf.tensor(rand(seed, shape.reduce((a, b) => a * b, 1), lo, hi), shape);
}
