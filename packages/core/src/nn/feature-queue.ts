import { tf, Tensor, Variable } from '../tf';
import { l2Normalize } from '../losses/contrastive';
import { Module } from './module';
import { fillInit, normal, tensorInit, zerosInit } from './init';

/** Constructor options of {@link FeatureQueue}. */
export interface FeatureQueueOptions {
  /** feature width E */
  dim: number;
  /** number of queued columns Q (ALBEF, BLIP: 65,536 at paper scale; MoCo: 65,536) */
  size: number;
  /** one feature queue per name, each a buffer [E, Q] (ALBEF, BLIP: `image_queue`, `text_queue`) */
  names: string[];
  /** name of the id queue buffer int32 [1, Q] (default `idx_queue`) */
  idsName?: string;
  /** name of the pointer buffer int32 [1] (default `queue_ptr`) */
  pointerName?: string;
  /** id stored in empty slots; never equal to a real id (default -100, as torchmultimodal) */
  emptyId?: number;
}

/**
 * Feature queues with one shared write pointer (MoCo, He et al. 2020, section 3.2; ALBEF section 3.2: "the
 * most recent M image-text representations from the momentum unimodal encoders"), plus the id of each queued
 * sample so that captions of the same image are positives of each other (ALBEF retrieval fine-tuning). All buffers
 * are non-trainable parameters, so checkpoints save them and resumed runs continue with the same queue.
 *
 * Enqueueing wraps around: a batch of B columns goes to slots `(ptr + k) mod Q`, k < B, and the pointer moves to
 * `(ptr + B) mod Q` (batches of 3 into a queue of 8 leave the pointer at 1 after three batches). A batch larger
 * than the queue keeps its last Q columns. Feature queues start as L2-normalised N(0, 1) columns (as the
 * reference code does), ids as `emptyId`, the pointer at 0.
 */
export class FeatureQueue extends Module {
  readonly queues = new Map<string, Variable>();
  readonly ids: Variable;
  readonly pointer: Variable;
  readonly emptyId: number;

  /** @throws Error when dim or size is not a positive integer or no queue name is given */
  constructor(readonly opts: FeatureQueueOptions) {
    super();
    const { dim, size } = opts;
    if (!(Number.isInteger(dim) && dim > 0 && Number.isInteger(size) && size > 0)) throw new Error(`FeatureQueue: dim and size must be positive integers, got ${dim}, ${size}`);
    if (opts.names.length === 0) throw new Error('FeatureQueue: needs at least one queue name');
    for (const name of opts.names) {
      const init = tensorInit([dim, size], () => tf.tidy(() => l2Normalize(normal([dim, size], 1).transpose()).transpose()));
      this.queues.set(name, this.param(name, init, false));
    }
    this.emptyId = opts.emptyId ?? -100;
    this.ids = this.param(opts.idsName ?? 'idx_queue', fillInit([1, size], this.emptyId, 'int32'), false);
    this.pointer = this.param(opts.pointerName ?? 'queue_ptr', zerosInit([1], 'int32'), false);
  }

  /** Number of slots Q. */
  get size(): number {
    return this.opts.size;
  }

  /** The current write position in [0, Q). */
  position(): number {
    return this.pointer.dataSync()[0];
  }

  /**
   * The queue `name` as it is now: the variable itself, float32 [E, Q] (do not dispose; concatenate or clone it
   * before an enqueue if it is used in a gradient computation).
   * @throws Error for an unknown name
   */
  get(name: string): Variable {
    const q = this.queues.get(name);
    if (!q) throw new Error(`FeatureQueue: no queue '${name}'; queues: ${[...this.queues.keys()].join(', ')}`);
    return q;
  }

  /** The queued ids, length Q (`emptyId` where nothing was enqueued yet). */
  queuedIds(): Int32Array {
    return Int32Array.from(this.ids.dataSync() as Int32Array);
  }

  /**
   * Writes a batch into every queue at the pointer (wrapping around) and advances the pointer. Values are copied;
   * no gradient flows into the queue (ALBEF `_dequeue_and_enqueue` runs under no_grad).
   * @param features one float32 [B, E] tensor per queue name (momentum features), e.g. `{ image_queue: f }`
   * @param ids the B sample ids (image ids), stored in the id queue
   * @throws Error when a queue's features are missing or shaped wrongly, or ids has another length
   */
  enqueue(features: Record<string, Tensor>, ids: ArrayLike<number>): void {
    const q = this.opts.size;
    const b = ids.length;
    for (const name of this.queues.keys()) {
      const f = features[name];
      if (!f || f.rank !== 2 || f.shape[0] !== b || f.shape[1] !== this.opts.dim) {
        throw new Error(`FeatureQueue.enqueue: '${name}' needs features [${b}, ${this.opts.dim}], got ${f ? `[${f.shape}]` : 'none'}`);
      }
    }
    if (b === 0) return;
    const ptr = this.position();
    // the last n = min(B, Q) columns land in slots (ptr + first + k) mod Q. Every queue is rewritten as one gather
    // over [queue | new columns] with a Q-long slot index, so that every intermediate has the same shape whatever the
    // pointer: slices at pointer-dependent offsets made buffers of a new length at each of the Q / B positions, and
    // the native backend's output-buffer pool (free buffers kept by length) held one of each (issue 14).
    const first = Math.max(0, b - q);
    const n = b - first;
    const slots = new Int32Array(q);
    for (let j = 0; j < q; j++) slots[j] = j;
    for (let k = 0; k < n; k++) slots[(ptr + first + k) % q] = q + k;
    tf.tidy(() => {
      const index = tf.tensor1d(slots, 'int32');
      const write = (buffer: Variable, cols: Tensor) => tf.tidy(() => buffer.assign(tf.gather(tf.concat([buffer, cols], 1), index, 1)));
      for (const [name, buffer] of this.queues) write(buffer, features[name].slice([first, 0], [n, -1]).transpose());
      write(this.ids, tf.tensor2d(Int32Array.from(ids).subarray(first), [1, n], 'int32'));
    });
    tf.tidy(() => this.pointer.assign(tf.tensor1d([(ptr + b) % q], 'int32')));
  }
}
