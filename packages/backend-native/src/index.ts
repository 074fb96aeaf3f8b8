/**
 * @mmzoo/backend-native: registers the tfjs backend `native` (DESIGN.md "Backend facts"; issue 8) when this module
 * is required. It is tfjs' cpu backend with the hot kernels replaced by native code over OpenBLAS (a Node-API
 * addon built at install time) and an output-buffer pool; every other kernel is the cpu backend's, copied to the
 * name `native` (the installed `cpu` backend is never modified).
 *
 * Requiring this module throws, with a one-line reason, when the backend cannot be used: `MMZOO_NATIVE=0`, or the
 * addon was not built (OpenBLAS headers or a compiler missing at install), or it cannot be loaded. @mmzoo/core's
 * `initBackend` catches that and falls back to wasm, logging the reason.
 *
 * Threads (chosen by measurement on the 2-core benchmark machine, see README.md):
 * - `MMZOO_NATIVE_THREADS`: threads of the kernel pool, caller included (default: the number of cores, at most 8).
 *   Large GEMMs are split into row or column blocks over the pool, batched GEMMs and fused attention split their
 *   batch, and elementwise / reduction / copy loops over 32K elements split their range.
 * - `MMZOO_NATIVE_BLAS_THREADS`: OpenBLAS' own threads per GEMM (default 1; with more, the pool does not split GEMMs).
 * - `MMZOO_NATIVE_SPIN_US`: how long an idle pool thread spins for the next kernel before sleeping (default 50).
 * - `MMZOO_NATIVE_BLAS_CORETYPE`: OpenBLAS' kernel set for this addon only ('auto' = OpenBLAS' own CPU detection even
 *   when the environment sets `OPENBLAS_CORETYPE`, or a core name); unset, OpenBLAS follows the environment. These
 *   benchmark machines set OPENBLAS_CORETYPE=Haswell (AVX2); 'auto' selects the AVX-512 kernels (Cooperlake), about
 *   1.8x faster on the benchmark's GEMMs (see README.md).
 * - `MMZOO_NATIVE_POOL_MB`: cap of free buffers kept for reuse (default 1024: the benchmark CLIP step frees about
 *   590 MB of buffers per step; with a 512 MB cap a third of its allocations missed the pool).
 */
import * as os from 'os';
import { findBackendFactory, getKernel, getKernelsForBackend, KernelFunc, registerBackend, registerKernel } from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { loadAddon, NativeAddon, unavailableReason } from './addon';
import { NativeBackend } from './backend';
import { copyKernels } from './kernels/copy';
import { elementwiseKernels } from './kernels/elementwise';
import { fusedKernels } from './kernels/fused';
import { gatherKernels } from './kernels/gather';
import { matmulKernels } from './kernels/matmul';
import { reduceKernels } from './kernels/reduce';
import type { NativeKernel, NativeKernelArgs } from './kernels/util';

export { NativeBackend } from './backend';
export type { PoolStats } from './backend';
export type { NativeAddon } from './addon';
export { unavailableReason, requestedBlasCore } from './addon';

/** The tfjs backend name this package registers. */
export const BACKEND_NAME = 'native';

/** Thread settings in force (see the module documentation for the environment variables). */
export interface NativeThreads {
  /** kernel pool threads, caller included */
  threads: number;
  /** OpenBLAS threads per GEMM call */
  blasThreads: number;
  /** online cores */
  cores: number;
  /** OpenBLAS' kernel set in use (e.g. 'Haswell', 'Cooperlake'; see requestedBlasCore) */
  blasCore: string;
}

function envInt(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min) throw new Error(`${name} must be an integer >= ${min}, got '${raw}'`);
  return v;
}

const addon: NativeAddon = loadAddon();
const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
const blasCore = addon.blasInfo().core;
let threads: NativeThreads = {
  ...addon.init(
    envInt('MMZOO_NATIVE_THREADS', Math.min(8, Math.max(1, cores)), 1),
    envInt('MMZOO_NATIVE_SPIN_US', 50, 0),
    envInt('MMZOO_NATIVE_BLAS_THREADS', 1, 1),
  ),
  blasCore,
};
const poolCapBytes = envInt('MMZOO_NATIVE_POOL_MB', 1024, 0) * 2 ** 20;

/**
 * The kernels implemented natively (everything else runs the cpu backend's JavaScript kernel). `MMZOO_NATIVE_FUSED=0`
 * leaves out the fused ones, so that core composes LayerNorm, GELU, attention and AdamW from tfjs ops (to measure
 * what fusion gains).
 */
export const NATIVE_KERNELS: readonly NativeKernel[] = [
  ...matmulKernels(), ...elementwiseKernels(), ...reduceKernels(), ...copyKernels(), ...gatherKernels(),
  ...(process.env.MMZOO_NATIVE_FUSED === '0' ? [] : fusedKernels()),
];

/** True when a kernel call runs on the native backend: always, for the kernels registered for it. */
function onNativeBackend(args: Parameters<KernelFunc>[0]): args is NativeKernelArgs {
  return args.backend instanceof NativeBackend;
}

/** A native kernel as a tfjs kernel function (the backend it is given is the native one). */
function asKernelFunc(k: NativeKernel): KernelFunc {
  return (args) => {
    if (!onNativeBackend(args)) throw new Error(`@mmzoo/backend-native: kernel ${k.kernelName} called on another backend`);
    return k.kernelFunc(args);
  };
}

function register(): void {
  if (!findBackendFactory(BACKEND_NAME)) {
    // priority 0: never chosen implicitly over cpu; mmzoo selects it explicitly (initBackend, tf.setBackend)
    registerBackend(BACKEND_NAME, () => new NativeBackend(addon, poolCapBytes), 0);
  }
  const own = new Set(NATIVE_KERNELS.map((k) => k.kernelName));
  for (const k of getKernelsForBackend('cpu')) {
    if (own.has(k.kernelName) || getKernel(k.kernelName, BACKEND_NAME)) continue;
    registerKernel({ ...k, backendName: BACKEND_NAME });
  }
  for (const k of NATIVE_KERNELS) {
    if (getKernel(k.kernelName, BACKEND_NAME)) continue;
    registerKernel({ kernelName: k.kernelName, backendName: BACKEND_NAME, kernelFunc: asKernelFunc(k) });
  }
}
register();

/** The thread settings in force. */
export function nativeThreads(): NativeThreads {
  return { ...threads };
}

/**
 * Changes the kernel pool's and OpenBLAS' thread counts for this process (e.g. to benchmark settings).
 * @param poolThreads pool threads, caller included (>= 1)
 * @param blasThreads OpenBLAS threads per GEMM (>= 1); above 1 the pool no longer splits GEMMs
 */
export function setNativeThreads(poolThreads: number, blasThreads = 1): NativeThreads {
  threads = { ...addon.init(poolThreads, -1, blasThreads), blasCore };
  return nativeThreads();
}
