import * as path from 'path';
import { tf, AdamW, Rng, manualSeed, trainStep } from '@mmzoo/core';
import { VLMo, buildVlmo } from '@mmzoo/vlmo';
import { loadExperiment } from '../../packages/cli/src/experiment';
import { useBackend } from '../helpers/fixtures';

const ROOT = path.join(__dirname, '..', '..');

function tiny(): VLMo {
  manualSeed(3);
  return buildVlmo({
    name: 'vlmo', vision: { imageSize: 16, patchSize: 8, channels: 1 }, text: { contextLength: 8, vocabSize: 30, maxTextLenOfInitCkpt: 8 },
    width: 16, layers: 2, numHeads: 2, vlStart: 1,
  });
}

function batch(index: number, b = 4) {
  const rng = new Rng(11);
  const ids = new Int32Array(b * 8);
  for (let r = 0; r < b; r++) {
    ids[r * 8] = 2;
    for (let c = 1; c < 6; c++) ids[r * 8 + c] = 5 + rng.int(25);
    ids[r * 8 + 6] = 3;
  }
  return {
    images: tf.tensor4d(Float32Array.from({ length: b * 256 }, () => rng.next()), [b, 1, 16, 16]),
    ids: tf.tensor2d(ids, [b, 8], 'int32'),
    imageIds: Int32Array.from({ length: b }, (_, i) => i),
    index, seed: 5,
  };
}

describe('VLMo training objective (ITC + ITM with hard negatives + MLM, one step)', () => {
  beforeAll(() => useBackend('wasm'));

  test('all parts are finite, a step updates every parameter, and the draws depend only on (seed, index)', () => {
    const model = tiny();
    const b0 = batch(0);
    const parts = tf.tidy(() => {
      const out = model.trainingLoss(b0);
      return Object.fromEntries(Object.entries(out.parts).map(([k, v]) => [k, v.dataSync()[0]]));
    });
    expect(Object.keys(parts).sort()).toEqual(['itc', 'itm', 'mlm']);
    for (const v of Object.values(parts)) expect(Number.isFinite(v)).toBe(true);
    const again = tf.tidy(() => model.trainingLoss(b0).total.dataSync()[0]);
    const b1 = batch(1);
    const other = tf.tidy(() => model.trainingLoss(b1).parts.mlm.dataSync()[0]);
    expect(again).toBe(tf.tidy(() => model.trainingLoss(b0).total.dataSync()[0]));
    expect(other).not.toBe(parts.mlm);
    // one optimizer step: AdamW throws when any trainable parameter gets no gradient
    const opt = new AdamW(model.trainableParameters());
    const before = tf.memory().numTensors;
    const r = trainStep(model, opt, [b0], (x) => model.trainingLoss(x), 1e-3);
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
    opt.dispose();
    tf.dispose([b0.images, b0.ids, b1.images, b1.ids]);
    model.dispose();
  });

  test('ITM negatives are drawn from ITC similarities, never the same image', () => {
    const model = tiny();
    const b = batch(0, 6);
    const sims = tf.tensor2d(Array.from({ length: 36 }, (_, k) => (k % 7 === 0 ? 50 : 0)), [6, 6]);
    // with ids shared by pairs (0,1), (2,3), (4,5) a negative may never come from the same image
    const imageIds = Int32Array.from([0, 0, 1, 1, 2, 2]);
    const loss = tf.tidy(() => model.itmLoss(b.images, b.ids, sims, new Rng(1), imageIds).dataSync()[0]);
    expect(Number.isFinite(loss)).toBe(true);
    tf.dispose([b.images, b.ids, sims]);
    model.dispose();
  });

  test('the shipped configs validate; the tiny config builds', () => {
    const tinyCfg = loadExperiment(path.join(ROOT, 'configs/vlmo/fmnist-scenes-tiny.yaml'));
    expect(tinyCfg.config.model.vlStart).toBeLessThan(tinyCfg.config.model.layers);
    const m = tinyCfg.entry.build(tinyCfg.config.model, { vocabSize: 100, eotId: 3 });
    expect(m.numParams()).toBeGreaterThan(100000);
    m.dispose();
    const base = loadExperiment(path.join(ROOT, 'configs/vlmo/base.yaml'), [], { modelOnly: true });
    expect(base.config.model).toMatchObject({ width: 768, layers: 12, vlStart: 10 });
  });
});
