import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AdamW, trainStep, latestCheckpoint, loadCheckpoint, saveCheckpoint } from '@mmzoo/train';
import { Rng, manualSeed, tf } from '@mmzoo/core';
import { ALBEF, AlbefBatch, AlbefConfigInput, buildAlbef } from '@mmzoo/albef';
import { useBackend } from '../helpers/fixtures';

// A tiny ALBEF on mmzoo's word-tokenizer ids ([PAD] 0, [UNK] 1, [CLS] 2, [SEP] 3, [MASK] 4, words 5..29).
const TINY: AlbefConfigInput = {
  name: 'albef', embedDim: 16, queueSize: 8, alphaRampSteps: 4,
  vision: { imageSize: 16, patchSize: 8, channels: 1, width: 32, layers: 1, numHeads: 2 },
  text: { contextLength: 10, vocabSize: 30, width: 32, textLayers: 1, fusionLayers: 1, numHeads: 2 },
};

function tiny(seed = 0): ALBEF {
  manualSeed(seed);
  return buildAlbef(TINY);
}

function batch(index: number, b = 4, imageIds?: number[]): AlbefBatch {
  const rng = new Rng(100 + index);
  const ids = new Int32Array(b * 10);
  for (let r = 0; r < b; r++) {
    const len = 3 + rng.int(6);
    ids[r * 10] = 2;
    for (let c = 1; c <= len; c++) ids[r * 10 + c] = 5 + rng.int(25);
    ids[r * 10 + len + 1] = 3;
  }
  const px = Float32Array.from({ length: b * 256 }, () => rng.next());
  return {
    image: tf.tensor4d(px, [b, 1, 16, 16]), text: tf.tensor2d(ids, [b, 10], 'int32'),
    imageIds: Int32Array.from(imageIds ?? Array.from({ length: b }, (_, i) => 10 * index + i)), index, seed: 42,
  };
}

const dispose = (b: AlbefBatch) => tf.dispose([b.image, b.text]);

function momentumNames(model: ALBEF): string[] {
  return [...model.namedParameters().keys()].filter((n) => /_m\./.test(n));
}

