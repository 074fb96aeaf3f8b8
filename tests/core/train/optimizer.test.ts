import { tf, Tensor } from '@mmzoo/core';
import { AdamW, adamwUpdate, clipGradNorm, cosineLr, defaultDecayFilter, trainStep } from '@mmzoo/train';
import { buildClip } from '@mmzoo/clip';
import { useBackend } from '../../helpers/fixtures';

beforeAll(() => useBackend('cpu'));

describe('AdamW (decoupled weight decay)', () => {
  test('one update equals the hand-computed torch.optim.AdamW step', () => {
    // p=1, g=0.5, lr=0.1, betas (0.9, 0.999), eps 1e-8, wd 0.1, t=1:
    // p <- 1 * (1 - 0.1*0.1) = 0.99; m = 0.05; v = 0.00025; mhat = 0.5; vhat = 0.25
    // p <- 0.99 - 0.1 * 0.5 / (0.5 + 1e-8) = 0.89
    const p = tf.variable(tf.tensor1d([1]));
    const m = tf.variable(tf.zeros([1]));
    const v = tf.variable(tf.zeros([1]));
    adamwUpdate(p, tf.tensor1d([0.5]), m, v, 1, 0.1, 0.9, 0.999, 1e-8, 0.1);
    expect(p.dataSync()[0]).toBeCloseTo(0.89, 6);
    expect(m.dataSync()[0]).toBeCloseTo(0.05, 7);
    expect(v.dataSync()[0]).toBeCloseTo(0.00025, 9);
    // second step, g = -0.5: m = 0.045 - 0.05 = -0.005; v = 0.00024975 + 0.00025 = 0.00049975
    // mhat = -0.005 / 0.19 ; vhat = 0.00049975 / 0.001999 ; p = 0.89 * 0.99 - 0.1 * mhat / (sqrt(vhat) + 1e-8)
    adamwUpdate(p, tf.tensor1d([-0.5]), m, v, 2, 0.1, 0.9, 0.999, 1e-8, 0.1);
    const mhat = -0.005 / (1 - 0.9 ** 2);
    const vhat = 0.00049975 / (1 - 0.999 ** 2);
    expect(p.dataSync()[0]).toBeCloseTo(0.89 * 0.99 - (0.1 * mhat) / (Math.sqrt(vhat) + 1e-8), 5);
  });

  test('no weight decay on biases, norms, embeddings and the logit scale', () => {
    const model = buildClip({
      name: 'clip', embedDim: 8,
      vision: { imageSize: 8, patchSize: 4, channels: 1, width: 8, layers: 1, numHeads: 2 },
      text: { contextLength: 4, vocabSize: 10, width: 8, layers: 1, numHeads: 2, pool: 'argmax' },
    });
    const opt = new AdamW(model.trainableParameters(), { weightDecay: 0.1 });
    expect(opt.decayedNames().sort()).toEqual([
      'text_projection',
      'transformer.resblocks.0.attn.in_proj_weight',
      'transformer.resblocks.0.attn.out_proj.weight',
      'transformer.resblocks.0.mlp.c_fc.weight',
      'transformer.resblocks.0.mlp.c_proj.weight',
      'visual.conv1.weight',
      'visual.proj',
      'visual.transformer.resblocks.0.attn.in_proj_weight',
      'visual.transformer.resblocks.0.attn.out_proj.weight',
      'visual.transformer.resblocks.0.mlp.c_fc.weight',
      'visual.transformer.resblocks.0.mlp.c_proj.weight',
    ]);
    expect(defaultDecayFilter('token_embedding.weight', model.trainableParameters().get('token_embedding.weight')!)).toBe(false);
    opt.dispose();
    model.dispose();
  });

  test('creating and disposing an optimizer leaves no tensors behind (it used to leak two per parameter)', () => {
    const p = tf.variable(tf.ones([3]));
    const q = tf.variable(tf.ones([2, 2]));
    const before = tf.memory().numTensors;
    const opt = new AdamW(new Map([['p', p], ['q', q]]));
    expect(tf.memory().numTensors).toBe(before + 4);
    expect(Array.from(opt.m.get('q')!.dataSync())).toEqual([0, 0, 0, 0]);
    opt.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([p, q]);
  });
});

describe('learning-rate schedule', () => {
  test('linear warmup then cosine to minLr', () => {
    expect(cosineLr(0, 1, 110, 10)).toBeCloseTo(0.1, 12);
    expect(cosineLr(9, 1, 110, 10)).toBeCloseTo(1, 12);
    expect(cosineLr(10, 1, 110, 10)).toBeCloseTo(1, 12);
    expect(cosineLr(60, 1, 110, 10)).toBeCloseTo(0.5, 12); // half way: (1 + cos(pi/2)) / 2
    expect(cosineLr(110, 1, 110, 10, 0.1)).toBeCloseTo(0.1, 12);
    expect(cosineLr(35, 1, 110, 10, 0.2)).toBeCloseTo(0.2 + 0.4 * (1 + Math.cos(Math.PI / 4)), 12);
  });
});

describe('gradient clipping and accumulation', () => {
  test('clipGradNorm scales to the global norm', () => {
    const grads = new Map<string, Tensor>([['a', tf.tensor1d([3, 0])], ['b', tf.tensor1d([4])]]);
    const { grads: clipped, norm } = clipGradNorm(grads, 1);
    expect(norm).toBeCloseTo(5, 6);
    expect(Array.from(clipped.get('a')!.dataSync())).toEqual([expect.closeTo(0.6, 5), 0]);
    expect(clipped.get('b')!.dataSync()[0]).toBeCloseTo(0.8, 5);
    const { grads: kept } = clipGradNorm(grads, 10);
    expect(kept.get('b')!.dataSync()[0]).toBe(4);
  });

  test('accumulating two micro-batches equals one step on their mean gradient', () => {
    // loss(w; x) = (w - x)^2, micro-batches x = 1 and x = 3: mean gradient at w = 0 is mean(-2, -6) = -4
    const make = () => {
      const w = tf.variable(tf.scalar(0));
      const model = { trainableParameters: () => new Map([['w', w]]) };
      return { w, model, opt: new AdamW(model.trainableParameters(), { weightDecay: 0, betas: [0, 0], eps: 0 }) };
    };
    const loss = (w: tf.Variable) => (x: number) => ({ total: w.sub(x).square().sum(), parts: {} });
    const a = make();
    const r = trainStep(a.model, a.opt, [1, 3], loss(a.w), 0.5);
    expect(r.loss).toBeCloseTo((1 + 9) / 2, 6);
    expect(r.gradNorm).toBeCloseTo(4, 6);
    // betas 0: the step is lr * g / |g| = 0.5 * sign(-4) -> w = 0.5
    expect(a.w.dataSync()[0]).toBeCloseTo(0.5, 6);
  });
});
