import { readFileSync } from 'fs';
import * as path from 'path';
import {
  Linear, Module, ParamPlaceholder, Variable, isShapeOnlyMode, isShapeOnlyParam, manualSeed, normal, normalInit,
  scalarInit, tensorInit, tf, withShapesOnly, zerosInit, componentCounts,
} from '@mmzoo/core';
import { initBackend } from '@mmzoo/train';
import { buildClip, ClipConfigInput } from '@mmzoo/clip';
import { loadExperiment } from '../../../packages/cli/src/experiment';
import { listConfigFiles } from '../../../packages/cli/src/commands/configs';
import { countParameters } from '../../../packages/cli/src/commands/info';

// Issue 15, "paper-size presets without allocating": a build inside withShapesOnly registers every parameter as a
// placeholder (name, shape, dtype, trainable), so parameter counts of any size cost no weight memory.

const ROOT = path.join(__dirname, '..', '..', '..');
const FACTS = { vocabSize: 97, eotId: 3, padId: 0 };
/** what the tokenizers give a builder: the same facts for the text tokenizer and, for the bridges, the lm one */
const CTX = { ...FACTS, tokenizers: { text: FACTS, lm: FACTS } };

/** name -> [shape, dtype, trainable] of every parameter */
function layout(m: Module): Record<string, [number[], string, boolean]> {
  const out: Record<string, [number[], string, boolean]> = {};
  for (const [n, v] of m.namedParameters()) out[n] = [[...v.shape], v.dtype, v.trainable];
  return out;
}

/** the shipped configs to train (with `train:`), not the paper-size presets: cheap to build for real */
function tinyConfigs(): string[] {
  return listConfigFiles(path.join(ROOT, 'configs')).filter((f) => {
    const text = readFileSync(f, 'utf8');
    return /^model:/m.test(text) && /^train:/m.test(text);
  });
}

/** CLIP's trainable parameters in closed form (open_clip layout: conv1 without bias, fused qkv, 4x MLP, projections) */
function clipCount(c: { embedDim: number; vision: { imageSize: number; patchSize: number; channels: number; width: number; layers: number }; text: { contextLength: number; vocabSize: number; width: number; layers: number } }): number {
  const block = (w: number) => 12 * w * w + 13 * w;
  const v = c.vision;
  const g = v.imageSize / v.patchSize;
  const vision = v.width * v.channels * v.patchSize ** 2 + v.width + (1 + g * g) * v.width + 2 * v.width + v.layers * block(v.width) + 2 * v.width + v.width * c.embedDim;
  const t = c.text;
  const text = t.vocabSize * t.width + t.contextLength * t.width + t.layers * block(t.width) + 2 * t.width + t.width * c.embedDim;
  return vision + text + 1;
}

beforeAll(async () => {
  await initBackend('cpu');
});

