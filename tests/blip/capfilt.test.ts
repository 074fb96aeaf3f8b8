import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  Experiment, ExperimentSchema, buildScenes, noisySceneCaptions, filterPrecisionRecall, EMBEDDED_FASHION_MNIST_ROOT,
  ImageTextBatch, saveTokenizer, decodeImage, loadFashionMnist, makeImageTextBatch, readCaptionsJsonl, runTraining,
  openSession,
  imageTextOf,
} from '@mmzoo/train';
import { BlipBatch, buildBlip } from '@mmzoo/blip';
import { CapFiltConfigSchema, capfiltTrainable, finetuneBlip } from '@mmzoo/blip/capfilt';
import { Rng, manualSeed, tf, WordTokenizer, batchTensors } from '@mmzoo/core';
import { getModel } from '../../packages/cli/src/specs';
import { capfiltCommand, loadCapFiltConfig } from '../../packages/cli/src/commands/capfilt';
import { useBackend } from '../helpers/fixtures';

// CapFilt end to end (BLIP section 3.3) on a tiny BLIP trained for a few steps on 24 scenes: the files it writes and
// the consistency of its report with them (not the quality of a 3-step model).
const SCENES = 16;
const config = ExperimentSchema.parse({
  model: {
    name: 'blip', embedDim: 16, queueSize: 16, itmRerankK: 4,
    vision: { imageSize: 28, patchSize: 14, channels: 1, width: 16, layers: 1, numHeads: 2 },
    text: { contextLength: 16, width: 16, layers: 1, numHeads: 2 },
    caption: { strategy: 'greedy', maxLength: 6, testScenes: 0 },
  },
  data: { trainLimit: 100, items: false, scenes: { train: SCENES, captionStyle: 'layout' } },
  train: { seed: 5, batchSize: 8, steps: 2, lr: 1e-3, checkpointEvery: 100, logEvery: 1 },
  eval: { zeroShot: false, retrievalGallery: 0 },
}) as Experiment<any>;

