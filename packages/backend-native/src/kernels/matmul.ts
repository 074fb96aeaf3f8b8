import { backend_util, TensorInfo } from '@tensorflow/tfjs-core';
import { NativeBackend } from '../backend';
import { nativeBinary, BINARY_OPS, UNARY_OPS } from './elementwise';
import { allF32, broadcastStrides, callCpu, cpuKernel, emptyOutput, NativeKernel, sizeOf } from './util';

/**
 * Batched matrix product with transposes and batch broadcasting on OpenBLAS `cblas_sgemm`:
 * a [...batchA, M, K] (or [..., K, M] with transposeA), b [...batchB, K, N] (or [..., N, K] with transposeB)
 * -> [...broadcast(batchA, batchB), M, N]. No copies for the transposes: they are BLAS flags.
 * @throws Error when the inner dimensions differ (same condition as tfjs' cpu kernel)
 */
export function nativeMatMul(backend: NativeBackend, a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): TensorInfo {
  const ra = a.shape.length;
  const rb = b.shape.length;
  const M = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const Ka = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const Kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
  const N = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (Ka !== Kb) {
    throw new Error(
      `Error in matMul: inner shapes (${Ka}) and (${Kb}) of Tensors with shapes ${a.shape} and ${b.shape} and ` +
        `transposeA=${transposeA} and transposeB=${transposeB} must match.`,
    );
  }
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  const batchShape = backend_util.assertAndGetBroadcastShape(batchA, batchB);
  const batch = sizeOf(batchShape);
  const outShape = [...batchShape, M, N];
  if (batch * M * N === 0) return emptyOutput(backend, outShape);
  const out = backend.alloc(batch * M * N);
  const sa = broadcastStrides(batchA, batchShape);
  const sb = broadcastStrides(batchB, batchShape);
  const aOff = new Int32Array(batch);
  const bOff = new Int32Array(batch);
  const matA = M * Ka;
  const matB = Ka * N;
  for (let i = 0; i < batch; i++) {
    let rem = i;
    let oa = 0;
    let ob = 0;
    for (let ax = batchShape.length - 1; ax >= 0; ax--) {
      const idx = rem % batchShape[ax];
      rem = Math.floor(rem / batchShape[ax]);
      oa += idx * sa[ax];
      ob += idx * sb[ax];
    }
    aOff[i] = oa * matA;
    bOff[i] = ob * matB;
  }
  backend.addon.bmm(batch, transposeA ? 1 : 0, transposeB ? 1 : 0, M, N, Ka, backend.f32(a), aOff, backend.f32(b), bOff, out);
  return backend.output(outShape, out);
}

function batchMatMul(): NativeKernel {
  const cpu = cpuKernel('BatchMatMul');
  return {
    kernelName: 'BatchMatMul',
    kernelFunc: (args) => {
      const { a, b } = args.inputs;
      if (!allF32(a, b) || a.shape.length < 2 || b.shape.length < 2) return callCpu(cpu, args);
      const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
      return nativeMatMul(args.backend, a, b, transposeA, transposeB);
    },
  };
}

/**
 * True for the common single-matrix case `a @ b + bias` (tf.fused.matMul passes [1, M, K] and [1, K, N]) with a bias
 * of N elements broadcast over rows: the bias can seed the GEMM's C.
 */
function isRowBias(a: TensorInfo, b: TensorInfo, bias: TensorInfo, transposeB: boolean): boolean {
  const rb = b.shape.length;
  const N = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  const single = (t: TensorInfo) => t.shape.length >= 2 && sizeOf(t.shape.slice(0, -2)) === 1;
  return single(a) && single(b) && sizeOf(bias.shape) === N && bias.shape[bias.shape.length - 1] === N;
}

/** `op(a) op(b) + bias` for single matrices as one GEMM with beta = 1 over C pre-filled with the bias rows. */
function matMulWithRowBias(backend: NativeBackend, a: TensorInfo, b: TensorInfo, bias: TensorInfo, transposeA: boolean, transposeB: boolean): TensorInfo {
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const [M, K] = transposeA ? [ac, ar] : [ar, ac];
  const [Kb, N] = transposeB ? [bc, br] : [br, bc];
  if (K !== Kb || M * N * K === 0) return nativeMatMul(backend, a, b, transposeA, transposeB); // errors and empties
  const batchShape = backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const out = backend.alloc(M * N);
  backend.addon.copyNd(backend.f32(bias), 0, out, 0, Int32Array.of(M, N), Int32Array.of(0, 1), Int32Array.of(N, 1));
  backend.addon.sgemm(transposeA ? 1 : 0, transposeB ? 1 : 0, M, N, K, 1, backend.f32(a), 0, ac, backend.f32(b), 0, bc, 1, out, 0, N);
  return backend.output([...batchShape, M, N], out);
}

/** _FusedMatMul (matMul + bias + activation, from tf.fused.matMul): linear, relu and sigmoid natively. */
function fusedMatMul(): NativeKernel {
  const cpu = cpuKernel('_FusedMatMul');
  return {
    kernelName: '_FusedMatMul',
    kernelFunc: (args) => {
      const { a, b, bias, preluActivationWeights } = args.inputs;
      const { transposeA, transposeB, activation } = args.attrs as { transposeA: boolean; transposeB: boolean; activation: string };
      const act = activation ?? 'linear';
      if (!allF32(a, b, bias) || preluActivationWeights || !['linear', 'relu', 'sigmoid'].includes(act) || a.shape.length < 2 || b.shape.length < 2) {
        return callCpu(cpu, args);
      }
      const { backend } = args;
      const rowBias = bias !== undefined && isRowBias(a, b, bias, transposeB);
      let y = rowBias ? matMulWithRowBias(backend, a, b, bias, transposeA, transposeB) : nativeMatMul(backend, a, b, transposeA, transposeB);
      if (bias && !rowBias) {
        const withBias = nativeBinary(backend, BINARY_OPS.Add, y, bias);
        backend.disposeIntermediateTensorInfo(y);
        y = withBias;
      }
      if (act !== 'linear' && sizeOf(y.shape) > 0) {
        const out = backend.alloc(sizeOf(y.shape));
        backend.addon.unary(act === 'relu' ? UNARY_OPS.Relu : UNARY_OPS.Sigmoid, backend.f32(y), out);
        backend.disposeIntermediateTensorInfo(y);
        y = backend.output(y.shape, out);
      }
      return y;
    },
  };
}

/** The matmul kernels of the native backend. */
export function matmulKernels(): NativeKernel[] {
  return [batchMatMul(), fusedMatMul()];
}
