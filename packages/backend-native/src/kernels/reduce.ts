import { backend_util, util } from '@tensorflow/tfjs-core';
import { transposeValues } from './copy';
import { allF32, callCpu, cpuKernel, NativeKernel, sizeOf } from './util';

/** Operation codes of the addon's reductions (enum mm_redop in kernels.h). */
export const REDUCE_OPS = { Sum: 0, Max: 1, Min: 2, Mean: 3, Prod: 4 } as const;

/**
 * A float32 reduction over any axes: reduced axes that are innermost reduce rows, leading ones reduce columns, any
 * other set is first transposed innermost (natively). Sum and Mean accumulate in double as tfjs' cpu kernels do.
 */
function reduceKernel(kernelName: keyof typeof REDUCE_OPS): NativeKernel {
  const cpu = cpuKernel(kernelName);
  const op = REDUCE_OPS[kernelName];
  return {
    kernelName,
    kernelFunc: (args) => {
      const { x } = args.inputs;
      // Max names its axes `reductionIndices`, the others `axis`
      const attrs = args.attrs as { axis?: number | number[]; reductionIndices?: number | number[]; keepDims: boolean };
      const axis = attrs.axis ?? attrs.reductionIndices;
      const keepDims = attrs.keepDims;
      if (!allF32(x) || sizeOf(x.shape) === 0) return callCpu(cpu, args);
      const rank = x.shape.length;
      const axes = [...new Set(util.parseAxisParam(axis ?? x.shape.map((_, i) => i), x.shape))].sort((p, q) => p - q);
      if (axes.length === 0) return callCpu(cpu, args);
      const { backend } = args;
      const [outShape, reduceShape] = backend_util.computeOutAndReduceShapes(x.shape, axes);
      const reduceSize = sizeOf(reduceShape);
      const outSize = sizeOf(outShape);
      const out = backend.alloc(outSize);
      const innermost = axes.every((a, i) => a === rank - axes.length + i);
      const leading = axes.every((a, i) => a === i);
      if (innermost) {
        backend.addon.reduceRows(op, backend.f32(x), out, outSize, reduceSize);
      } else if (leading) {
        backend.addon.reduceCols(op, backend.f32(x), out, reduceSize, outSize);
      } else {
        const perm = backend_util.getAxesPermutation(axes, rank)!;
        const tmp = transposeValues(backend, backend.f32(x), x.shape, perm);
        backend.addon.reduceRows(op, tmp, out, outSize, reduceSize);
        backend.releaseTemp(tmp);
      }
      const shape = keepDims ? backend_util.expandShapeToKeepDim(outShape, axes) : outShape;
      return backend.output(shape, out);
    },
  };
}

/** The reduction kernels of the native backend. */
export function reduceKernels(): NativeKernel[] {
  return (Object.keys(REDUCE_OPS) as (keyof typeof REDUCE_OPS)[]).map(reduceKernel);
}
