import * as path from 'path';
import { tf } from '@mmzoo/core';
import { AdamW, StageConfig, stageParameterNames, trainStep } from '@mmzoo/train';
import { loadExperiment } from '../../packages/cli/src/experiment';
import { useBackend } from '../helpers/fixtures';
import { syntheticImageTextBatch } from '../helpers/batches';
import { fitTokenizer, tinyBeit3 } from './fixture';

const ROOT = path.join(__dirname, '..', '..');

const tiny = tinyBeit3;

const batch = (index: number, b = 4) => syntheticImageTextBatch(index, b, { draw: 12, seed: 9 });

describe('BEiT-3 stages: masked data modeling, then retrieval fine-tuning', () => {
  beforeAll(() => useBackend('cpu'));

  test('a stage runs only its objectives, with the same masks as the joint objective', () => {
    const model = tiny();
    const b = batch(3);
    fitTokenizer(model, b.image);
    const parts = (stage?: { objectives: string[]; data: 'pairs' | 'texts' }) =>
      tf.tidy(() => Object.fromEntries(Object.entries(model.trainingLoss(b, stage).parts).map(([k, v]) => [k, v.dataSync()[0]])));
    const joint = parts();
    expect(Object.keys(joint).sort()).toEqual(['itc', 'mim', 'mlm', 'vlm']);
    expect(parts({ objectives: ['mim', 'mlm', 'vlm'], data: 'pairs' })).toEqual({ mim: joint.mim, mlm: joint.mlm, vlm: joint.vlm });
    expect(parts({ objectives: ['itc'], data: 'pairs' })).toEqual({ itc: joint.itc });
    expect(parts({ objectives: ['mlm'], data: 'texts' })).toEqual({ mlm: joint.mlm });
    expect(() => model.trainingLoss(b, { objectives: ['itc'], data: 'texts' })).toThrow("BEiT3: objective 'itc' cannot run on texts data");
    expect(() => model.trainingLoss(b, { objectives: ['mdm'], data: 'pairs' })).toThrow("BEiT3: no objective 'mdm' (available: mim, mlm, vlm, itc)");
    tf.dispose([b.image, b.text]);
    model.dispose();
  });

  test('the tiny config\'s stages: the retrieval stage leaves the MDM heads and the mask token untouched', () => {
    const cfg = loadExperiment(path.join(ROOT, 'configs/beit3/fmnist-scenes-tiny.yaml')).config;
    expect(cfg.stages!.map((s: StageConfig) => [s.name, s.objectives.join('+'), s.data])).toEqual([['mdm', 'mim+mlm+vlm', 'pairs'], ['retrieval', 'itc', 'pairs']]);
    const model = tiny();
    const b = batch(0);
    const all = model.trainableParameters();
    const names = stageParameterNames([...all.keys()], cfg.stages![1], ['stages', 1]);
    const opt = new AdamW(new Map(names.map((n) => [n, all.get(n)!])), { weightDecay: 0.1 });
    const before = new Map([...all].map(([n, v]) => [n, Array.from(v.dataSync())]));
    trainStep(model, opt, [b], (x) => model.trainingLoss(x, cfg.stages![1]), 1e-2);
    const changed = [...all].filter(([n, v]) => JSON.stringify(Array.from(v.dataSync())) !== JSON.stringify(before.get(n))).map(([n]) => n);
    expect(changed.sort()).toEqual(names.slice().sort());
    expect([...all.keys()].filter((n) => !names.includes(n)).sort()).toEqual(['mim_head.bias', 'mim_head.weight', 'mlm_head.bias', 'mlm_head.weight', 'vision_embed.mask_token']);
    opt.dispose();
    tf.dispose([b.image, b.text]);
    model.dispose();
  });
});
