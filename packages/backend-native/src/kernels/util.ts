import { getKernel, KernelConfig, KernelFunc, NamedAttrMap, TensorInfo, util } from '@tensorflow/tfjs-core';
import type { NativeBackend } from '../backend';

/** Arguments every kernel function receives (tfjs `KernelFunc`'s parameter, with the backend typed). */
export interface NativeKernelArgs {
  inputs: Record<string, TensorInfo> & TensorInfo[];
  backend: NativeBackend;
  attrs?: NamedAttrMap;
}

/** A kernel of the native backend: its tfjs kernel name and function. */
export interface NativeKernel {
  kernelName: string;
  kernelFunc: (args: NativeKernelArgs) => TensorInfo | TensorInfo[];
}

/**
 * The cpu backend's implementation of `kernelName`, to which a native kernel delegates the cases it does not cover
 * (other dtypes, unusual attributes). The cpu kernels run unchanged on the native backend (same storage).
 * @throws Error when the cpu backend has no such kernel (a programming error in this package)
 */
export function cpuKernel(kernelName: string): KernelFunc {
  const k: KernelConfig | undefined = getKernel(kernelName, 'cpu');
  if (!k) throw new Error(`@mmzoo/backend-native: tfjs' cpu backend has no kernel '${kernelName}'`);
  return k.kernelFunc;
}

/** Calls a cpu kernel function with the native backend's arguments. */
export function callCpu(fn: KernelFunc, args: NativeKernelArgs): TensorInfo | TensorInfo[] {
  return fn(args);
}

/** True when every tensor is float32. */
export function allF32(...ts: (TensorInfo | undefined)[]): boolean {
  return ts.every((t) => t === undefined || t.dtype === 'float32');
}

/** Element count of a shape. */
export function sizeOf(shape: number[]): number {
  return util.sizeFromShape(shape);
}

/** Row-major element strides of a shape. */
export function stridesOf(shape: number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/**
 * Strides with which an operand of `inShape` is read at each axis of the broadcast `outShape`
 * (numpy rules: trailing alignment; size-1 and missing axes read with stride 0).
 */
export function broadcastStrides(inShape: number[], outShape: number[]): number[] {
  const own = stridesOf(inShape);
  const off = outShape.length - inShape.length;
  return outShape.map((_, i) => {
    const j = i - off;
    return j < 0 || inShape[j] === 1 ? 0 : own[j];
  });
}

/**
 * Merges adjacent axes of an iteration space whose operands all step contiguously across them, and drops size-1
 * axes, so that the native loops see the fewest, longest runs. `strides[k]` are operand k's strides over `shape`.
 * @returns the collapsed shape and strides (rank >= 1)
 */
export function collapse(shape: number[], strides: number[][]): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && strides.every((s, k) => outStrides[k][last] === s[i] * shape[i])) {
      outShape[last] *= shape[i];
      strides.forEach((s, k) => (outStrides[k][last] = s[i]));
    } else {
      outShape.push(shape[i]);
      strides.forEach((s, k) => outStrides[k].push(s[i]));
    }
  }
  if (outShape.length === 0) return { shape: [1], strides: strides.map(() => [1]) };
  return { shape: outShape, strides: outStrides };
}

/** Int32Array of a number list (shapes and strides for the addon). */
export function i32(xs: ArrayLike<number>): Int32Array {
  return Int32Array.from(xs);
}

/** An empty float32 output of `shape` (a zero-size shape). */
export function emptyOutput(backend: NativeBackend, shape: number[]): TensorInfo {
  return backend.output(shape, new Float32Array(0));
}
