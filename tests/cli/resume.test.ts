import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tf, WordTokenizer, batchTensors } from '@mmzoo/core';
import {
  Experiment, ExperimentSchema, runTraining, makeImageTextBatch, saveTokenizer, loadSavedTokenizer, ImageTextBatch, readCheckpointMeta,
  latestCheckpoint, openSession,
  imageTextOf,
} from '@mmzoo/train';
import { getModel } from '../../packages/cli/src/specs';
import { useBackend } from '../helpers/fixtures';

// A resumed run must continue exactly as an uninterrupted one: same weights, optimizer moments, learning rate
// and data order (issue 3).
const config = ExperimentSchema.parse({
  model: {
    name: 'clip', embedDim: 16,
    vision: { imageSize: 28, patchSize: 7, channels: 1, width: 16, layers: 1, numHeads: 2 },
    text: { contextLength: 16, width: 16, layers: 1, numHeads: 2, pool: 'eot' },
  },
  data: { trainLimit: 64, scenes: { train: 8 } },
  train: { seed: 3, batchSize: 8, steps: 6, lr: 1e-2, warmupSteps: 2, gradClipNorm: 1.0, accumSteps: 2, checkpointEvery: 100, logEvery: 1 },
  eval: { zeroShot: false, retrievalGallery: 0 },
}) as Experiment<any>;
const spec = getModel('clip');

async function train(runDir: string, opts: { resume?: boolean; stopAfter?: number }, tokenizer?: WordTokenizer) {
  const session = await openSession(spec, { ...config, model: spec.schema.parse(config.model) }, tokenizer && { text: saveTokenizer(tokenizer) });
  const { model } = session;
  const { data } = imageTextOf(session, 'training');
  let steps = 0;
  const summary = await runTraining<ImageTextBatch>({
    runDir, model, train: config.train, resume: opts.resume,
    makeBatch: (i) => makeImageTextBatch(data.train, session.tokenizer, i, 8, 16, 3),
    disposeBatch: (b) => tf.dispose(batchTensors(b)),
    loss: (b) => model.trainingLoss(b),
    meta: { tokenizer: saveTokenizer(session.tokenizer) },
    shouldStop: () => opts.stopAfter !== undefined && steps >= opts.stopAfter,
    onStep: () => void steps++,
  });
  const weights = new Map([...model.namedParameters()].map(([n, v]) => [n, Array.from(v.dataSync())]));
  model.dispose();
  return { summary, weights, tokenizer: session.tokenizer as WordTokenizer };
}

describe('trainer resume', () => {
  const dirs: string[] = [];
  const tmp = () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'mmzoo-resume-'));
    dirs.push(d);
    return d;
  };
  beforeAll(() => useBackend('cpu'));
  afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  test('an interrupted and resumed run equals an uninterrupted one, bit for bit', async () => {
    const straight = await train(tmp(), {});
    const dir = tmp();
    const first = await train(dir, { stopAfter: 3 });
    expect(first.summary.interrupted).toBe(true);
    expect(readCheckpointMeta(latestCheckpoint(dir)!).step).toBe(3);
    const resumed = await train(dir, { resume: true }, loadSavedTokenizer(readCheckpointMeta(latestCheckpoint(dir)!).tokenizer, 'meta.json') as WordTokenizer);
    expect(resumed.summary.steps).toBe(6);
    expect(resumed.summary.stepsThisRun).toBe(3);
    expect(resumed.summary.history.map((h) => h.loss)).toEqual(straight.summary.history.map((h) => h.loss));
    expect(resumed.summary.history.map((h) => h.lr)).toEqual(straight.summary.history.map((h) => h.lr));
    for (const [name, w] of straight.weights) expect({ name, w: resumed.weights.get(name) }).toEqual({ name, w });
    // training seconds (time-to-accuracy) rise step by step and carry over the resume
    const seconds = resumed.summary.history.map((h) => h.seconds!);
    expect(seconds.every((t, i) => t > 0 && (i === 0 || t >= seconds[i - 1]))).toBe(true);
    const before = first.summary.history[first.summary.history.length - 1].seconds!;
    expect(resumed.summary.history.find((h) => h.step === 4)!.seconds!).toBeGreaterThanOrEqual(before);
  });

  test('training keeps tf.memory().numTensors flat', async () => {
    const { summary } = await train(tmp(), {});
    expect(summary.tensorsAfter).toBe(summary.tensorsBefore);
    expect(summary.finalLoss).toBeLessThan(summary.initialLoss);
  });
});
