import * as fs from 'fs';
import * as path from 'path';
import { tf, Variable } from '@mmzoo/core';
import { parseSafetensors } from '@mmzoo/core/io';
import { clipSpec } from '@mmzoo/clip';
import { TrainSchema, frozenParameterNames, latestCheckpoint, runTraining } from '@mmzoo/train';
import { syntheticImageTextBatch } from '../../helpers/batches';
import { useBackend } from '../../helpers/fixtures';
import { tempDirs } from '../../helpers/temp';

// Issue 15, `frozen:`: frozen parameters get no gradient and no optimizer state. A tiny CLIP with its vision tower
// frozen trains three steps with weight decay: every frozen value is bit-for-bit unchanged, every other trainable
// parameter moved, and optimizer.safetensors holds Adam moments for the others only.

const temp = tempDirs('mmzoo-frozen-');
beforeAll(() => useBackend('cpu'));
afterAll(() => temp.cleanUp());

const MODEL = clipSpec.schema.parse({
  name: 'clip', embedDim: 8,
  vision: { imageSize: 16, patchSize: 8, channels: 1, width: 8, layers: 1, numHeads: 2 },
  text: { contextLength: 8, vocabSize: 30, width: 8, layers: 1, numHeads: 2, pool: 'eot', eotId: 3 },
});
const TRAIN = TrainSchema.parse({ batchSize: 4, steps: 3, lr: 1e-2, weightDecay: 0.1, checkpointEvery: 100, logEvery: 1 });
const noPlace = (p: (string | number)[]) => `${p.join('.')}: `;

const values = (m: Map<string, Variable>) => new Map([...m].map(([n, v]) => [n, Float32Array.from(v.dataSync())]));

describe('frozen parameters', () => {
  test('keep their values and get no optimizer state, while the rest trains', async () => {
    const baseline = tf.memory().numTensors;
    const model = clipSpec.build(MODEL, {});
    const frozen = frozenParameterNames(model.namedParameters(), clipSpec.components(MODEL), ['vision'], noPlace);
    const trainable = [...model.trainableParameters().keys()];
    // CLIP's vision component is every trainable visual.* parameter
    expect(frozen).toEqual(trainable.filter((n) => n.startsWith('visual.')));
    expect(frozen.length).toBeGreaterThan(5);
    const before = values(model.namedParameters());
    const runDir = temp.make();
    const summary = await runTraining({
      runDir, model, train: TRAIN, frozen,
      makeBatch: (i) => syntheticImageTextBatch(i, 4, { draw: i, seed: 0 }),
      disposeBatch: (b) => tf.dispose([b.image, b.text]),
      loss: (b) => model.trainingLoss(b),
      meta: {},
    });
    expect(summary.steps).toBe(3);
    expect(summary.tensorsAfter).toBe(summary.tensorsBefore);
    const after = values(model.namedParameters());
    for (const n of frozen) expect([n, after.get(n)]).toEqual([n, before.get(n)]);
    const others = trainable.filter((n) => !frozen.includes(n));
    const changed = (n: string) => after.get(n)!.some((x, i) => x !== before.get(n)![i]);
    expect(others.filter((n) => !changed(n))).toEqual([]);
    // the saved optimizer state: exp_avg and exp_avg_sq of every trained parameter, none of a frozen one
    const ckpt = latestCheckpoint(runDir)!;
    const opt = parseSafetensors(new Uint8Array(fs.readFileSync(path.join(ckpt, 'optimizer.safetensors'))));
    expect([...opt.keys()].sort()).toEqual(others.flatMap((n) => [`exp_avg.${n}`, `exp_avg_sq.${n}`]).sort());
    // the weights file still holds the frozen parameters
    const weights = parseSafetensors(new Uint8Array(fs.readFileSync(path.join(ckpt, 'model.safetensors'))));
    expect(Array.from(weights.get('visual.proj')!.data as Float32Array)).toEqual(Array.from(before.get('visual.proj')!));
    model.dispose();
    expect(tf.memory().numTensors).toBe(baseline);
  });

  test('a stage of a stagewise run selects among the parameters left trainable', async () => {
    const model = clipSpec.build(MODEL, {});
    const frozen = frozenParameterNames(model.namedParameters(), clipSpec.components(MODEL), ['visual.transformer'], noPlace);
    const before = values(model.namedParameters());
    const train = { ...TRAIN, steps: 2 };
    const summary = await runTraining({
      runDir: temp.make(), model, train, frozen,
      stages: [{ name: 'vision', objectives: ['itc'], data: 'pairs', steps: 2, trainable: ['visual.*'], frozen: [] }],
      makeBatch: (i) => syntheticImageTextBatch(i, 4, { draw: i, seed: 0 }),
      disposeBatch: (b) => tf.dispose([b.image, b.text]),
      loss: (b) => model.trainingLoss(b),
      meta: {},
    });
    const after = values(model.namedParameters());
    const visual = [...model.trainableParameters().keys()].filter((n) => n.startsWith('visual.'));
    const stageTrained = visual.filter((n) => !frozen.includes(n));
    // the stage trained visual.* less the frozen blocks: its count says so, and only those moved
    expect(summary.stages![0].trainableParams).toBe(stageTrained.reduce((a, n) => a + model.namedParameters().get(n)!.size, 0));
    for (const n of frozen) expect([n, after.get(n)]).toEqual([n, before.get(n)]);
    expect(stageTrained.every((n) => after.get(n)!.some((x, i) => x !== before.get(n)![i]))).toBe(true);
    model.dispose();
  });

  test('frozen entries that select nothing, or everything, are config errors naming the entry', async () => {
    const model = clipSpec.build(MODEL, {});
    const params = model.namedParameters();
    const comps = clipSpec.components(MODEL);
    expect(() => frozenParameterNames(params, comps, ['vision', 'visoin'], noPlace)).toThrow(/^frozen\.1: 'visoin' is neither a component of the model nor a prefix of a trainable parameter \(components: vision, text, logitScale; parameter prefixes: .*visual/);
    expect(() => frozenParameterNames(params, comps, ['vision', 'text', 'logitScale'], noPlace)).toThrow(/^frozen: leaves no trainable parameter; freeze less$/);
    // a prefix is dotted: 'visual.transformer.resblocks.0' covers that block, 'visual.transformer.res' nothing
    expect(frozenParameterNames(params, comps, ['visual.transformer.resblocks.0'], noPlace)).toHaveLength(12);
    expect(() => frozenParameterNames(params, comps, ['visual.transformer.res'], noPlace)).toThrow(/frozen\.0: 'visual\.transformer\.res' is neither/);
    // runTraining itself refuses a name that is not a trainable parameter
    await expect(runTraining({
      runDir: temp.make(), model, train: TRAIN, frozen: ['visual.nope'], makeBatch: () => 0, disposeBatch: () => {}, loss: () => { throw new Error('not reached'); }, meta: {},
    })).rejects.toThrow("frozen: 'visual.nope' is not a trainable parameter of the model");
    model.dispose();
  });
});
