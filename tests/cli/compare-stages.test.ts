import * as path from 'path';
import { StageConfig } from '@mmzoo/train';
import { overridesFor } from '../../packages/cli/src/commands/compare';
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
