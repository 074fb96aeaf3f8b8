import { backend_util, util } from '@tensorflow/tfjs-core';
import { allF32, callCpu, cpuKernel, emptyOutput, NativeKernel, sizeOf } from './util';

function softmax(): NativeKernel {
  const cpu = cpuKernel('Softmax');
  return {
    kernelName: 'Softmax',
    kernelFunc: (args) => {
      const { logits } = args.inputs;
      const { dim } = args.attrs as { dim: number };
      const rank = logits.shape.length;
      if (!allF32(logits) || rank === 0 || (dim !== -1 && dim !== rank - 1)) return callCpu(cpu, args);
      const n = sizeOf(logits.shape);
      if (n === 0) return emptyOutput(args.backend, logits.shape);
      const cols = logits.shape[rank - 1];
      const out = args.backend.alloc(n);
      args.backend.addon.softmax(args.backend.f32(logits), out, n / cols, cols);
      return args.backend.output(logits.shape, out);
    },
  };
}

function gatherV2(): NativeKernel {
  const cpu = cpuKernel('GatherV2');
  return {
    kernelName: 'GatherV2',
    kernelFunc: (args) => {
      const { x, indices } = args.inputs;
      const { axis, batchDims } = args.attrs as { axis: number; batchDims: number };
      if (!allF32(x) || indices.dtype !== 'int32' || (batchDims ?? 0) !== 0) return callCpu(cpu, args);
      const $axis = util.parseAxisParam(axis, x.shape)[0];
      const info = backend_util.segment_util.collectGatherOpShapeInfo(x, indices, $axis, 0);
      const n = sizeOf(info.outputShape);
      const { backend } = args;
      if (n === 0) return emptyOutput(backend, info.outputShape);
      const idx = backend.i32(indices);
      const out = backend.alloc(n);
      const bad = backend.addon.gather(backend.f32(x), idx, out, info.outerSize, info.dimSize, info.sliceSize);
      if (bad >= 0) {
        backend.releaseTemp(out);
        throw new Error(`GatherV2: the index value ${idx[bad]} is not in [0, ${info.dimSize - 1}]`);
      }
      return backend.output(info.outputShape, out);
    },
  };
}

function unsortedSegmentSum(): NativeKernel {
  const cpu = cpuKernel('UnsortedSegmentSum');
  return {
    kernelName: 'UnsortedSegmentSum',
    kernelFunc: (args) => {
      const { x, segmentIds } = args.inputs;
      const { numSegments } = args.attrs as { numSegments: number };
      if (!allF32(x) || segmentIds.dtype !== 'int32') return callCpu(cpu, args);
      const segRank = segmentIds.shape.length;
      const n = sizeOf(segmentIds.shape);
      const rest = x.shape.slice(segRank);
      const outShape = [numSegments, ...rest];
      const { backend } = args;
      if (sizeOf(outShape) === 0) return emptyOutput(backend, outShape);
      if (n === 0 || !util.arraysEqual(x.shape.slice(0, segRank), segmentIds.shape)) return callCpu(cpu, args);
      const out = backend.alloc(sizeOf(outShape));
      const seg = backend.i32(segmentIds);
      backend.addon.segmentSum(backend.f32(x), seg, out, sizeOf(rest), numSegments);
      return backend.output(outShape, out);
    },
  };
}

/** Softmax, GatherV2 and UnsortedSegmentSum on the native backend. */
export function gatherKernels(): NativeKernel[] {
  return [softmax(), gatherV2(), unsortedSegmentSum()];
}
