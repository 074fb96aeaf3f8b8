import { Blip2ConfigSchema } from '@mmzoo/blip2';

// The `model:` section of a BLIP-2 config: the paper's defaults, and bad values named by their path.
const VISION = { imageSize: 28, patchSize: 7, channels: 1, width: 16, layers: 2, numHeads: 2 };
const QFORMER = { contextLength: 16 };

test('defaults are the paper\'s and LAVIS\'s', () => {
  const cfg = Blip2ConfigSchema.parse({ name: 'blip2', vision: VISION, qformer: QFORMER });
  expect([cfg.embedDim, cfg.temp, cfg.tempClamp, cfg.labelSmoothing, cfg.hardNegativeEps, cfg.lnVisionEps]).toEqual([256, 0.07, [0.001, 0.5], 0.1, 1e-4, 1e-5]);
  expect([cfg.vision.featureLayer, cfg.vision.finalNorm, cfg.vision.attnBias]).toEqual([-2, false, 'qv']);
  const q = cfg.qformer;
  expect([q.numQueries, q.crossAttentionFreq, q.width, q.layers, q.numHeads, q.mlpRatio, q.lnEps, q.lmHead]).toEqual([32, 2, 768, 12, 12, 4, 1e-12, 'tied']);
});

test('bad values name their key', () => {
  const issues = (model: unknown) => {
    const r = Blip2ConfigSchema.safeParse(model);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };
  expect(issues({ name: 'blip2', vision: { ...VISION, featureLayer: -3 }, qformer: QFORMER })).toEqual(['vision.featureLayer: featureLayer names no block of the ViT (valid: -layers..layers-1)']);
  expect(issues({ name: 'blip2', vision: VISION, qformer: { ...QFORMER, maxPositions: 8 } })).toEqual(['qformer.maxPositions: maxPositions must be at least contextLength']);
  expect(issues({ name: 'blip2', vision: VISION, qformer: { ...QFORMER, width: 50, numHeads: 12 } })).toEqual(['qformer.numHeads: width must be divisible by numHeads']);
  expect(issues({ name: 'blip2', vision: { ...VISION, attnBias: 'k' }, qformer: QFORMER })[0]).toMatch(/^vision\.attnBias: /);
  expect(issues({ name: 'blip2', vision: VISION, qformer: { ...QFORMER, queries: 4 } })[0]).toMatch(/^qformer: Unrecognized key/);
});
