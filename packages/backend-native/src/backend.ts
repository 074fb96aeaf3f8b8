import type { BackendValues, DataId, DataType, TensorInfo } from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { NativeAddon } from './addon';

/** Bookkeeping of one pool-owned buffer: the full array and how many live tensor data entries view it. */
interface Owned {
  arr: Float32Array;
  refs: number;
}

/** Counters of the output-buffer pool (see {@link NativeBackend.poolStats}). */
export interface PoolStats {
  /** allocations served from the pool */
  hits: number;
  /** allocations that created a new Float32Array */
  misses: number;
  /** buffers returned to the pool */
  released: number;
  /** buffers dropped (left to the garbage collector) because the pool was full */
  dropped: number;
  /** free buffers dropped by sweeps because no allocation asked for their length for a whole sweep period */
  swept: number;
  /** bytes held by free pooled buffers now */
  pooledBytes: number;
  /** the cap on pooledBytes */
  capBytes: number;
}

/**
 * The `native` tfjs backend: tfjs' pure-JS cpu backend (same tensor storage: typed arrays in a DataStorage) plus a
 * reuse pool for float32 output buffers, so that the native kernels registered for `native` can hand typed arrays to
 * the addon and the unported cpu kernels keep working unchanged. The installed `cpu` backend is not touched.
 *
 * Pool safety: only buffers that {@link alloc} created are ever reused, and only once no live tensor data entry views
 * them (views made by kernels such as a contiguous Slice are counted by their ArrayBuffer). `readSync` (hence
 * `dataSync()`, `data()`, `array()`) returns a copy of a pooled buffer, so user code never holds memory that is
 * reused later. Arrays passed in by users (`tf.tensor(myFloat32Array)`) are never pooled.
 */
export class NativeBackend extends MathBackendCPU {
  /** The loaded addon. */
  readonly addon: NativeAddon;
  private readonly free = new Map<number, Float32Array[]>();
  private readonly owned = new WeakMap<ArrayBufferLike, Owned>();
  private readonly stats: PoolStats;
  /** lengths asked for by {@link alloc} since the last sweep, and how many allocations that was */
  private readonly requested = new Set<number>();
  private allocsSinceSweep = 0;

  /**
   * @param addon the loaded Node-API addon
   * @param poolCapBytes most bytes of free buffers kept for reuse (default 1 GiB)
   * @param sweepEvery allocations between two sweeps of the pool (default 65,536, tens of training steps): a sweep
   *   drops the free buffers of every length that no allocation asked for since the previous sweep, so the pool
   *   holds the lengths in use, not every length ever seen (a shape that changes from step to step, such as a
   *   slice at a moving offset, would otherwise leave one free buffer per length until the cap)
   */
  constructor(addon: NativeAddon, poolCapBytes = 2 ** 30, readonly sweepEvery = 65536) {
    super();
    this.addon = addon;
    // the cpu backend prints a "use tfjs-node" banner on first use; this backend is the native one
    Reflect.set(this, 'firstUse', false);
    this.stats = { hits: 0, misses: 0, released: 0, dropped: 0, swept: 0, pooledBytes: 0, capBytes: poolCapBytes };
  }

  /**
   * A float32 buffer of exactly `n` elements for a kernel output, from the pool when one is free (its contents are
   * then arbitrary: kernels write every element) or new (zero-filled).
   */
  alloc(n: number): Float32Array {
    this.requested.add(n);
    if (++this.allocsSinceSweep >= this.sweepEvery) this.sweep();
    const list = this.free.get(n);
    let arr = list?.pop();
    if (arr) {
      this.stats.hits++;
      this.stats.pooledBytes -= arr.byteLength;
    } else {
      arr = new Float32Array(n);
      this.stats.misses++;
    }
    this.owned.set(arr.buffer, { arr, refs: 0 });
    return arr;
  }

  /** Returns a buffer from {@link alloc} that never became tensor data (a kernel's scratch) to the pool. */
  releaseTemp(arr: Float32Array): void {
    const o = this.owned.get(arr.buffer);
    if (o && o.refs === 0) this.recycle(o);
  }

