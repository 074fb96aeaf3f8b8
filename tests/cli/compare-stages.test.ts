import * as path from 'path';
import { StageConfig } from '@mmzoo/train';
import { overridesFor } from '../../packages/cli/src/commands/compare';
import { CompareSchema } from '../../packages/cli/src/compare/schema';
import { loadExperiment } from '../../packages/cli/src/experiment';

const ROOT = path.join(__dirname, '..', '..');

describe('mmzoo compare with a stagewise config', () => {
  test('a samples budget is split over the stages by their share of the samples; the overrides validate', () => {
    const file = path.join(ROOT, 'configs/beit3/fmnist-scenes-tiny.yaml');
    const cfg = { seed: 0, overrides: {}, budget: { samples: 512 } } as Parameters<typeof overridesFor>[0];
    const sets = overridesFor(cfg, file);
    const stages = loadExperiment(file).config.stages as StageConfig[];
    // both stages use batch 64: each keeps steps_i / sum(steps) of 512 / 64 = 8 steps
    const total = stages.reduce((a, s) => a + s.steps, 0);
    const steps = stages.map((s) => Math.max(1, Math.round((512 / 64) * (s.steps / total))));
    expect(sets).toEqual(expect.arrayContaining([...steps.map((n, i) => `stages.${i}.steps=${n}`), `train.steps=${steps[0] + steps[1]}`]));
    const loaded = loadExperiment(file, sets);
    expect(loaded.config.stages!.map((s) => s.steps)).toEqual(steps);
    expect(loaded.config.train.steps).toBe(steps[0] + steps[1]);
  });
});

describe('mmzoo compare with a model entry of its own overrides (issue 17: the blank-image baselines)', () => {
  test("a model's own overrides come after the shared ones and win; the entry validates; its config differs only there", () => {
    const file = path.join(ROOT, 'configs/blip2/instructblip-scenes-tiny.yaml');
    const cfg = CompareSchema.parse({
      models: [{ config: file, name: 'blank', overrides: { 'data.instructions.blankImages': true, 'train.lr': 0.5 } }],
      budget: { samples: 64 }, overrides: { 'train.lr': 0.25 },
    });
    const entry = cfg.models[0];
    if (typeof entry === 'string') throw new Error('expected an entry');
    const sets = overridesFor(cfg, file, entry.overrides);
    expect(sets.slice(0, 3)).toEqual(['train.seed=0', 'train.lr=0.5', 'data.instructions.blankImages=true']);
    const blank = loadExperiment(file, sets).config;
    const seen = loadExperiment(file, overridesFor(cfg, file)).config;
    expect(blank.data.instructions?.blankImages).toBe(true);
    expect(blank.train.lr).toBe(0.5);
    expect(seen.data.instructions?.blankImages).toBe(false);
    expect(seen.train.lr).toBe(0.25);
    expect(() => CompareSchema.parse({ models: [{ config: file, set: {} }], budget: { samples: 1 } })).toThrow(/set/);
  });
});
