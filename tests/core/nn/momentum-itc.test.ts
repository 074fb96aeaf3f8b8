import { tf, Module, VitConfigSchema, buildItcTowers, manualSeed, momentumItcOptions, timmVisionTransformer } from '@mmzoo/core';
import { useBackend } from '../../helpers/fixtures';

// Issue 15: the ITC + ITM skeleton ALBEF and BLIP share (core MomentumItcModel); tests/albef and tests/blip check it
// against their references, these the builders around it.
const VISION = VitConfigSchema.parse({ imageSize: 8, patchSize: 4, channels: 1, width: 8, layers: 1, numHeads: 2 });

class Probe extends Module {
  readonly w = this.param('w', { shape: [3], dtype: 'float32', create: () => tf.randomNormal([3], 0, 1, 'float32', 1) });
}

describe('nn/momentum-itc builders', () => {
  beforeAll(() => useBackend('cpu'));

  test("timmVisionTransformer: ALBEF's and BLIP's ViT (patch bias, no ln_pre, ln_post, the section's epsilon, no projection)", () => {
    const vit = timmVisionTransformer(VISION);
    const names = [...vit.namedParameters().keys()];
    expect(names).toContain('conv1.bias');
    expect(names).toContain('ln_post.weight');
    expect(names.some((n) => n.startsWith('ln_pre.'))).toBe(false);
    expect(vit.proj).toBeUndefined();
    expect([vit.opts.lnEps, vit.opts.activation, vit.opts.mlpWidth]).toEqual([1e-6, 'gelu', 32]);
    vit.dispose();
  });

  test('buildItcTowers: the image tower first, then the text tower, then the projections (the seeds in that order)', () => {
    manualSeed(9);
    const alone = timmVisionTransformer(VISION);
    manualSeed(9);
    const order: string[] = [];
    const towers = buildItcTowers(VISION, 6, 5, () => {
      order.push('text');
      return new Probe();
    });
    expect(order).toEqual(['text']);
    for (const [name, v] of alone.namedParameters()) {
      expect([name, Array.from(towers.visual.namedParameters().get(name)!.dataSync())]).toEqual([name, Array.from(v.dataSync())]);
    }
    expect([towers.visionProj.weight.shape, towers.textProj.weight.shape]).toEqual([[6, 8], [6, 5]]);
    alone.dispose();
    for (const m of [towers.visual, towers.text, towers.visionProj, towers.textProj]) m.dispose();
  });

  test('momentumItcOptions: the skeleton options of a config, with the padding id', () => {
    const cfg = {
      embedDim: 4, queueSize: 8, momentum: 0.9, temp: 0.07, learnableTemp: false, tempClamp: [0.001, 0.5] as [number, number], alpha: 0.4,
      alphaRampSteps: 3, hardNegativeEps: 0.01, itmRerankK: 16, mlmProbability: 0.15,
    };
    expect(momentumItcOptions(cfg, 1)).toEqual({
      embedDim: 4, queueSize: 8, momentum: 0.9, temp: 0.07, learnableTemp: false, tempClamp: [0.001, 0.5], alpha: 0.4, alphaRampSteps: 3,
      hardNegativeEps: 0.01, padId: 1,
    });
  });
});
