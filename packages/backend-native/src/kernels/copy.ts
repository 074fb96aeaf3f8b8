import { backend_util, slice_util, TensorInfo, util } from '@tensorflow/tfjs-core';
import type { NativeBackend } from '../backend';
import { allF32, callCpu, collapse, cpuKernel, emptyOutput, i32, NativeKernel, sizeOf, stridesOf } from './util';

/** Copies `src` (contiguous, `shape`) into `dst` at element offset `dstOffset` with strides `dstStrides`. */
function copyInto(backend: NativeBackend, src: Float32Array, srcOffset: number, srcStrides: number[], dst: Float32Array, dstOffset: number, dstStrides: number[], shape: number[]): void {
  if (sizeOf(shape) === 0) return;
  const c = collapse(shape, [srcStrides, dstStrides]);
  backend.addon.copyNd(src, srcOffset, dst, dstOffset, i32(c.shape), i32(c.strides[0]), i32(c.strides[1]));
}

/**
 * `x` of `shape` transposed by `perm` into a new buffer from the pool (out axis i = in axis perm[i]).
 * 2-D transposes of the innermost axes run in cache tiles; a permutation that keeps the last axis copies whole rows.
 */
export function transposeValues(backend: NativeBackend, x: Float32Array, shape: number[], perm: number[]): Float32Array {
  const outShape = perm.map((p) => shape[p]);
  const inStrides = stridesOf(shape);
  const out = backend.alloc(sizeOf(shape));
  copyInto(backend, x, 0, perm.map((p) => inStrides[p]), out, 0, stridesOf(outShape), outShape);
  return out;
}

function transpose(): NativeKernel {
  const cpu = cpuKernel('Transpose');
  return {
    kernelName: 'Transpose',
    kernelFunc: (args) => {
      const { x } = args.inputs;
      const { perm } = args.attrs as { perm: number[] };
      if (!allF32(x)) return callCpu(cpu, args);
      const outShape = perm.map((p) => x.shape[p]);
      if (sizeOf(x.shape) === 0) return emptyOutput(args.backend, outShape);
      return args.backend.output(outShape, transposeValues(args.backend, args.backend.f32(x), x.shape, perm));
    },
  };
}

function slice(): NativeKernel {
  const cpu = cpuKernel('Slice');
  return {
    kernelName: 'Slice',
    kernelFunc: (args) => {
      const { x } = args.inputs;
      const { begin, size } = args.attrs as { begin: number | number[]; size: number | number[] };
      if (!allF32(x)) return callCpu(cpu, args);
      const [$begin, $size] = slice_util.parseSliceParams(x, begin, size);
      slice_util.assertParamsValid(x, $begin, $size);
      const n = sizeOf($size);
      if (n === 0) return emptyOutput(args.backend, $size);
      const { backend } = args;
      const xs = stridesOf(x.shape);
      const out = backend.alloc(n);
      copyInto(backend, backend.f32(x), slice_util.computeFlatOffset($begin, xs), xs, out, 0, stridesOf($size), $size);
      return backend.output($size, out);
    },
  };
}

function concat(): NativeKernel {
  const cpu = cpuKernel('Concat');
  return {
    kernelName: 'Concat',
    kernelFunc: (args) => {
      const ts: TensorInfo[] = args.inputs;
      const { axis } = args.attrs as { axis: number };
      if (ts.length < 2 || !allF32(...ts)) return callCpu(cpu, args);
      const $axis = util.parseAxisParam(axis, ts[0].shape)[0];
      backend_util.assertParamsConsistent(ts.map((t) => t.shape), $axis);
      const outShape = backend_util.computeOutShape(ts.map((t) => t.shape), $axis);
      const n = sizeOf(outShape);
      const { backend } = args;
      if (n === 0) return emptyOutput(backend, outShape);
      const out = backend.alloc(n);
      const outer = sizeOf(outShape.slice(0, $axis));
      const width = n / outer;
      let col = 0;
      for (const t of ts) {
        const inner = sizeOf(t.shape.slice($axis));
        if (inner > 0) copyInto(backend, backend.f32(t), 0, [inner, 1], out, col, [width, 1], [outer, inner]);
        col += inner;
      }
      return backend.output(outShape, out);
    },
  };
}

function padV2(): NativeKernel {
  const cpu = cpuKernel('PadV2');
  return {
    kernelName: 'PadV2',
    kernelFunc: (args) => {
      const { x } = args.inputs;
      const { paddings, constantValue } = args.attrs as { paddings: [number, number][]; constantValue: number };
      if (!allF32(x) || paddings.some(([b, a]) => b < 0 || a < 0)) return callCpu(cpu, args);
      const outShape = x.shape.map((d, i) => paddings[i][0] + d + paddings[i][1]);
      const n = sizeOf(outShape);
      const { backend } = args;
      if (n === 0) return emptyOutput(backend, outShape);
      const out = backend.alloc(n);
      backend.addon.fill(out, constantValue);
      const os = stridesOf(outShape);
      const offset = paddings.reduce((acc, [before], i) => acc + before * os[i], 0);
      copyInto(backend, backend.f32(x), 0, stridesOf(x.shape), out, offset, os, x.shape);
      return backend.output(outShape, out);
    },
  };
}

/** SplitV: consecutive slices along one axis (also the gradient of Concat). */
function splitV(): NativeKernel {
  const cpu = cpuKernel('SplitV');
  return {
    kernelName: 'SplitV',
    kernelFunc: (args) => {
      const { x } = args.inputs;
      const { numOrSizeSplits, axis } = args.attrs as { numOrSizeSplits: number | number[]; axis: number };
      if (!allF32(x)) return callCpu(cpu, args);
      const $axis = util.parseAxisParam(axis, x.shape)[0];
      const sizes = backend_util.prepareSplitSize(x, numOrSizeSplits, $axis);
      const { backend } = args;
      const xs = stridesOf(x.shape);
      const begin = x.shape.map(() => 0);
      return sizes.map((s) => {
        const shape = x.shape.slice();
        shape[$axis] = s;
        const n = sizeOf(shape);
        const out = n ? backend.alloc(n) : new Float32Array(0);
        if (n) copyInto(backend, backend.f32(x), slice_util.computeFlatOffset(begin, xs), xs, out, 0, stridesOf(shape), shape);
        begin[$axis] += s;
        return backend.output(shape, out);
      });
    },
  };
}

/** The copy kernels of the native backend: Transpose, Slice, Concat, PadV2, SplitV. */
export function copyKernels(): NativeKernel[] {
  return [transpose(), slice(), concat(), padV2(), splitV()];
}
