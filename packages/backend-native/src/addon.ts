import * as fs from 'fs';
import * as path from 'path';

/**
 * The functions of the Node-API addon `build/Release/mmzoo_native.node` (C sources in src/native/). All work on
 * float32 buffers the caller allocates (outputs are written in place); each checks its arrays' types and lengths
 * and throws a TypeError or RangeError instead of reading or writing outside them. Shapes and strides are Int32Array,
 * counts are element counts.
 */
export interface NativeAddon {
  /** Starts the thread pool (`threads` in all, caller included) and sets OpenBLAS' thread count. */
  init(threads: number, spinMicros: number, blasThreads: number): { threads: number; blasThreads: number; cores: number };
  /** Changes the pool and OpenBLAS thread counts. */
  setThreads(threads: number, blasThreads: number): void;
  /** OpenBLAS' build configuration and the kernel set (core type) in use, e.g. 'SkylakeX'. */
  blasInfo(): { config: string; core: string };
  /** Row-major `C = alpha op(A) op(B) + beta C` on [M, N] with leading dimensions and element offsets. */
  sgemm(
    transA: number, transB: number, M: number, N: number, K: number, alpha: number,
    A: Float32Array, aOff: number, lda: number, B: Float32Array, bOff: number, ldb: number,
    beta: number, C: Float32Array, cOff: number, ldc: number,
  ): void;
  /** `C[i] = op(A at aOffsets[i]) op(B at bOffsets[i])`, C contiguous [batch, M, N]. */
  bmm(
    batch: number, transA: number, transB: number, M: number, N: number, K: number,
    A: Float32Array, aOffsets: Int32Array, B: Float32Array, bOffsets: Int32Array, C: Float32Array,
  ): void;
  /** `out = a op b` over `shape` (out contiguous), operand element strides per axis (0 broadcasts). */
  binary(op: number, a: Float32Array, b: Float32Array, out: Float32Array, shape: Int32Array, aStrides: Int32Array, bStrides: Int32Array): void;
  /** `out[i] = op(x[i])`. */
  unary(op: number, x: Float32Array, out: Float32Array): void;
  /** Fills `dst` with `value`. */
  fill(dst: Float32Array, value: number): void;
  /** Reduces each row of a [rows, cols] matrix (cols > 0). */
  reduceRows(op: number, x: Float32Array, out: Float32Array, rows: number, cols: number): void;
  /** Reduces each column of a [rows, cols] matrix (rows > 0). */
  reduceCols(op: number, x: Float32Array, out: Float32Array, rows: number, cols: number): void;
  /** Strided copy over `shape` from `src` (offset, strides) to `dst` (offset, strides). */
  copyNd(src: Float32Array, srcOffset: number, dst: Float32Array, dstOffset: number, shape: Int32Array, srcStrides: Int32Array, dstStrides: Int32Array): void;
  /** Row softmax of a [rows, cols] matrix. */
  softmax(x: Float32Array, out: Float32Array, rows: number, cols: number): void;
  /** `out[o, i, :] = x[o, idx[i], :]`; returns -1, or the position of the first index outside [0, axisLen). */
  gather(x: Float32Array, idx: Int32Array, out: Float32Array, outer: number, axisLen: number, inner: number): number;
  /** `out[s, :] = sum of x[i, :] with seg[i] = s`; out [numSegments, inner]. */
  segmentSum(x: Float32Array, seg: Int32Array, out: Float32Array, inner: number, numSegments: number): void;
  /** LayerNorm forward over rows of width D, with per-row mean and reciprocal std for the gradient. */
  layerNorm(x: Float32Array, w: Float32Array, b: Float32Array, y: Float32Array, mean: Float32Array, rstd: Float32Array, rows: number, D: number, eps: number): void;
  /** LayerNorm gradient. */
  layerNormGrad(dy: Float32Array, x: Float32Array, w: Float32Array, mean: Float32Array, rstd: Float32Array, dx: Float32Array, dw: Float32Array, db: Float32Array, rows: number, D: number): void;
  /** GELU (kind 0) or QuickGELU (kind 1). */
  activation(kind: number, x: Float32Array, y: Float32Array): void;
  /** `dx = dy * act'(x)`. */
  activationGrad(kind: number, dy: Float32Array, x: Float32Array, dx: Float32Array): void;
  /** Fused attention forward; `mask` (or null) read with 4 element strides over [B, H, Nq, Nk]. */
  attention(
    q: Float32Array, k: Float32Array, v: Float32Array, mask: Float32Array | null, maskStrides: Int32Array | null,
    probs: Float32Array, out: Float32Array, B: number, H: number, Nq: number, Nk: number, d: number, dv: number, scale: number,
  ): void;
  /** Fused attention gradient; `dScores` (or null) receives the gradient of the pre-softmax scores. */
  attentionGrad(
    dy: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, probs: Float32Array,
    dq: Float32Array, dk: Float32Array, dv: Float32Array, dScores: Float32Array | null,
    BH: number, Nq: number, Nk: number, d: number, dvWidth: number, scale: number,
  ): void;
  /** One AdamW step over many tensors (new parameter and moments written to the output lists). */
  adamw(
    p: Float32Array[], g: Float32Array[], m: Float32Array[], v: Float32Array[],
    pOut: Float32Array[], mOut: Float32Array[], vOut: Float32Array[], weightDecay: Float32Array,
    lr: number, beta1: number, beta2: number, eps: number, biasCorrection1: number, biasCorrection2: number,
  ): void;
}

