import { FeatureQueue, tf } from '@mmzoo/core';

/** Host copy of a [E, Q] queue as columns. */
function columns(q: tf.Tensor): number[][] {
  const [e, n] = q.shape;
  const d = q.dataSync();
  return Array.from({ length: n }, (_, j) => Array.from({ length: e }, (_, i) => d[i * n + j]));
}

describe('FeatureQueue', () => {
  test('starts with unit-norm columns, empty ids and the pointer at 0; buffers are not trainable', () => {
    const q = new FeatureQueue({ dim: 4, size: 8, names: ['image_queue', 'text_queue'] });
    for (const col of columns(q.get('image_queue'))) expect(Math.hypot(...col)).toBeCloseTo(1, 5);
    expect(Array.from(q.queuedIds())).toEqual(new Array(8).fill(-100));
    expect(q.position()).toBe(0);
    expect([...q.namedParameters().keys()]).toEqual(['image_queue', 'text_queue', 'idx_queue', 'queue_ptr']);
    expect(q.trainableParameters().size).toBe(0);
    q.dispose();
  });

  test('batches of 3 into a queue of 8 wrap around: the pointer is at 1 after three batches', () => {
    const q = new FeatureQueue({ dim: 2, size: 8, names: ['a'] });
    const slots = new Map<number, number>(); // slot -> sample number written last
    let sample = 0;
    for (let batch = 0; batch < 3; batch++) {
      const ids = [0, 1, 2].map((k) => 10 * batch + k);
      const feats = tf.tensor2d(ids.flatMap((id) => [id, -id]), [3, 2]);
      q.enqueue({ a: feats }, ids);
      feats.dispose();
      for (let k = 0; k < 3; k++) slots.set((3 * batch + k) % 8, 10 * batch + k);
      sample += 3;
    }
    expect(sample).toBe(9);
    expect(q.position()).toBe(1);
    const cols = columns(q.get('a'));
    const ids = Array.from(q.queuedIds());
    for (let s = 0; s < 8; s++) {
      expect(ids[s]).toBe(slots.get(s));
      expect(cols[s]).toEqual([slots.get(s), -slots.get(s)!]);
    }
    // slot 0 holds the ninth sample (batch 2, column 2), which overwrote the first
    expect(ids[0]).toBe(22);
    q.dispose();
  });

  test('a batch larger than the queue keeps its last columns and the pointer moves by the batch size', () => {
    const q = new FeatureQueue({ dim: 1, size: 4, names: ['a'] });
    const ids = [0, 1, 2, 3, 4, 5];
    const feats = tf.tensor2d(ids, [6, 1]);
    q.enqueue({ a: feats }, ids);
    // column k goes to slot k mod 4 for the kept k >= 2
    expect(Array.from(q.queuedIds())).toEqual([4, 5, 2, 3]);
    expect(Array.from(q.get('a').dataSync())).toEqual([4, 5, 2, 3]);
    expect(q.position()).toBe(2);
    feats.dispose();
    q.dispose();
  });

  test('enqueue runs the same kernels on the same shapes at every pointer position (issue 14)', async () => {
    // Slices at pointer-dependent offsets made tensors of a new length at each position; the native backend's pool
    // of free output buffers (kept by length) then held one buffer per length: memory growing with the steps while
    // tf.memory() stayed flat. Batches of 4 into 10 slots visit pointers 0, 4, 8 (wrapping), 2, 6.
    const q = new FeatureQueue({ dim: 3, size: 10, names: ['a', 'b'] });
    const signatures: string[] = [];
    const expected = new Map<number, number>();
    for (let step = 0; step < 5; step++) {
      const ids = [0, 1, 2, 3].map((k) => 4 * step + k);
      const f = tf.tensor2d(ids.flatMap((id) => [id, id + 0.5, -id]), [4, 3]);
      const ptr = q.position();
      const info = await tf.profile(() => q.enqueue({ a: f, b: f }, ids));
      signatures.push(info.kernels.map((k) => `${k.name}:${k.outputShapes.map((sh) => `[${sh}]`).join(',')}`).join(' '));
      ids.forEach((id, k) => expected.set((ptr + k) % 10, id));
      f.dispose();
    }
    expect(new Set(signatures).size).toBe(1);
    expect(q.position()).toBe(0);
    const ids = Array.from(q.queuedIds());
    const cols = columns(q.get('b'));
    for (let s = 0; s < 10; s++) {
      expect(ids[s]).toBe(expected.get(s));
      expect(cols[s]).toEqual([expected.get(s), expected.get(s)! + 0.5, -expected.get(s)!]);
    }
    q.dispose();
  });

  test('enqueue checks shapes and leaks nothing', () => {
    const q = new FeatureQueue({ dim: 2, size: 4, names: ['a', 'b'] });
    const f = tf.ones([2, 2]);
    expect(() => q.enqueue({ a: f }, [1, 2])).toThrow(/'b' needs features \[2, 2\]/);
    q.enqueue({ a: f, b: f }, [1, 2]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) q.enqueue({ a: f, b: f }, [1, 2]);
    expect(tf.memory().numTensors).toBe(before);
    f.dispose();
    q.dispose();
  });
});
