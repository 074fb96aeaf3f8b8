import { tf, Tensor, Tensor2D, linear, layerNorm, quickGelu } from '@mmzoo/core';
import { AdamW } from '@mmzoo/train';
import { describeNative, randT, SKIP_NOTE, switchTo } from './helpers';

// The native backend's output-buffer pool must never let user-visible memory be reused, and training must not leak
// tensors or grow the pool without bound.

interface PoolView {
  poolStats(): { hits: number; misses: number; pooledBytes: number; capBytes: number };
}
const pool = () => tf.backend() as unknown as PoolView;

describeNative(`native backend memory${SKIP_NOTE}`, () => {
  beforeAll(() => switchTo('native'));
  afterAll(() => tf.setBackend('cpu'));

  test('dataSync returns a copy of a pooled buffer: later kernels cannot change it, writes to it do not reach the tensor', () => {
    const a = randT(1, [1000]);
    const t = a.add(a);
    const before = Array.from(t.dataSync());
    const read = t.dataSync();
    read[0] = 12345;
    expect(t.dataSync()[0]).toBe(before[0]);
    t.dispose();
    for (let i = 0; i < 3; i++) tf.dispose(a.mul(tf.scalar(i + 3)));
    expect(Array.from(read.slice(1))).toEqual(before.slice(1));
    a.dispose();
  });

  test('arrays passed in by the user are never pooled', () => {
    const arr = new Float32Array([1, 2, 3, 4]);
    const t = tf.tensor(arr, [4]);
    t.dispose();
    const outs = [0, 1, 2].map(() => tf.ones([4]).add(tf.ones([4])));
    expect(Array.from(arr)).toEqual([1, 2, 3, 4]);
    tf.dispose(outs);
  });

  test('a view that a cpu kernel shares with its input keeps the buffer out of the pool until both are gone', () => {
    const x = randT(2, [6, 5]).add(tf.scalar(0)); // pooled
    const views = tf.unstack(x); // cpu kernel; may share x's buffer
    const expected = views.map((v) => Array.from(v.dataSync()));
    x.dispose();
    const churn = [0, 1, 2, 3].map(() => randT(3, [6, 5]).mul(tf.scalar(7)));
    views.forEach((v, i) => expect(Array.from(v.dataSync())).toEqual(expected[i]));
    tf.dispose([...views, ...churn]);
  });

  test('a sweep drops free buffers of lengths no allocation asked for in a whole period; lengths in use stay (issue 14)', () => {
    // A shape that changes every step (the feature queue's slices at a moving offset did) left one free buffer per
    // length in the pool, up to its 1 GiB cap, while tf.memory() stayed flat.
    const be = tf.backend() as unknown as {
      alloc(n: number): Float32Array; releaseTemp(a: Float32Array): void; sweepEvery: number;
      poolStats(): { hits: number; misses: number; swept: number; pooledBytes: number };
    };
    const period = be.sweepEvery;
    expect(period).toBeGreaterThan(10000); // far more allocations than one training step makes
    const stale = Array.from({ length: 50 }, (_, i) => 100003 + 7 * i); // lengths no kernel here uses
    stale.forEach((n) => be.releaseTemp(be.alloc(n)));
    const s0 = be.poolStats();
    expect(s0.pooledBytes).toBeGreaterThanOrEqual(stale.reduce((a, n) => a + 4 * n, 0));
    // two periods of allocations of one length in steady use: at least one sweep finds the stale lengths unasked
    for (let i = 0; i < 2 * period; i++) be.releaseTemp(be.alloc(4099));
    const s1 = be.poolStats();
    expect(s1.swept - s0.swept).toBeGreaterThanOrEqual(stale.length);
    expect(s1.pooledBytes).toBeLessThan(stale.reduce((a, n) => a + 4 * n, 0));
    expect(s1.misses - s0.misses).toBeLessThanOrEqual(1); // the length in use kept its buffer across the sweeps
    stale.forEach((n) => be.releaseTemp(be.alloc(n))); // gone: new buffers
    expect(be.poolStats().misses - s1.misses).toBe(stale.length);
  });

  test('repeated training steps: numTensors flat, buffers come from the pool, the pool stays bounded', () => {
    const w1 = tf.variable(randT(4, [64, 32]).mul(tf.scalar(0.2)));
    const w2 = tf.variable(randT(5, [32, 64]).mul(tf.scalar(0.2)));
    const g = tf.variable(tf.ones([32]));
    const b = tf.variable(tf.zeros([32]));
    const params = new Map<string, tf.Variable>([['w1', w1], ['w2', w2], ['ln.weight', g], ['ln.bias', b]]);
    const opt = new AdamW(params, { weightDecay: 0.01 });
    const x = randT(6, [16, 10, 32]);
    const step = () => {
      const { value, grads } = tf.variableGrads(() => {
        const h = quickGelu(linear(x, w1 as unknown as Tensor2D));
        return layerNorm(linear(h, w2 as unknown as Tensor2D), g, b, 1e-5).square().mean() as tf.Scalar;
      }, [w1, w2, g, b]);
      opt.apply(new Map([['w1', grads[w1.name]], ['w2', grads[w2.name]], ['ln.weight', grads[g.name]], ['ln.bias', grads[b.name]]]), 1e-2);
      tf.dispose([value, ...Object.values(grads)]);
    };
    step();
    const n0 = tf.memory().numTensors;
    const s0 = pool().poolStats();
    for (let i = 0; i < 20; i++) step();
    const s1 = pool().poolStats();
    expect(tf.memory().numTensors).toBe(n0);
    expect(s1.hits - s0.hits).toBeGreaterThan(20 * 10);
    expect(s1.misses - s0.misses).toBeLessThan((s1.hits - s0.hits) / 10);
    expect(s1.pooledBytes).toBeLessThanOrEqual(s1.capBytes);
    opt.dispose();
    tf.dispose([w1, w2, g, b, x]);
  });
});
