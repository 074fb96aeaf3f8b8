import * as path from 'path';
import { tf, Rng, componentCounts, manualSeed, sampleItmPairs } from '@mmzoo/core';
import { AdamW, scorePairs, trainStep } from '@mmzoo/train';
import { VLMo, buildVlmo } from '@mmzoo/vlmo';
import { loadExperiment } from '../../packages/cli/src/experiment';
import { useBackend } from '../helpers/fixtures';
import { syntheticImageTextBatch } from '../helpers/batches';

const ROOT = path.join(__dirname, '..', '..');

const tinyConfig = {
  name: 'vlmo' as const, vision: { imageSize: 16, patchSize: 8, channels: 1 }, text: { contextLength: 8, vocabSize: 30, maxTextLenOfInitCkpt: 8 },
  width: 16, layers: 2, numHeads: 2, vlStart: 1,
};

function tiny(): VLMo {
  manualSeed(3);
  return buildVlmo(tinyConfig);
}

const batch = (index: number, b = 4) => syntheticImageTextBatch(index, b, { draw: 11, seed: 5 });

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
    tf.dispose([b0.image, b0.text, b1.image, b1.text]);
    model.dispose();
  });

  test('ITM scores the pairs core sampleItmPairs draws (never the same image), with hardNegativeEps', () => {
    const model = tiny();
    const b = batch(0, 6);
    // image i's text i+1 (mod 6) is by far the most similar non-positive; ids shared by (0,1), (2,3), (4,5)
    const sims = tf.tensor2d(Array.from({ length: 36 }, (_, k) => (k % 6 === (Math.floor(k / 6) + 1) % 6 ? 30 : 0)), [6, 6]);
    const imageIds = Int32Array.from([0, 0, 1, 1, 2, 2]);
    const expected = (eps: number, seed: number) => {
      const pairs = sampleItmPairs(sims, sims.transpose(), imageIds, new Rng(seed), { eps });
      for (let k = 0; k < pairs.labels.length; k++) if (pairs.labels[k] === 0) expect(imageIds[pairs.imageIndex[k]]).not.toBe(imageIds[pairs.textIndex[k]]);
      // the loss, computed independently: -mean log softmax(logits)[label] of each pair run alone in fusion mode
      let nll = 0;
      for (let k = 0; k < pairs.labels.length; k++) {
        const logits = tf.tidy(() => model.infer(b.image.slice([pairs.imageIndex[k], 0, 0, 0], [1, -1, -1, -1]), b.text.slice([pairs.textIndex[k], 0], [1, -1])).itmLogits.dataSync());
        const m = Math.max(logits[0], logits[1]);
        nll -= logits[pairs.labels[k]] - m - Math.log(Math.exp(logits[0] - m) + Math.exp(logits[1] - m));
      }
      return { nll: nll / pairs.labels.length, count: pairs.labels.length };
    };
    const exact = expected(0, 1);
    expect(exact.count).toBe(18);
    const loss = tf.tidy(() => model.itmLoss(b.image, b.text, sims, new Rng(1), imageIds).dataSync()[0]);
    expect(loss).toBeCloseTo(exact.nll, 5);
    const smoothed = buildVlmo({ ...tinyConfig, hardNegativeEps: 0.5 });
    const own = model.namedParameters();
    for (const [n, v] of smoothed.namedParameters()) v.assign(own.get(n)!);
    const withEps = tf.tidy(() => smoothed.itmLoss(b.image, b.text, sims, new Rng(1), imageIds).dataSync()[0]);
    expect(withEps).toBeCloseTo(expected(0.5, 1).nll, 5);
    tf.dispose([b.image, b.text, sims]);
    smoothed.dispose();
    model.dispose();
  });

  test('as an ItmScorer: cached inputs, match log-odds of the fusion-mode ITM head', () => {
    const model = tiny();
    const b = batch(0, 4);
    const img = model.itmImageFeatures(b.image);
    const txt = model.itmTextFeatures(b.text);
    const scores = scorePairs(model, img, txt, [0, 1, 2, 3], [1, 1, 3, 0]);
    const logits = tf.tidy(() => model.infer(tf.gather(b.image, [0, 1, 2, 3]), tf.gather(b.text, [1, 1, 3, 0])).itmLogits.arraySync() as number[][]);
    logits.forEach((l, k) => expect(scores[k]).toBeCloseTo(l[1] - l[0], 5));
    tf.dispose([img, ...txt, b.image, b.text]);
    model.dispose();
  });

  test("absolutePositions adds the paper's V_pos and T_pos (section 3.1); the default is the released layout without them", () => {
    const released = tiny();
    const names = [...released.namedParameters().keys()];
    expect(names).not.toContain('pos_embed');
    expect(names).not.toContain('text_embeddings.position_embeddings.weight');
    manualSeed(3);
    const paper = buildVlmo({ ...tinyConfig, absolutePositions: true });
    const shapes = Object.fromEntries([...paper.namedParameters()].map(([n, t]) => [n, t.shape]));
    expect(shapes['pos_embed']).toEqual([1, 1 + 4, 16]); // [CLS] + 2x2 patches
    expect(shapes['text_embeddings.position_embeddings.weight']).toEqual([8, 16]);
    expect(paper.numParams() - released.numParams()).toBe(5 * 16 + 8 * 16);
    // V_pos enters the image tokens: zeroing it changes the image-only [CLS] feature
    const b = batch(0, 2);
    const zero = paper.posEmbed!.zerosLike();
    const withPos = tf.tidy(() => paper.inferImage(b.image).cls.dataSync());
    const saved = paper.posEmbed!.clone();
    paper.posEmbed!.assign(zero);
    const withoutPos = tf.tidy(() => paper.inferImage(b.image).cls.dataSync());
    paper.posEmbed!.assign(saved);
    expect(Math.max(...withPos.map((v, i) => Math.abs(v - withoutPos[i])))).toBeGreaterThan(1e-4);
    tf.dispose([zero, saved, b.image, b.text]);
    paper.dispose();
    released.dispose();
  });

  test('the shipped configs validate; the tiny config builds', () => {
    const tinyCfg = loadExperiment(path.join(ROOT, 'configs/vlmo/fmnist-scenes-tiny.yaml'));
    expect(tinyCfg.config.model.vlStart).toBeLessThan(tinyCfg.config.model.layers);
    const m = tinyCfg.spec.build(tinyCfg.config.model, { vocabSize: 100, eotId: 3 });
    expect(m.numParams()).toBeGreaterThan(100000);
    // `mmzoo info` / results.json towers: every parameter counted once (V_pos with the vision embedding)
    const towers = componentCounts(m, tinyCfg.spec.components(tinyCfg.config.model));
    expect(Object.values(towers).reduce((a, b) => a + b, 0)).toBe(m.numParams());
    expect(towers.visionEmbedding).toBe(64 * 14 * 14 + 64 + 64 + 17 * 64 + 2 * 64);
    m.dispose();
    const base = loadExperiment(path.join(ROOT, 'configs/vlmo/base.yaml'), [], { modelOnly: true });
    expect(base.config.model).toMatchObject({ width: 768, layers: 12, vlStart: 10 });
  });
});
