import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tf, Linear, Module, Tensor, manualSeed } from '@mmzoo/core';
import {
  StageConfig, StageSchema, TrainSchema, runTraining, readCheckpointMeta, latestCheckpoint, ActiveStage,
} from '@mmzoo/train';
import { useBackend } from '../../helpers/fixtures';

// The generic trainer's stages on a two-layer toy regression: stage `a` trains layer a only, stage `b` trains
// everything but the bias of a.
class Toy extends Module {
  readonly a = this.module('a', new Linear(3, 4, { std: 0.5 }));
  readonly b = this.module('b', new Linear(4, 1, { std: 0.5 }));
  loss(batch: { x: Tensor; y: Tensor }) {
    return tf.tidy(() => {
      const total = this.b.apply(tf.tanh(this.a.apply(batch.x))).sub(batch.y).square().mean();
      return { total, parts: { mse: total } };
    });
  }
}

const stages: StageConfig[] = [
  StageSchema.parse({ name: 'a', objectives: ['mse'], data: 'pairs', steps: 3, trainable: ['a.*'] }),
  StageSchema.parse({ name: 'b', objectives: ['mse'], data: 'pairs', steps: 2, lr: 0.05, batchSize: 5, frozen: ['a.bias'] }),
];
const train = TrainSchema.parse({ steps: 5, lr: 0.1, batchSize: 4, weightDecay: 0.1, warmupSteps: 1, logEvery: 100, checkpointEvery: 100 });

function batch(index: number, stage?: ActiveStage) {
  const n = stage?.batchSize ?? 4;
  const x = Array.from({ length: n * 3 }, (_, k) => Math.sin(index * 7.1 + k * 1.3));
  const y = Array.from({ length: n }, (_, k) => x[3 * k] - 0.5 * x[3 * k + 2]);
  return { x: tf.tensor2d(x, [n, 3]), y: tf.tensor2d(y, [n, 1]), n };
}

async function run(runDir: string, opts: { resume?: boolean; stopAfter?: number; stages?: StageConfig[] } = {}) {
  manualSeed(1);
  const model = new Toy();
  const sizes: number[] = [];
  const snaps = new Map<number, Map<string, number[]>>();
  const snap = () => new Map([...model.namedParameters()].map(([n, v]) => [n, Array.from(v.dataSync())]));
  snaps.set(0, snap());
  let steps = 0;
  try {
    const summary = await runTraining({
      runDir, model, train, stages: opts.stages ?? stages, resume: opts.resume, meta: {},
      makeBatch: (i, stage) => batch(i, stage),
      disposeBatch: (b) => tf.dispose([b.x, b.y]),
      loss: (b) => {
        sizes.push(b.n);
        return model.loss(b);
      },
      shouldStop: () => opts.stopAfter !== undefined && steps >= opts.stopAfter,
      onStep: (step) => {
        steps++;
        snaps.set(step, snap());
      },
    });
    return { summary, snaps, sizes };
  } finally {
    model.dispose();
  }
}

describe('runTraining with stages', () => {
  const dirs: string[] = [];
  const tmp = () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'mmzoo-stages-'));
    dirs.push(d);
    return d;
  };
  beforeAll(() => useBackend('cpu'));
  afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  test('parameters outside a stage are bit-for-bit unchanged (no weight decay either); each stage uses its batch size', async () => {
    const { summary, snaps, sizes } = await run(tmp());
    expect(sizes).toEqual([4, 4, 4, 5, 5]);
    const changed = (from: number, to: number) => [...snaps.get(from)!].filter(([n, w]) => JSON.stringify(w) !== JSON.stringify(snaps.get(to)!.get(n))).map(([n]) => n).sort();
    expect(changed(0, 3)).toEqual(['a.bias', 'a.weight']);
    expect(changed(3, 5)).toEqual(['a.weight', 'b.bias', 'b.weight']);
    expect(summary.stages!.map((s) => [s.name, s.trainableParams, s.frozenParams])).toEqual([['a', 16, 5], ['b', 17, 4]]);
    expect(summary.history.map((h) => [h.step, h.stage])).toEqual([[1, 'a'], [3, 'a'], [4, 'b'], [5, 'b']]);
    expect(summary.tensorsAfter).toBe(summary.tensorsBefore);
  });

  test('a run stopped exactly at a stage boundary resumes into the next stage with a fresh optimizer, as if uninterrupted', async () => {
    const straight = await run(tmp());
    const dir = tmp();
    const first = await run(dir, { stopAfter: 3 });
    expect(first.summary.interrupted).toBe(true);
    expect(readCheckpointMeta(latestCheckpoint(dir)!).stage).toEqual({ index: 0, name: 'a', step: 3 });
    const resumed = await run(dir, { resume: true });
    expect(resumed.summary.stepsThisRun).toBe(2);
    expect(resumed.snaps.get(5)).toEqual(straight.snaps.get(5));
    expect(resumed.summary.history.map((h) => h.loss)).toEqual(straight.summary.history.map((h) => h.loss));
    expect(resumed.summary.stages).toEqual(straight.summary.stages);
  });

  test('resuming with stages that do not match the checkpoint is an error', async () => {
    const dir = tmp();
    await run(dir, { stopAfter: 4 });
    expect(readCheckpointMeta(latestCheckpoint(dir)!).stage).toEqual({ index: 1, name: 'b', step: 1 });
    const renamed = [stages[0], { ...stages[1], name: 'c' }];
    await expect(run(dir, { resume: true, stages: renamed })).rejects.toThrow(/the checkpoint is in stage 'b' \(stages\[1\]\), which the config's stages \(a, c\) do not match/);
  });
});
