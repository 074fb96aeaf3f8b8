import { AdamW, trainStep } from '@mmzoo/train';
import { Rng, manualSeed, tf } from '@mmzoo/core';
import { BLIP, BlipBatch, BlipConfigInput, buildBlip } from '@mmzoo/blip';
import { useBackend } from '../helpers/fixtures';

// A tiny BLIP on mmzoo's word-tokenizer ids ([PAD] 0 ... [MASK] 4, words 5..29); [ENC] 30 and [DEC] 31 are appended.
const TINY: BlipConfigInput = {
  name: 'blip', embedDim: 16, queueSize: 8,
  vision: { imageSize: 16, patchSize: 8, channels: 1, width: 32, layers: 1, numHeads: 2 },
  text: { contextLength: 10, vocabSize: 30, width: 32, layers: 2, numHeads: 2 },
};

function tiny(seed = 0): BLIP {
  manualSeed(seed);
  return buildBlip(TINY);
}

function batch(index: number, b = 4, imageIds?: number[]): BlipBatch {
  const rng = new Rng(200 + index);
  const ids = new Int32Array(b * 10);
  for (let r = 0; r < b; r++) {
    const len = 3 + rng.int(6);
    ids[r * 10] = 2;
    for (let c = 1; c <= len; c++) ids[r * 10 + c] = 5 + rng.int(25);
    ids[r * 10 + len + 1] = 3;
  }
  return {
    image: tf.tensor4d(Float32Array.from({ length: b * 256 }, () => rng.next()), [b, 1, 16, 16]), text: tf.tensor2d(ids, [b, 10], 'int32'),
    imageIds: Int32Array.from(imageIds ?? Array.from({ length: b }, (_, i) => 10 * index + i)), index, seed: 7,
  };
}

const dispose = (b: BlipBatch) => tf.dispose([b.image, b.text]);

describe('BLIP training behaviour (cpu)', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  test('[ENC] and [DEC] are appended to the vocabulary; decoder weights shared; momentum and queues are not trainable', () => {
    const model = tiny();
    expect([model.opts.encId, model.opts.decId]).toEqual([30, 31]);
    const trainable = [...model.trainableParameters().keys()];
    expect(trainable.some((n) => /_m\.|queue/.test(n))).toBe(false);
    expect(trainable.filter((n) => n.startsWith('text_decoder.')).every((n) => /^text_decoder\.(bert\.encoder\.layer\.\d+\.attention\.|cls\.)/.test(n))).toBe(true);
    model.dispose();
  });

  test('no gradient reaches the momentum encoders; the shared cross-attention gets ITM + LM gradient once', () => {
    const model = tiny();
    const params = model.namedParameters();
    const mom = [...params].filter(([n, v]) => /_m\./.test(n) && v.dtype === 'float32').map(([, v]) => v);
    mom.forEach((v) => (v.trainable = true));
    const shared = params.get('text_encoder.encoder.layer.0.crossattention.self.key.weight')!;
    const b = batch(0);
    const { value, grads } = tf.variableGrads(() => model.trainingLoss(b).total as tf.Scalar, [...mom, shared]);
    mom.forEach((v) => (v.trainable = false));
    for (const v of mom) if (grads[v.name]) expect(tf.abs(grads[v.name]).max().dataSync()[0]).toBe(0);
    expect(tf.abs(grads[shared.name]).max().dataSync()[0]).toBeGreaterThan(0);
    tf.dispose([value, ...Object.values(grads)]);
    dispose(b);
    model.dispose();
  });

  test('batch of 1 and all ids equal: ITM on positives only; every loss finite', () => {
    const model = tiny();
    for (const [b, ids] of [[1, [5]], [3, [9, 9, 9]]] as [number, number[]][]) {
      const x = batch(0, b, ids);
      tf.tidy(() => {
        const out = model.step({ images: x.image, ids: x.text, imageIds: ids, alpha: 0.4, rng: new Rng(0) });
        expect(Array.from(out.itm.labels.dataSync())).toEqual(new Array(b).fill(1));
        for (const t of Object.values(out.parts)) expect(Number.isFinite(t.dataSync()[0])).toBe(true);
      });
      dispose(x);
    }
    model.dispose();
  });

  test('no tensors leak over several training steps; same batch and seed, same loss', () => {
    const model = tiny();
    const opt = new AdamW(model.trainableParameters());
    const run = (i: number) => {
      const x = batch(i);
      const r = trainStep(model, opt, [x], (y) => model.trainingLoss(y), 1e-3);
      dispose(x);
      return r;
    };
    run(0);
    const before = tf.memory().numTensors;
    for (let i = 1; i < 4; i++) run(i);
    expect(tf.memory().numTensors).toBe(before);
    opt.dispose();
    model.dispose();
    const losses = [0, 1].map(() => {
      const m = tiny(3);
      const x = batch(5);
      const l = tf.tidy(() => m.trainingLoss(x).total.dataSync()[0]);
      dispose(x);
      m.dispose();
      return l;
    });
    expect(losses[0]).toBe(losses[1]);
  });
});