describe('mmzoo capfilt', () => {
  let tmp: string;
  let runDir: string;
  beforeAll(async () => {
    await useBackend('cpu');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mmzoo-capfilt-'));
    runDir = path.join(tmp, 'run');
    const spec = getModel('blip');
    const session = await openSession(spec, { ...config, model: spec.schema.parse(config.model) });
    await runTraining<ImageTextBatch>({
      runDir, model: session.model, train: config.train,
      makeBatch: (i) => makeImageTextBatch(imageTextOf(session, 'training').data.train, session.tokenizer, i, 8, 16, 5),
      disposeBatch: (b) => tf.dispose(batchTensors(b)),
      loss: (b) => session.model.trainingLoss(b),
      meta: { config: session.config, tokenizer: saveTokenizer(session.tokenizer), model: 'blip' },
    });
    session.model.dispose();
  }, 300000);
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('writes the noisy set, scene PNGs, cleaned.jsonl and a report consistent with them', async () => {
    const file = path.join(tmp, 'capfilt.yaml');
    fs.writeFileSync(file, [
      'checkpoint: run',
      'noisy: { fraction: 0.25, seed: 1 }',
      'finetune: { batchSize: 8 }',
      'captioner: { steps: 1, lr: 1.0e-3, batchSize: 16, nucleus: { maxLength: 6, minLength: 2 } }',
      'filter: { steps: 1, lr: 1.0e-3 }',
      '',
    ].join('\n'));
    const out = path.join(tmp, 'out');
    const before = tf.memory().numTensors;
    expect(await capfiltCommand(file, { out, backend: 'cpu' })).toBe(0);
    expect(tf.memory().numTensors).toBe(before);

    // noisy.jsonl: exactly 4 of 16 captions corrupted, the same copy core's builder makes from the run's scenes
    const noisyLines = fs.readFileSync(path.join(out, 'noisy.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(noisyLines).toHaveLength(SCENES);
    expect(noisyLines.filter((l) => l.corrupted)).toHaveLength(4);
    const train = loadFashionMnist(EMBEDDED_FASHION_MNIST_ROOT, 'train');
    const limited = { ...train, count: 100, images: train.images.slice(0, 100 * 784), labels: train.labels!.slice(0, 100) };
    // rebuilt with the run's caption wording (regression: capfilt once rebuilt 'varied' captions for a 'layout' run)
    const scenes = buildScenes(limited, SCENES, 5, { captionStyle: 'layout' });
    expect(scenes.scenes[0].captions[0]).toMatch(/^(top|bottom) (left|right): /);
    const expected = noisySceneCaptions(scenes.scenes, { fraction: 0.25, seed: 1 });
    expect(noisyLines.map((l) => [l.caption, l.corrupted])).toEqual(expected.map((n) => [n.caption, n.corrupted]));

    // the scene images as lossless PNGs
    const png = await decodeImage(path.join(out, 'images', 'scene-000003.png'), { height: 56, width: 56, channels: 1 });
    const bytes = scenes.images.images.subarray(3 * 56 * 56, 4 * 56 * 56);
    expect(Array.from(png, (v) => Math.round(v * 255))).toEqual(Array.from(bytes));

    // cleaned.jsonl: kept texts with a source, readable by the JSONL reader (image files resolved and present)
    const cleaned = fs.readFileSync(path.join(out, 'cleaned.jsonl'), 'utf8').trim().split('\n').filter((l) => l).map((l) => JSON.parse(l));
    for (const l of cleaned) {
      expect(['web', 'synthetic']).toContain(l.source);
      expect(l.p_match).toBeGreaterThan(0.5);
      expect(l.image).toBe(`images/${l.image_id}.png`);
    }
    const records = readCaptionsJsonl(path.join(out, 'cleaned.jsonl'));
    expect(records).toHaveLength(cleaned.length);
    for (const r of records) expect(fs.existsSync(r.imagePath)).toBe(true);

    // the report agrees with the files: counts, and precision/recall recomputed from the two JSONL files
    const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8'));
    const keptWeb = new Set(cleaned.filter((l) => l.source === 'web').map((l) => l.image_id));
    expect(report.original).toEqual({ total: SCENES, kept: keptWeb.size, removed: SCENES - keptWeb.size });
    expect(report.synthetic.total).toBe(SCENES);
    expect(report.synthetic.kept).toBe(cleaned.filter((l) => l.source === 'synthetic').length);
    expect(report.cleaned).toBe(cleaned.length);
    const scores = filterPrecisionRecall(noisyLines.map((l) => !keptWeb.has(l.image_id)), noisyLines.map((l) => l.corrupted));
    expect(report.filter).toMatchObject(scores);
    const removed = fs.readFileSync(path.join(out, 'removed.jsonl'), 'utf8').trim().split('\n').filter((l) => l).map((l) => JSON.parse(l));
    expect(removed).toHaveLength(report.original.removed + report.synthetic.removed);
    for (const l of removed) expect(l.p_match).toBeLessThanOrEqual(0.5);
    expect(removed.filter((l) => l.source === 'web').map((l) => l.corrupted)).toEqual(noisyLines.filter((l) => !keptWeb.has(l.image_id)).map((l) => l.corrupted));
    expect(report.filter.sweep).toHaveLength(9);
    expect(report.filter.sweep[4]).toEqual({ threshold: 0.5, removed: scores.removed, precision: scores.precision, recall: scores.recall });
    expect(report.noise).toEqual({ fraction: 0.25, corrupted: 4 });
    expect(report.finetune.captioner.steps).toBe(1);
    expect(Object.keys(report.finetune.captioner.last)).toEqual(['lm', 'lmNll']);
    expect(Object.keys(report.finetune.filter.last)).toEqual(['itc', 'itm']);
    expect(fs.readFileSync(path.join(out, 'report.md'), 'utf8')).toMatch(/\| precision \(corrupted among removed\) \|/);

    // a second run into the same folder needs --overwrite; threshold 0 keeps every text
    await expect(capfiltCommand(file, { out, backend: 'cpu' })).rejects.toThrow(/already holds a CapFilt report/);
    await capfiltCommand(file, { out, backend: 'cpu', overwrite: true, set: ['filter.threshold=0', 'captioner.steps=0', 'filter.steps=0'] });
    const all = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8'));
    expect(all.original.removed + all.synthetic.removed).toBe(0);
    expect(all.filter.precision).toBeNull();
    expect(all.filter.recall).toBe(0);
    const keptAll = readCaptionsJsonl(path.join(out, 'cleaned.jsonl'));
    expect(keptAll).toHaveLength(2 * SCENES);
    const lines = fs.readFileSync(path.join(out, 'cleaned.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.source === 'web').map((l) => l.caption)).toEqual(noisyLines.map((l) => l.caption));
    expect(lines.filter((l) => l.source === 'synthetic')).toHaveLength(SCENES);
    for (const l of lines) expect(l.caption.length).toBeGreaterThan(0);
  }, 300000);

  test('config errors name the file, line and key; a run folder without a checkpoint is an error', async () => {
    const bad = path.join(tmp, 'bad.yaml');
    fs.writeFileSync(bad, 'checkpoint: run\nfilter:\n  treshold: 0.6\n');
    expect(() => loadCapFiltConfig(bad)).toThrow(/bad\.yaml:3:\d+: filter\.treshold: unknown key, did you mean 'threshold'\? \(valid keys: steps, lr, threshold, batchSize\)/);
    const good = path.join(tmp, 'good.yaml');
    fs.writeFileSync(good, 'checkpoint: nowhere\n');
    expect(() => loadCapFiltConfig(good, ['noisy.fraction=2'])).toThrow(/--set noisy\.fraction=2: noisy\.fraction/);
    const shipped = loadCapFiltConfig(path.join(__dirname, '..', '..', 'configs', 'blip', 'capfilt-scenes-tiny.yaml'));
    expect(shipped).toMatchObject({ checkpoint: '../../runs/blip-fmnist-scenes-tiny', noisy: { fraction: 0.3 }, captioner: { nucleus: { topP: 0.9 } } });
    expect(CapFiltConfigSchema.parse({ checkpoint: 'x' })).toMatchObject({ noisy: { fraction: 0.3 }, captioner: { nucleus: { topP: 0.9 } }, filter: { threshold: 0.5 } });
    await expect(capfiltCommand(good, { out: path.join(tmp, 'o2'), backend: 'cpu' })).rejects.toThrow(/checkpoint: .*nowhere holds no checkpoint/);
  });
});

describe('CapFilt fine-tuning objectives', () => {
  beforeAll(() => useBackend('cpu'));

  function batch(): BlipBatch {
    const rng = new Rng(3);
    const ids = new Int32Array(4 * 8);
    for (let r = 0; r < 4; r++) {
      ids[r * 8] = 2;
      for (let c = 1; c <= 4; c++) ids[r * 8 + c] = 5 + rng.int(20);
      ids[r * 8 + 5] = 3;
    }
    return {
      image: tf.tensor4d(Float32Array.from({ length: 4 * 256 }, () => rng.next()), [4, 1, 16, 16]), text: tf.tensor2d(ids, [4, 8], 'int32'),
      imageIds: Int32Array.from([0, 1, 2, 3]), index: 0, seed: 1,
    };
  }

  test('the captioner (LM) changes only what its loss reaches, the filter (ITC + ITM) everything but the decoder', () => {
    for (const objective of ['captioner', 'filter'] as const) {
      manualSeed(0);
      const model = buildBlip({
        name: 'blip', embedDim: 8, queueSize: 8, learnableTemp: true,
        vision: { imageSize: 16, patchSize: 8, channels: 1, width: 16, layers: 1, numHeads: 2 },
        text: { contextLength: 8, vocabSize: 25, width: 16, layers: 1, numHeads: 2 },
      });
      const before = new Map([...model.trainableParameters()].map(([n, v]) => [n, Array.from(v.dataSync())]));
      const summary = finetuneBlip(model, objective, { steps: 1, lr: 1e-2, warmupSteps: 0, weightDecay: 0.05, gradClipNorm: 5 }, batch, (b) => tf.dispose([b.image, b.text]));
      expect(Object.keys(summary.last!)).toEqual(objective === 'captioner' ? ['lm', 'lmNll'] : ['itc', 'itm']);
      const changed = new Set([...model.trainableParameters()].filter(([n, v]) => Array.from(v.dataSync()).some((x, i) => x !== before.get(n)![i])).map(([n]) => n));
      const trained = new Set(capfiltTrainable(model, objective).keys());
      expect([...changed].sort()).toEqual([...trained].sort());
      if (objective === 'captioner') {
        expect(changed.has('text_decoder.cls.predictions.bias')).toBe(true);
        expect(changed.has('text_encoder.encoder.layer.0.crossattention.self.query.weight')).toBe(true);
        expect(changed.has('itm_head.weight') || changed.has('text_proj.weight') || changed.has('temp')).toBe(false);
        expect(changed.has('text_encoder.encoder.layer.0.attention.self.query.weight')).toBe(false);
      } else {
        expect([...changed].some((n) => n.startsWith('text_decoder.'))).toBe(false);
        expect(changed.has('itm_head.weight') && changed.has('temp') && changed.has('text_encoder.encoder.layer.0.attention.self.query.weight')).toBe(true);
      }
      model.dispose();
    }
  });
});