describe('withShapesOnly', () => {
  test.each(tinyConfigs().map((f) => [path.relative(ROOT, f)]))('%s: same names, shapes, dtypes, trainable flags and counts as the real build, no tensor made', (rel) => {
    const loaded = loadExperiment(path.join(ROOT, rel), [], { modelOnly: true });
    manualSeed(0);
    const real = loaded.spec.build(loaded.config.model, CTX);
    try {
      const before = tf.memory();
      const shapes = withShapesOnly(() => loaded.spec.build(loaded.config.model, CTX));
      expect(tf.memory().numTensors).toBe(before.numTensors);
      expect(tf.memory().numBytes).toBe(before.numBytes);
      expect([...shapes.namedParameters().values()].every((v) => isShapeOnlyParam(v))).toBe(true);
      expect(layout(shapes)).toEqual(layout(real));
      expect(shapes.numParams()).toBe(real.numParams());
      const components = loaded.spec.components(loaded.config.model);
      expect(componentCounts(shapes, components)).toEqual(componentCounts(real, components));
      shapes.dispose();
      expect(tf.memory().numTensors).toBe(before.numTensors);
    } finally {
      real.dispose();
    }
  });

  test('a paper-size preset counts through the CLI path without a tensor (ViT-B/32: 151,277,313)', () => {
    const loaded = loadExperiment(path.join(ROOT, 'configs/clip/vit-b-32.yaml'), [], { modelOnly: true });
    const n = tf.memory().numTensors;
    const { total, towers } = countParameters(loaded);
    expect(total).toBe(151_277_313);
    expect(towers.vision).toBe(87_849_216);
    expect(tf.memory().numTensors).toBe(n);
  });

  test('a ~7B CLIP (width 4096, 16 + 16 layers) counts without allocating, matching the closed form', () => {
    const cfg = {
      name: 'clip' as const, embedDim: 4096,
      vision: { imageSize: 224, patchSize: 14, channels: 3, width: 4096, layers: 16, numHeads: 32 },
      text: { contextLength: 77, vocabSize: 49408, width: 4096, layers: 16, numHeads: 32 },
    };
    const n = tf.memory().numTensors;
    const bytes = tf.memory().numBytes;
    const model = withShapesOnly(() => buildClip(cfg as ClipConfigInput));
    expect(model.numParams()).toBe(clipCount(cfg));
    expect(model.numParams()).toBeGreaterThan(6.5e9);
    expect(model.namedParameters().get('visual.transformer.resblocks.15.mlp.c_fc.weight')!.shape).toEqual([16384, 4096]);
    expect(tf.memory().numTensors).toBe(n);
    expect(tf.memory().numBytes).toBe(bytes);
  }, 10000);

  test('the closed form is right: it matches a real tiny CLIP', () => {
    const cfg = {
      name: 'clip' as const, embedDim: 8,
      vision: { imageSize: 28, patchSize: 7, channels: 1, width: 16, layers: 2, numHeads: 2 },
      text: { contextLength: 8, vocabSize: 30, width: 12, layers: 1, numHeads: 2 },
    };
    manualSeed(0);
    const model = buildClip(cfg as ClipConfigInput, { eotId: 3 });
    expect(model.numParams()).toBe(clipCount(cfg));
    model.dispose();
  });

  test('draws no seed: the builds after a shape-only build get the same weights as without it', () => {
    manualSeed(5);
    const a = normal([4], 1).dataSync();
    manualSeed(5);
    withShapesOnly(() => new Linear(64, 64));
    const b = normal([4], 1).dataSync();
    expect(Array.from(b)).toEqual(Array.from(a));
  });

  test('is scoped: it ends when the build returns or throws, and nests', () => {
    expect(isShapeOnlyMode()).toBe(false);
    withShapesOnly(() => {
      withShapesOnly(() => expect(isShapeOnlyMode()).toBe(true));
      expect(isShapeOnlyMode()).toBe(true);
    });
    expect(() => withShapesOnly(() => { throw new Error('boom'); })).toThrow('boom');
    expect(isShapeOnlyMode()).toBe(false);
    const real = new Linear(2, 3);
    expect(isShapeOnlyParam(real.weight)).toBe(false);
    real.dispose();
  });

  test('a placeholder has shape, dtype, size and trainability; reading or assigning it throws a clear error', () => {
    class Buffers extends Module {
      readonly w: Variable;
      readonly ids: Variable;
      readonly t: Variable;
      constructor() {
        super();
        this.w = this.param('w', normalInit([3, 5], 0.02));
        this.ids = this.param('ids', zerosInit([1, 7], 'int32'), false);
        this.t = this.param('t', scalarInit(0.07));
      }
    }
    const m = withShapesOnly(() => new Buffers());
    const w = m.w as unknown as ParamPlaceholder;
    expect(w).toBeInstanceOf(ParamPlaceholder);
    expect([w.shape, w.dtype, w.size, w.trainable]).toEqual([[3, 5], 'float32', 15, true]);
    expect([m.ids.dtype, m.ids.size, m.ids.trainable]).toEqual(['int32', 7, false]);
    expect([m.t.shape, m.t.size]).toEqual([[], 1]);
    expect(m.numParams()).toBe(16);
    expect(() => m.w.dataSync()).toThrow("parameter 'w' [3,5] was built shape-only (withShapesOnly) and holds no values");
    expect(() => m.w.assign(tf.zeros([3, 5]))).toThrow(/holds no values/);
  });

  test('a real build checks that an initialiser makes what it declares', () => {
    class Bad extends Module {
      constructor() {
        super();
        this.param('x', tensorInit([2, 2], () => tf.zeros([3])));
      }
    }
    const n = tf.memory().numTensors;
    expect(() => new Bad()).toThrow('parameter initialiser declared float32 [2,2] but made float32 [3]');
    expect(tf.memory().numTensors).toBe(n);
  });
});
