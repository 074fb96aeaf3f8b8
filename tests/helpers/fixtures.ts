import * as fs from 'fs';
import * as path from 'path';
import { tf, Tensor } from '@mmzoo/core';
import { parseSafetensors, RawTensor } from '@mmzoo/core/io';

/** Folder of the golden fixtures copied from ../shared/goldens (tests run from a fresh clone). */
export const FIXTURES = path.join(__dirname, '..', 'fixtures');

/** Reads tests/fixtures/<name>/case.json. */
export function readCase(name: string): any {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, name, 'case.json'), 'utf8'));
}

/** Reads tests/fixtures/<name>/weights.safetensors. */
export function readWeights(name: string): Map<string, RawTensor> {
  return parseSafetensors(new Uint8Array(fs.readFileSync(path.join(FIXTURES, name, 'weights.safetensors'))));
}

function flat(x: unknown): number[] {
  return Array.isArray(x) ? (x as unknown[]).flatMap(flat) : [x as number];
}

/**
 * DESIGN.md tolerance for outputs and losses: |diff| <= 1e-4 + 1e-4 |ref| elementwise.
 * Returns the worst violation ratio (<= 1 passes) so failures print a number.
 */
export function expectClose(actual: Tensor | number, ref: unknown, what: string): void {
  const a = typeof actual === 'number' ? [actual] : Array.from(actual.dataSync());
  const r = flat(ref);
  expect({ what, length: a.length }).toEqual({ what, length: r.length });
  let worst = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const ratio = Math.abs(a[i] - r[i]) / (1e-4 + 1e-4 * Math.abs(r[i]));
    if (!(ratio <= worst)) {
      worst = ratio;
      at = i;
    }
  }
  if (!(worst <= 1)) throw new Error(`${what}: element ${at} is ${a[at]}, reference ${r[at]} (|diff|/tol = ${worst})`);
}

/** DESIGN.md tolerance for gradients: max|diff| <= 1e-3 * max|ref| over the tensor. */
export function expectGradClose(actual: Tensor, ref: unknown, what: string): void {
  const a = actual.dataSync();
  const r = flat(ref);
  expect({ what, length: a.length }).toEqual({ what, length: r.length });
  const maxRef = Math.max(...r.map(Math.abs));
  let maxDiff = 0;
  for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - r[i]));
  if (!(maxDiff <= 1e-3 * maxRef)) throw new Error(`${what}: max|diff| ${maxDiff} > 1e-3 * max|ref| (${1e-3 * maxRef})`);
}

/**
 * Why the native backend (@mmzoo/backend-native, issue 8) cannot run here, or undefined when it loads: the addon was
 * not built (no OpenBLAS at install) or `MMZOO_NATIVE=0`.
 */
export const NATIVE_UNAVAILABLE: string | undefined = (() => {
  try {
    require('@mmzoo/backend-native');
    return undefined;
  } catch (e) {
    return String(e instanceof Error ? e.message : e).split('\n')[0];
  }
})();

/** Runs the suite body once per backend name: cpu, wasm, and native where it loads. */
export const BACKENDS: readonly ('cpu' | 'wasm' | 'native')[] = NATIVE_UNAVAILABLE ? ['cpu', 'wasm'] : ['cpu', 'wasm', 'native'];

/** Switches tfjs to `name`, loading the wasm or native backend when needed. */
export async function useBackend(name: string): Promise<void> {
  if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  if (name === 'native') require('@mmzoo/backend-native');
  await tf.setBackend(name);
  await tf.ready();
}