/** Root of the package (holds build/). */
export const PACKAGE_ROOT = path.resolve(__dirname, '..');
/** Where node-gyp puts the addon. */
export const ADDON_PATH = path.join(PACKAGE_ROOT, 'build', 'Release', 'mmzoo_native.node');
/** Written by scripts/install.js: `{ ok, reason, at }`. */
export const STATUS_PATH = path.join(PACKAGE_ROOT, 'build', 'status.json');

/**
 * Why the native backend cannot be used in this process, or undefined when it can be tried: `MMZOO_NATIVE=0`
 * disables it (so that the fallback path can be exercised), and the addon must have been built at install time.
 */
export function unavailableReason(): string | undefined {
  const flag = process.env.MMZOO_NATIVE;
  if (flag === '0' || flag === 'false' || flag === 'off') return `disabled by MMZOO_NATIVE=${flag}`;
  if (fs.existsSync(ADDON_PATH)) return undefined;
  let why = 'the install step did not run';
  try {
    const status = JSON.parse(fs.readFileSync(STATUS_PATH, 'utf8')) as { ok?: boolean; reason?: string };
    if (status.reason) why = status.reason;
  } catch {
    /* no status file: the package's install script never ran (e.g. npm --ignore-scripts) */
  }
  return `addon not built: ${why}`;
}

/**
 * The OpenBLAS kernel set (core type) to load the addon with, from `MMZOO_NATIVE_BLAS_CORETYPE`: undefined (the
 * variable unset: OpenBLAS follows `OPENBLAS_CORETYPE` or its own CPU detection), `null` for 'auto' (detect even if
 * `OPENBLAS_CORETYPE` is set in the environment), or a core name such as 'SkylakeX' or 'Haswell'. It applies to
 * this addon only: OpenBLAS reads the core type once, when the addon loads it, and the environment is restored
 * right after, so child processes keep theirs.
 */
export function requestedBlasCore(): string | null | undefined {
  const v = process.env.MMZOO_NATIVE_BLAS_CORETYPE;
  if (v === undefined || v === '') return undefined;
  return v.toLowerCase() === 'auto' ? null : v;
}

/**
 * Loads the addon.
 * @throws Error whose message says why the native backend is unavailable (see {@link unavailableReason}), or the
 *   loader's own message (e.g. a missing libopenblas.so.0) prefixed with 'cannot load the addon'
 */
export function loadAddon(): NativeAddon {
  const reason = unavailableReason();
  if (reason) throw new Error(reason);
  // OpenBLAS reads OPENBLAS_CORETYPE once, when the addon's dlopen loads it; restored right after
  const core = requestedBlasCore();
  const saved = process.env.OPENBLAS_CORETYPE;
  if (core === null) delete process.env.OPENBLAS_CORETYPE;
  else if (core !== undefined) process.env.OPENBLAS_CORETYPE = core;
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return require(ADDON_PATH) as NativeAddon;
  } catch (e) {
    throw new Error(`cannot load the addon ${ADDON_PATH}: ${String(e instanceof Error ? e.message : e).split('\n')[0]}`);
  } finally {
    if (saved === undefined) delete process.env.OPENBLAS_CORETYPE;
    else process.env.OPENBLAS_CORETYPE = saved;
  }
}