  /** Wraps a float32 result as tensor data of `shape`. */
  output(shape: number[], values: Float32Array): TensorInfo {
    return this.makeTensorInfo(shape, 'float32', values);
  }

  /**
   * Float32 values of a float32 tensor, without copying (kernel-internal: never hand these to user code). tfjs' cpu
   * Cast shares the data of an int32 or bool tensor cast to float32, so the storage may be an Int32Array or
   * Uint8Array: such values are converted (a copy).
   */
  f32(t: TensorInfo): Float32Array {
    const v = this.data.get(t.dataId)!.values;
    return v instanceof Float32Array ? v : Float32Array.from(v as ArrayLike<number>);
  }

  /** Int32 values of an int32 tensor (converted when the storage is a Uint8Array from a bool cast). */
  i32(t: TensorInfo): Int32Array {
    const v = this.data.get(t.dataId)!.values;
    return v instanceof Int32Array ? v : Int32Array.from(v as ArrayLike<number>);
  }

  /** Pool counters (a copy). */
  poolStats(): PoolStats {
    return { ...this.stats };
  }

  /**
   * Drops the free buffers of every length that no {@link alloc} asked for since the previous sweep (they are garbage
   * collected); runs every `sweepEvery` allocations. A length in use at least once per period keeps its buffers.
   */
  private sweep(): void {
    for (const [n, list] of this.free) {
      if (this.requested.has(n)) continue;
      for (const arr of list) {
        this.owned.delete(arr.buffer);
        this.stats.pooledBytes -= arr.byteLength;
        this.stats.swept++;
      }
      this.free.delete(n);
    }
    this.requested.clear();
    this.allocsSinceSweep = 0;
  }

  /** Drops every free pooled buffer (they are garbage collected); returns the bytes released. */
  trimPool(): number {
    const bytes = this.stats.pooledBytes;
    for (const list of this.free.values()) for (const arr of list) this.owned.delete(arr.buffer);
    this.free.clear();
    this.stats.pooledBytes = 0;
    return bytes;
  }

  /** cpu `write`, counting a reference when `values` is (a view of) a pooled buffer. */
  override write(values: BackendValues, shape: number[], dtype: DataType): DataId {
    this.retain(values);
    return super.write(values, shape, dtype);
  }

  /** cpu `move`, counting a reference when `values` is (a view of) a pooled buffer. */
  override move(dataId: DataId, values: BackendValues, shape: number[], dtype: DataType, refCount: number): void {
    this.retain(values);
    super.move(dataId, values, shape, dtype, refCount);
  }

  /** cpu `readSync`; a pooled buffer is copied so that the caller's array is never reused. */
  override readSync(dataId: DataId): BackendValues {
    const values = super.readSync(dataId);
    if (ArrayBuffer.isView(values) && this.owned.has(values.buffer)) return (values as Float32Array).slice();
    return values;
  }

  /** cpu `disposeData`; a pooled buffer that no live data views any more goes back to the pool. */
  override disposeData(dataId: DataId, force = false): boolean {
    const entry = this.data.get(dataId);
    const removed = super.disposeData(dataId, force);
    if (entry && removed && !this.data.has(dataId)) {
      const values = entry.values;
      if (values && ArrayBuffer.isView(values)) {
        const o = this.owned.get(values.buffer);
        if (o && --o.refs <= 0) this.recycle(o);
      }
    }
    return removed;
  }

  /** Empties the pool, then disposes as the cpu backend does. */
  override dispose(): void {
    this.trimPool();
    super.dispose();
  }

  private retain(values: BackendValues | undefined): void {
    if (values && ArrayBuffer.isView(values)) {
      const o = this.owned.get(values.buffer);
      if (o) o.refs++;
    }
  }

  private recycle(o: Owned): void {
    const bytes = o.arr.byteLength;
    if (bytes === 0 || this.stats.pooledBytes + bytes > this.stats.capBytes) {
      this.owned.delete(o.arr.buffer);
      this.stats.dropped++;
      return;
    }
    o.refs = 0;
    let list = this.free.get(o.arr.length);
    if (!list) this.free.set(o.arr.length, (list = []));
    list.push(o.arr);
    this.stats.pooledBytes += bytes;
    this.stats.released++;
  }
}
