import { Rng, manualSeed, tf } from '@mmzoo/core';
import { AdamW, trainStep } from '@mmzoo/train';
import { AlbefBatch, buildAlbef } from '@mmzoo/albef';
import { describeNative, SKIP_NOTE, switchTo } from '../backend-native/helpers';

// Issue 14: ALBEF's memory grew over the steps while tf.memory() stayed flat. The feature queue's enqueue sliced
// the queues at the write pointer, so every pointer position made tensors of new lengths, and the native backend's
// pool of free output buffers (kept by length) held one buffer per length. After warm-up a step must allocate no
// new buffer at all, create no variable, and leave the tensor count unchanged.

const B = 4;
const L = 10;

function batch(index: number): AlbefBatch {
  const rng = new Rng(100 + index);
  const ids = new Int32Array(B * L);
  for (let r = 0; r < B; r++) {
    const len = 3 + rng.int(6);
    ids[r * L] = 2;
    for (let c = 1; c <= len; c++) ids[r * L + c] = 5 + rng.int(25);
    ids[r * L + len + 1] = 3;
  }
  const px = Float32Array.from({ length: B * 256 }, () => rng.next());
  return {
    image: tf.tensor4d(px, [B, 1, 16, 16]), text: tf.tensor2d(ids, [B, L], 'int32'),
    imageIds: Int32Array.from({ length: B }, (_, i) => (B * index + i) % 37), index, seed: 42,
  };
}

interface Pool {
  poolStats(): { misses: number; pooledBytes: number };
}

describeNative(`ALBEF training memory on the native backend${SKIP_NOTE}`, () => {
  beforeAll(() => switchTo('native'));
  afterAll(() => tf.setBackend('cpu'));

  test('after warm-up a step allocates no new buffer and no variable; numTensors stays flat (queue of 64, batches of 4)', () => {
    manualSeed(0);
    const model = buildAlbef({
      name: 'albef', embedDim: 8, queueSize: 64, alphaRampSteps: 2,
      vision: { imageSize: 16, patchSize: 8, channels: 1, width: 16, layers: 1, numHeads: 2, mlpRatio: 2 },
      text: { contextLength: L, vocabSize: 30, width: 16, textLayers: 1, fusionLayers: 1, numHeads: 2, mlpRatio: 2 },
    });
    const opt = new AdamW(model.trainableParameters());
    const step = (i: number) => {
      const b = batch(i);
      try {
        trainStep(model, opt, [b], (x) => model.trainingLoss(x), 1e-3, 1);
      } finally {
        tf.dispose([b.image, b.text]);
      }
    };
    // warm-up: step 0 has alpha 0 (no MLM distillation), step 1 the first distilled step
    for (let i = 0; i < 3; i++) step(i);
    const pool = tf.backend() as unknown as Pool;
    const variables = () => Object.keys(tf.engine().registeredVariables).length;
    const [misses, pooled, tensors, vars] = [pool.poolStats().misses, pool.poolStats().pooledBytes, tf.memory().numTensors, variables()];
    // 12 more steps move the write pointer through 12 new positions of the queue's 16
    for (let i = 3; i < 15; i++) step(i);
    expect(pool.poolStats().misses - misses).toBe(0);
    expect(pool.poolStats().pooledBytes).toBe(pooled);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(variables()).toBe(vars);
    opt.dispose();
    model.dispose();
  });
});