describe('ALBEF training behaviour (cpu)', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  test('momentum model and queues are buffers: not trainable, never given to the optimizer', () => {
    const model = tiny();
    const trainable = [...model.trainableParameters().keys()];
    expect(trainable.some((n) => /_m\.|queue/.test(n))).toBe(false);
    expect(momentumNames(model).length).toBeGreaterThan(50);
    expect(model.numParams()).toBe(trainable.reduce((a, n) => a + model.trainableParameters().get(n)!.size, 0));
    model.dispose();
  });

  test('no gradient reaches the momentum model', () => {
    const model = tiny();
    const params = model.namedParameters();
    const mom = momentumNames(model).map((n) => params.get(n)!).filter((v) => v.dtype === 'float32');
    mom.forEach((v) => (v.trainable = true)); // ask the tape for their gradients on purpose
    const b = batch(0);
    const { value, grads } = tf.variableGrads(() => model.trainingLoss(b).total as tf.Scalar, [...mom, model.temp]);
    mom.forEach((v) => (v.trainable = false));
    for (const v of mom) {
      const g = grads[v.name];
      if (g) expect(tf.abs(g).max().dataSync()[0]).toBe(0);
    }
    expect(Math.abs(grads[model.temp.name].dataSync()[0])).toBeGreaterThan(0);
    tf.dispose([value, ...Object.values(grads)]);
    dispose(b);
    model.dispose();
  });

  test('EMA at the start of each step: p_m = 0.995 p_m + 0.005 p, with p before the optimizer update', () => {
    const model = tiny();
    const opt = new AdamW(model.trainableParameters());
    const b0 = batch(0);
    trainStep(model, opt, [b0], (x) => model.trainingLoss(x), 1e-2);
    // now online and momentum differ (the optimizer moved the online weights)
    const [p, q] = model.momentumPairs.pairs.find(([a]) => a.size > 100)!;
    const pBefore = Float32Array.from(p.dataSync());
    const qBefore = Float32Array.from(q.dataSync());
    expect(pBefore.some((v, i) => v !== qBefore[i])).toBe(true);
    const b1 = batch(1);
    trainStep(model, opt, [b1], (x) => model.trainingLoss(x), 1e-2);
    const qAfter = q.dataSync();
    const f = Math.fround;
    for (let i = 0; i < qAfter.length; i++) expect(qAfter[i]).toBeCloseTo(f(f(qBefore[i] * f(0.995)) + f(pBefore[i] * f(1 - 0.995))), 7);
    [b0, b1].forEach(dispose);
    opt.dispose();
    model.dispose();
  });

  test('batch of 1 and all ids equal: no negative exists, ITM runs on the positives only, losses are finite', () => {
    const model = tiny();
    for (const [b, ids] of [[1, [5]], [3, [7, 7, 7]]] as [number, number[]][]) {
      const x = batch(0, b, ids);
      tf.tidy(() => {
        const out = model.step({ images: x.image, ids: x.text, imageIds: ids, alpha: 0.4, rng: new Rng(0) });
        expect(Array.from(out.itm.negImageForText)).toEqual(new Array(b).fill(-1));
        expect(Array.from(out.itm.negTextForImage)).toEqual(new Array(b).fill(-1));
        expect(Array.from(out.itm.labels.dataSync())).toEqual(new Array(b).fill(1));
        for (const t of [out.total, out.parts.itc, out.parts.itm]) expect(Number.isFinite(t.dataSync()[0])).toBe(true);
        // all same id: every batch column is a positive of every row
        if (b === 3) expect(out.itc.groundTruth.slice([0, 0], [1, 3]).dataSync()[0]).toBeCloseTo(1 / 3, 6);
      });
      const loss = tf.tidy(() => model.trainingLoss(x).total.dataSync()[0]);
      expect(Number.isFinite(loss)).toBe(true);
      dispose(x);
    }
    model.dispose();
  });

  test('MLM masking: 15% of non-special tokens, 80/10/10, specials never masked nor drawn', () => {
    const model = tiny();
    const rows = 4000;
    const ids = new Int32Array(rows * 10);
    const rng = new Rng(3);
    for (let r = 0; r < rows; r++) {
      ids[r * 10] = 2;
      for (let c = 1; c < 8; c++) ids[r * 10 + c] = 5 + rng.int(25);
      ids[r * 10 + 8] = 3; // [SEP], then one [PAD]
    }
    const m = model.mlmMask(ids, [rows, 10], new Rng(9));
    let eligible = 0;
    let selected = 0;
    let asMask = 0;
    let random = 0;
    let kept = 0;
    for (let k = 0; k < ids.length; k++) {
      const special = ids[k] < 5;
      if (special) {
        expect(m.labels[k]).toBe(-100);
        expect(m.ids[k]).toBe(ids[k]);
        continue;
      }
      eligible++;
      if (m.labels[k] === -100) {
        expect(m.ids[k]).toBe(ids[k]);
        continue;
      }
      selected++;
      expect(m.labels[k]).toBe(ids[k]);
      if (m.ids[k] === 4) asMask++;
      else if (m.ids[k] === ids[k]) kept++;
      else random++;
      expect(m.ids[k] === 4 || m.ids[k] >= 5).toBe(true);
    }
    expect(selected / eligible).toBeCloseTo(0.15, 2);
    expect(asMask / selected).toBeCloseTo(0.8, 1.5);
    // a random draw can hit the original id (1 in 25): those count as kept
    expect(random / selected).toBeCloseTo(0.1 * 24 / 25, 1.5);
    expect(kept / selected).toBeCloseTo(0.1 + 0.1 / 25, 1.5);
    model.dispose();
  });

  test('the objective is a pure function of (weights, queue, batch index, seed): same batch, same loss', () => {
    const losses = [0, 1].map(() => {
      const model = tiny(5);
      const x = batch(3);
      const l = tf.tidy(() => model.trainingLoss(x).total.dataSync()[0]);
      dispose(x);
      model.dispose();
      return l;
    });
    expect(losses[0]).toBe(losses[1]);
  });

  test('no tensors leak over several training steps', () => {
    const model = tiny();
    const opt = new AdamW(model.trainableParameters());
    const run = (i: number) => {
      const x = batch(i);
      trainStep(model, opt, [x], (y) => model.trainingLoss(y), 1e-3);
      dispose(x);
    };
    run(0);
    const before = tf.memory().numTensors;
    for (let i = 1; i < 4; i++) run(i);
    expect(tf.memory().numTensors).toBe(before);
    opt.dispose();
    model.dispose();
  });

  test('resume restores queues and EMA weights: the next step is identical', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'albef-resume-'));
    const a = tiny(1);
    const optA = new AdamW(a.trainableParameters());
    for (let i = 0; i < 3; i++) {
      const x = batch(i);
      trainStep(a, optA, [x], (y) => a.trainingLoss(y), 1e-3);
      dispose(x);
    }
    await saveCheckpoint(dir, a.namedParameters(), optA.state().tensors, { step: 3 });
    const b = tiny(2); // different init: everything must come from the checkpoint
    const optB = new AdamW(b.trainableParameters());
    await loadCheckpoint(latestCheckpoint(dir)!, b.namedParameters(), optB.state().tensors);
    optB.step = 3;
    expect(b.queue.position()).toBe(a.queue.position());
    expect(b.queue.position()).toBe((3 * 4) % 8);
    expect(Array.from(b.queue.queuedIds())).toEqual(Array.from(a.queue.queuedIds()));
    const pa = a.namedParameters();
    for (const [n, v] of b.namedParameters()) expect(Array.from(v.dataSync())).toEqual(Array.from(pa.get(n)!.dataSync()));
    const x = batch(3);
    const ra = trainStep(a, optA, [x], (y) => a.trainingLoss(y), 1e-3);
    const rb = trainStep(b, optB, [x], (y) => b.trainingLoss(y), 1e-3);
    expect(rb.loss).toBe(ra.loss);
    expect(rb.parts).toEqual(ra.parts);
    dispose(x);
    [optA, optB].forEach((o) => o.dispose());
    [a, b].forEach((m) => m.dispose());
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
