import {
  tf, Tensor, Tensor4D, Variable, layerNorm, gelu, quickGelu, scaledDotProductAttention, causalMask, keyPaddingMask,
  FUSED_KERNELS, manualSeed, loadStateDict,
} from '@mmzoo/core';
import { AdamW, trainStep } from '@mmzoo/train';
import { buildClip, CLIP } from '@mmzoo/clip';
import { readCase, readWeights } from '../helpers/fixtures';
import { describeNative, expectSame, onBoth, randT, SKIP_NOTE, switchTo } from './helpers';

// core's fused ops on the native backend (one kernel each, own gradient) against the composed tfjs ops on the cpu
// backend: values and gradients, then AdamW and whole training steps.

const G = { rtol: 1e-4, atol: 1e-5 };

describeNative(`fused ops on native match the composed ops on cpu${SKIP_NOTE}`, () => {
  afterAll(() => tf.setBackend('cpu'));

  test('the native backend registers every fused kernel core knows', async () => {
    require('@mmzoo/backend-native');
    for (const name of Object.values(FUSED_KERNELS)) expect(tf.getKernel(name, 'native')).toBeDefined();
    for (const name of Object.values(FUSED_KERNELS)) expect(tf.getKernel(name, 'cpu')).toBeUndefined();
  });

  test('layerNorm: values and gradients (x, weight, bias), odd widths and constant rows', async () => {
    for (const [shape, eps] of [[[3, 7, 33], 1e-5], [[5, 128], 1e-12], [[2, 1], 1e-6]] as [number[], number][]) {
      const D = shape[shape.length - 1];
      const R = () => randT(33, shape);
      const f = (x: Tensor, w: Tensor, b: Tensor) => layerNorm(x, w, b, eps).mul(R()).sum();
      expectSame(await onBoth(() => layerNorm(randT(30, shape, -3, 3), randT(31, [D], 0.5, 1.5), randT(32, [D]), eps)), `ln ${shape}`, G);
      expectSame(await onBoth(() => tf.grads(f)([randT(30, shape, -3, 3), randT(31, [D], 0.5, 1.5), randT(32, [D])])), `ln grads ${shape}`, G);
    }
    expectSame(await onBoth(() => layerNorm(tf.fill([2, 3], 7), tf.ones([3]), tf.tensor1d([0.1, 0.2, 0.3]), 1e-5)), 'ln constant', G);
  });

  test('gelu and quickGelu: values (with NaN and +-Inf) and gradients', async () => {
    for (const act of [gelu, quickGelu]) {
      expectSame(await onBoth(() => act(randT(34, [17, 129], -8, 8))), `${act.name}`, { rtol: 1e-5, atol: 5e-7 });
      expectSame(await onBoth(() => act(tf.tensor([NaN, Infinity, -Infinity, 0, 1e-3, -30, 30]))), `${act.name} special`, { rtol: 1e-5, atol: 5e-7 });
      const R = () => randT(35, [17, 129]);
      expectSame(await onBoth(() => tf.grad((x: Tensor) => act(x).mul(R()).sum())(randT(34, [17, 129], -8, 8))), `${act.name} grad`, G);
    }
  });

  test('attention: plain, causal -Infinity, padding with fully masked rows, finite -10000, bias with gradient', async () => {
    const [B, H, Nq, Nk, d] = [2, 3, 5, 6, 4];
    const q = () => randT(36, [B, H, Nq, d], -2, 2) as Tensor4D;
    const k = () => randT(37, [B, H, Nk, d], -2, 2) as Tensor4D;
    const v = () => randT(38, [B, H, Nk, d + 1]) as Tensor4D;
    const R = () => randT(39, [B, H, Nq, d + 1]);
    const valid = () => tf.tensor2d([[1, 1, 0, 1, 0, 0], [0, 0, 0, 0, 0, 0]]); // the second item has no key at all
    const masks: [string, () => Tensor | undefined][] = [
      ['none', () => undefined],
      ['causal', () => causalMask(6).slice([0, 0], [Nq, Nk])],
      ['padding -inf', () => keyPaddingMask(valid())],
      ['padding -10000', () => keyPaddingMask(valid(), -10000)],
      ['full [B,H,Nq,Nk]', () => randT(40, [B, H, Nq, Nk], -3, 0)],
    ];
    for (const [name, mask] of masks) {
      const f = (qs: Tensor, ks: Tensor, vs: Tensor) => scaledDotProductAttention(qs as Tensor4D, ks as Tensor4D, vs as Tensor4D, mask(), 0.7).mul(R()).sum();
      expectSame(await onBoth(() => scaledDotProductAttention(q(), k(), v(), mask())), `attention ${name}`, G);
      expectSame(await onBoth(() => tf.grads(f)([q(), k(), v()])), `attention grads ${name}`, G);
    }
    for (const biasShape of [[1, H, Nq, Nk], [H, Nq, Nk], [B, 1, Nq, Nk]]) {
      const f = (qs: Tensor, ks: Tensor, vs: Tensor, bias: Tensor) =>
        scaledDotProductAttention(qs as Tensor4D, ks as Tensor4D, vs as Tensor4D, causalMask(6).slice([0, 0], [Nq, Nk]), undefined, bias).mul(R()).sum();
      expectSame(await onBoth(() => tf.grads(f)([q(), k(), v(), randT(41, biasShape)])), `attention bias ${biasShape}`, G);
    }
  });

  test('on native the fused kernels run (and on cpu they do not)', async () => {
    const names = async (backend: 'cpu' | 'native') => {
      if (backend === 'native') require('@mmzoo/backend-native');
      await tf.setBackend(backend);
      const x = randT(42, [2, 4, 8]);
      const info = await tf.profile(() => tf.grad((t: Tensor) => quickGelu(layerNorm(t, tf.ones([8]), tf.zeros([8]), 1e-5)).sum())(x));
      tf.dispose([x, info.result as Tensor]);
      return new Set(info.kernels.map((kk) => kk.name));
    };
    const native = await names('native');
    for (const k of [FUSED_KERNELS.layerNorm, FUSED_KERNELS.layerNormGrad, FUSED_KERNELS.activation, FUSED_KERNELS.activationGrad]) expect(native.has(k)).toBe(true);
    const cpu = await names('cpu');
    for (const k of Object.values(FUSED_KERNELS)) expect(cpu.has(k)).toBe(false);
  });

  test('AdamW as one fused kernel equals the per-parameter update over several steps, without leaks', async () => {
    const shapes = [[4, 3], [7], [2, 2, 5], []];
    const run = async (backend: 'cpu' | 'native') => {
      await switchTo(backend);
      const params = new Map<string, Variable>(shapes.map((s, i) => [i === 1 ? `ln.${i}.weight` : `w${i}`, tf.variable(randT(50 + i, s))]));
      const opt = new AdamW(params, { betas: [0.9, 0.98], eps: 1e-6, weightDecay: 0.1 });
      const before = tf.memory().numTensors;
      for (let step = 0; step < 4; step++) {
        const grads = new Map([...params].map(([n, p], i) => [n, randT(60 + 10 * step + i, p.shape)]));
        opt.apply(grads, 1e-2 * (step + 1));
        tf.dispose([...grads.values()]);
      }
      expect(tf.memory().numTensors).toBe(before);
      const out = [...params.values(), ...opt.m.values(), ...opt.v.values()].map((t) => Array.from(t.dataSync()));
      opt.dispose();
      tf.dispose([...params.values()]);
      return out;
    };
    const cpu = await run('cpu');
    const native = await run('native');
    cpu.forEach((c, i) => c.forEach((x, j) => expect(Math.abs(native[i][j] - x)).toBeLessThanOrEqual(1e-6 + 1e-5 * Math.abs(x))));
  });

  test('missing gradients throw before anything is updated', async () => {
    await switchTo('native');
    const p = tf.variable(tf.ones([2]));
    const opt = new AdamW(new Map([['a', p]]));
    expect(() => opt.apply(new Map(), 0.1)).toThrow("AdamW: no gradient for parameter 'a'");
    expect(Array.from(p.dataSync())).toEqual([1, 1]);
    opt.dispose();
    p.dispose();
  });
});

