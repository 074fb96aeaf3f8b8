import { tf, VisionTransformer, TextTransformer, manualSeed } from '@mmzoo/core';
import { useBackend } from '../../helpers/fixtures';
import { seededUniform, tensorOf } from '../../helpers/finite-diff';

// DESIGN.md: "a training loop must keep tf.memory().numTensors flat". The wasm backend is where training runs
// through core's custom gradients (matmul, softmax, embedding), so that is where leaks would show.

const STEPS = 5;
const rand = seededUniform(31);

describe('no tensor leaks on wasm', () => {
  beforeAll(() => useBackend('wasm'));

  test('VisionTransformer: forward + backward with tf.variableGrads, then dispose, keeps numTensors flat', () => {
    manualSeed(0);
    const vit = new VisionTransformer({ imageSize: [8, 12], patchSize: 4, channels: 1, width: 16, layers: 2, numHeads: 2, outputDim: 8 });
    const images = tensorOf(rand(2 * 8 * 12), [2, 1, 8, 12]);
    const params = [...vit.trainableParameters().values()];
    const counts: number[] = [];
    for (let i = 0; i < STEPS; i++) {
      const { value, grads } = tf.variableGrads(() => vit.apply(images).pooled.square().mean() as tf.Scalar, params);
      expect(Object.keys(grads)).toHaveLength(params.length);
      tf.dispose(value);
      tf.dispose(grads);
      counts.push(tf.memory().numTensors);
    }
    expect(counts).toEqual(new Array(STEPS).fill(counts[0]));
    images.dispose();
    const before = tf.memory().numTensors;
    vit.dispose();
    expect(tf.memory().numTensors).toBe(before - params.length);
  });

  test('VisionTransformer + TextTransformer with an Adam step: flat after the first step creates the moments', () => {
    manualSeed(1);
    const vit = new VisionTransformer({ imageSize: 8, patchSize: 4, channels: 1, width: 16, layers: 1, numHeads: 2, outputDim: 8 });
    const text = new TextTransformer({ vocabSize: 30, contextLength: 5, width: 16, layers: 1, numHeads: 2, pool: 'eot', eotId: 2, outputDim: 8 });
    const images = tensorOf(rand(2 * 64), [2, 1, 8, 8]);
    const ids = tf.tensor2d([[5, 9, 2, 0, 0], [7, 2, 0, 0, 0]], undefined, 'int32');
    const vars = [...vit.trainableParameters().values(), ...text.trainableParameters().values()];
    const opt = tf.train.adam(1e-3);
    const loss = () => vit.apply(images).pooled.sub(text.apply(ids).pooled).square().mean() as tf.Scalar;
    const counts: number[] = [];
    for (let i = 0; i < STEPS; i++) {
      tf.dispose(opt.minimize(loss, true, vars) ?? []);
      counts.push(tf.memory().numTensors);
    }
    expect(counts.slice(1)).toEqual(new Array(STEPS - 1).fill(counts[1]));
    opt.dispose();
    tf.dispose([images, ids]);
    vit.dispose();
    text.dispose();
  });
});
