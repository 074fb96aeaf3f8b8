import { backend_util, TensorInfo } from '@tensorflow/tfjs-core';
import { allF32, broadcastStrides, callCpu, collapse, cpuKernel, emptyOutput, i32, NativeKernel, NativeKernelArgs, sizeOf } from './util';

/** Operation codes of the addon's `binary` (enum mm_binop in kernels.h). */
export const BINARY_OPS = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3, Maximum: 4, Minimum: 5, Pow: 6, SquaredDifference: 7 } as const;
/** Operation codes of the addon's `unary` (enum mm_unop in kernels.h). */
export const UNARY_OPS = {
  Exp: 0, Log: 1, Sqrt: 2, Rsqrt: 3, Square: 4, Neg: 5, Sigmoid: 6, Erf: 7, Tanh: 8, Relu: 9, Abs: 10, Reciprocal: 11,
} as const;

/**
 * `a op b` with numpy broadcasting on float32 tensors, natively; other dtypes go to the cpu kernel.
 * Shared by the binary kernels below and by _FusedMatMul's bias add.
 */
export function nativeBinary(backend: NativeKernelArgs['backend'], op: number, a: TensorInfo, b: TensorInfo): TensorInfo {
  const outShape = backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
  const n = sizeOf(outShape);
  if (n === 0) return emptyOutput(backend, outShape);
  const c = collapse(outShape, [broadcastStrides(a.shape, outShape), broadcastStrides(b.shape, outShape)]);
  const out = backend.alloc(n);
  backend.addon.binary(op, backend.f32(a), backend.f32(b), out, i32(c.shape), i32(c.strides[0]), i32(c.strides[1]));
  return backend.output(outShape, out);
}

function binaryKernel(kernelName: keyof typeof BINARY_OPS): NativeKernel {
  const cpu = cpuKernel(kernelName);
  const op = BINARY_OPS[kernelName];
  return {
    kernelName,
    kernelFunc: (args) => {
      const { a, b } = args.inputs;
      if (!allF32(a, b)) return callCpu(cpu, args);
      return nativeBinary(args.backend, op, a, b);
    },
  };
}

function unaryKernel(kernelName: keyof typeof UNARY_OPS): NativeKernel {
  const cpu = cpuKernel(kernelName);
  const op = UNARY_OPS[kernelName];
  return {
    kernelName,
    kernelFunc: (args) => {
      const { x } = args.inputs;
      if (!allF32(x)) return callCpu(cpu, args);
      const n = sizeOf(x.shape);
      if (n === 0) return emptyOutput(args.backend, x.shape);
      const out = args.backend.alloc(n);
      args.backend.addon.unary(op, args.backend.f32(x), out);
      return args.backend.output(x.shape, out);
    },
  };
}

/** AddN: the sum of same-shape tensors, natively for float32 (two ping-pong buffers, no aliasing). */
function addN(): NativeKernel {
  const cpu = cpuKernel('AddN');
  return {
    kernelName: 'AddN',
    kernelFunc: (args) => {
      const ts: TensorInfo[] = args.inputs;
      if (ts.length < 2 || !allF32(...ts)) return callCpu(cpu, args);
      const { backend } = args;
      const shape = ts[0].shape;
      const n = sizeOf(shape);
      if (n === 0 || ts.some((t) => sizeOf(t.shape) !== n)) return callCpu(cpu, args);
      const flat = i32([n]);
      const one = i32([1]);
      let acc = backend.alloc(n);
      backend.addon.binary(BINARY_OPS.Add, backend.f32(ts[0]), backend.f32(ts[1]), acc, flat, one, one);
      if (ts.length > 2) {
        let spare = backend.alloc(n);
        for (let i = 2; i < ts.length; i++) {
          backend.addon.binary(BINARY_OPS.Add, acc, backend.f32(ts[i]), spare, flat, one, one);
          [acc, spare] = [spare, acc];
        }
        backend.releaseTemp(spare);
      }
      return backend.output(shape, acc);
    },
  };
}

/** The elementwise kernels of the native backend. */
export function elementwiseKernels(): NativeKernel[] {
  return [
    ...(Object.keys(BINARY_OPS) as (keyof typeof BINARY_OPS)[]).map(binaryKernel),
    ...(Object.keys(UNARY_OPS) as (keyof typeof UNARY_OPS)[]).map(unaryKernel),
    addN(),
  ];
}