describeNative(`training on native equals training on cpu${SKIP_NOTE}`, () => {
  const golden = readCase('clip-tiny');
  const weights = readWeights('clip-tiny');
  const c = golden.config;
  const build = (): CLIP => {
    const model = buildClip({
      name: 'clip', embedDim: c.embed_dim, activation: 'quick_gelu',
      vision: { imageSize: c.vision.image_size, patchSize: c.vision.patch_size, channels: 3, width: c.vision.width, layers: c.vision.layers, numHeads: c.vision.heads },
      text: { contextLength: c.text.context_length, vocabSize: c.text.vocab_size, width: c.text.width, layers: c.text.layers, numHeads: c.text.heads, pool: 'argmax', eotId: c.text.end_id },
    });
    loadStateDict(model.namedParameters(), weights);
    return model;
  };
  afterAll(() => tf.setBackend('cpu'));

  test('five AdamW steps of clip-tiny: losses within 1e-5 of cpu, numTensors flat', async () => {
    const train = async (backend: 'cpu' | 'native') => {
      await switchTo(backend);
      manualSeed(0);
      const model = build();
      const opt = new AdamW(model.trainableParameters(), { betas: [0.9, 0.98], eps: 1e-6, weightDecay: 0.2 });
      // two image-text pairs (the fixture's square case): the symmetric loss needs as many texts as images
      const images = tf.tidy(() => tf.tensor(golden.inputs.images).slice([0, 0, 0, 0], [2, -1, -1, -1]));
      const ids = tf.tidy(() => tf.tensor(golden.inputs.text, undefined, 'int32').slice([0, 0], [2, -1]));
      const losses: number[] = [];
      const counts: number[] = [];
      for (let i = 0; i < 5; i++) {
        losses.push(trainStep(model, opt, [{ images, ids }], (b) => model.loss(b.images, b.ids), 1e-3, 1.0).loss);
        counts.push(tf.memory().numTensors);
      }
      tf.dispose([images, ids]);
      opt.dispose();
      model.dispose();
      return { losses, counts };
    };
    const cpu = await train('cpu');
    const native = await train('native');
    expect(new Set(native.counts).size).toBe(1);
    native.losses.forEach((l, i) => expect(Math.abs(l - cpu.losses[i])).toBeLessThanOrEqual(1e-5));
    expect(native.losses[4]).toBeLessThan(native.losses[0]);
  });
});
