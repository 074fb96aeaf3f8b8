import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tf, WordTokenizer, batchTensors } from '@mmzoo/core';
import {
  Experiment, ExperimentSchema, runTraining, makeImageTextBatch, saveTokenizer, loadSavedTokenizer, ImageTextBatch, readCheckpointMeta,
  latestCheckpoint, openSession, prepareSession,
  imageTextOf,
} from '@mmzoo/train';
import { getModel } from '../../packages/cli/src/specs';
import { useBackend } from '../helpers/fixtures';

// VLMo and BEiT-3 draw their masks and ITM negatives from (batch seed, batch index), and BEiT-3's visual
// tokenizer is a saved buffer: an interrupted and resumed run must equal an uninterrupted one bit for bit.
const models: Record<string, object> = {
  vlmo: {
    name: 'vlmo', vision: { imageSize: 28, patchSize: 7, channels: 1 }, text: { contextLength: 16, maxTextLenOfInitCkpt: 16 },
    width: 16, layers: 2, numHeads: 2, vlStart: 1,
  },
  beit3: {
    name: 'beit3', vision: { imageSize: 28, patchSize: 7, channels: 1 }, text: { contextLength: 16 },
    width: 16, layers: 2, numHeads: 2, tokenizer: { codebookSize: 8, fitImages: 32 }, objectives: { mdm: 1, itc: 1 },
  },
};

async function train(name: string, runDir: string, opts: { resume?: boolean; stopAfter?: number }, tokenizer?: WordTokenizer) {
  const config = ExperimentSchema.parse({
    model: models[name],
    data: { trainLimit: 64, scenes: { train: 8 } },
    train: { seed: 3, batchSize: 8, steps: 4, lr: 1e-2, warmupSteps: 1, gradClipNorm: 1.0, checkpointEvery: 100, logEvery: 1 },
    eval: { zeroShot: false, retrievalGallery: 0 },
  }) as Experiment<any>;
  const spec = getModel(name);
  const session = await openSession(spec, { ...config, model: spec.schema.parse(config.model) }, tokenizer && { text: saveTokenizer(tokenizer) });
  const { model } = session;
  const { data } = imageTextOf(session, 'training');
  if (!opts.resume) await prepareSession(session);
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
  return { summary, weights };
}

describe.each(['vlmo', 'beit3'])('%s resume', (name) => {
  const dirs: string[] = [];
  const tmp = () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), `mmzoo-${name}-resume-`));
    dirs.push(d);
    return d;
  };
  beforeAll(() => useBackend('wasm'));
  afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  test('an interrupted and resumed run equals an uninterrupted one, bit for bit; tensors stay flat', async () => {
    const straight = await train(name, tmp(), {});
    expect(straight.summary.tensorsAfter).toBe(straight.summary.tensorsBefore);
    const dir = tmp();
    await train(name, dir, { stopAfter: 2 });
    const tok = loadSavedTokenizer(readCheckpointMeta(latestCheckpoint(dir)!).tokenizer, 'meta.json') as WordTokenizer;
    const resumed = await train(name, dir, { resume: true }, tok);
    expect(resumed.summary.stepsThisRun).toBe(2);
    expect(resumed.summary.history.map((h) => h.loss)).toEqual(straight.summary.history.map((h) => h.loss));
    for (const [n, w] of straight.weights) expect({ n, w: resumed.weights.get(n) }).toEqual({ n, w });
  });
});
