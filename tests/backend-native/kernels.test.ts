import { tf, Tensor } from '@mmzoo/core';
import { describeNative, expectSame, onBoth, randT, SKIP_NOTE } from './helpers';

// Kernel-by-kernel comparison of the native backend with tfjs' cpu backend: values (broadcasting, odd shapes, empty
// tensors, NaN / Inf propagation) and gradients through the native kernels.

const SPECIAL = [NaN, Infinity, -Infinity, 0, -0, 1e-30, -1e30, 88, -88, 100, -100, 0.5];
const special = (shape: number[]) => {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Array.from({ length: n }, (_, i) => SPECIAL[i % SPECIAL.length]), shape);
};

describeNative(`native kernels match the cpu backend${SKIP_NOTE}`, () => {
  afterAll(() => tf.setBackend('cpu'));

  const binaries: [string, (a: Tensor, b: Tensor) => Tensor][] = [
    ['add', tf.add], ['sub', tf.sub], ['mul', tf.mul], ['div', tf.div], ['maximum', tf.maximum],
    ['minimum', tf.minimum], ['squaredDifference', tf.squaredDifference],
  ];
  const shapePairs: [number[], number[]][] = [
    [[3, 5], [3, 5]], [[2, 3, 4], [4]], [[2, 1, 4], [3, 1]], [[], [5]], [[7], []], [[0, 3], [3]], [[1], [1]],
    [[2, 3, 1, 5], [3, 4, 1]], [[64, 50, 128], [128]], [[300, 257], [300, 1]],
  ];
  test.each(binaries)('%s with broadcasting, odd and empty shapes', async (name, op) => {
    for (const [sa, sb] of shapePairs) {
      expectSame(await onBoth(() => op(randT(1, sa), randT(2, sb, 0.5, 2))), `${name} ${sa} ${sb}`);
    }
  });

  test.each(binaries)('%s propagates NaN and Inf', async (name, op) => {
    expectSame(await onBoth(() => op(special([4, 12]), special([12]).reverse())), `${name} special`);
  });

  test('pow on positive bases and integer exponents', async () => {
    expectSame(await onBoth(() => tf.pow(randT(3, [4, 6], 0.1, 3), randT(4, [6], -2, 2))), 'pow', { rtol: 1e-5 });
    expectSame(await onBoth(() => tf.pow(randT(3, [4, 6], -3, 3), tf.scalar(2))), 'pow int');
  });

  const unaries: [string, (x: Tensor) => Tensor, number, number][] = [
    ['exp', tf.exp, -20, 20], ['log', tf.log, 0.01, 10], ['sqrt', tf.sqrt, 0, 10], ['rsqrt', tf.rsqrt, 0.01, 10],
    ['square', tf.square, -10, 10], ['neg', tf.neg, -1, 1], ['sigmoid', tf.sigmoid, -30, 30], ['erf', tf.erf, -4, 4],
    ['tanh', tf.tanh, -5, 5], ['relu', tf.relu, -1, 1], ['abs', tf.abs, -1, 1], ['reciprocal', tf.reciprocal, 0.1, 4],
  ];
  test.each(unaries)('%s: values, NaN and Inf', async (name, op, lo, hi) => {
    // erf: both use Abramowitz-Stegun 7.1.26 (|error| 1.5e-7), cpu in float64, native in float32 (and a series near 0)
    const atol = name === 'erf' ? 3e-7 : 1e-7;
    expectSame(await onBoth(() => op(randT(5, [37, 1001], lo, hi))), `${name} values`, { rtol: 2e-6, atol });
    expectSame(await onBoth(() => op(special([24]))), `${name} special`, { rtol: 2e-6, atol: 1e-7 });
    expectSame(await onBoth(() => op(tf.zeros([0, 4]))), `${name} empty`);
  });

  test('int32 inputs delegate to the cpu kernels', async () => {
    const r = await onBoth(() => [tf.add(tf.tensor([1, 2, 3], [3], 'int32'), tf.scalar(4, 'int32')), tf.neg(tf.tensor([5], [1], 'int32'))]);
    expect(r.native[0]).toEqual({ shape: [3], dtype: 'int32', values: [5, 6, 7] });
    expectSame(r, 'int32');
  });

  test('a float32 tensor cast from int32 or bool (storage shared) feeds native kernels', async () => {
    expectSame(await onBoth(() => tf.tensor([1, 2, 3], [3], 'int32').toFloat().mul(tf.scalar(0.5))), 'cast int');
    expectSame(await onBoth(() => tf.tensor([1, 0, 1], [3], 'bool').toFloat().add(tf.ones([2, 3]))), 'cast bool');
  });

  test('AddN', async () => {
    expectSame(await onBoth(() => tf.addN([randT(1, [5, 7]), randT(2, [5, 7]), randT(3, [5, 7]), randT(4, [5, 7])])), 'addN');
  });

  const reductions: [string, (x: Tensor, axis?: number | number[], keep?: boolean) => Tensor][] = [
    ['sum', tf.sum], ['max', tf.max], ['min', tf.min], ['mean', tf.mean], ['prod', tf.prod],
  ];
  test.each(reductions)('%s over last, leading, middle, several and all axes', async (name, op) => {
    const axesList: (number | number[] | undefined)[] = [-1, 0, 1, [0, 2], [1, 2], [0, 1], undefined, [0, 1, 2]];
    for (const axis of axesList) {
      for (const keep of [false, true]) {
        expectSame(await onBoth(() => op(randT(7, [6, 5, 33], 0.5, 1.5), axis, keep)), `${name} ${axis} ${keep}`, { rtol: 1e-5 });
      }
    }
    expectSame(await onBoth(() => op(special([3, 12]), -1)), `${name} special rows`);
    expectSame(await onBoth(() => op(special([12, 3]), 0)), `${name} special cols`);
    expectSame(await onBoth(() => op(randT(8, [4096, 3]), 0)), `${name} long columns`, { rtol: 1e-5, atol: 1e-5 });
  });

  test('transpose: permutations, blocked 2-D and identity', async () => {
    const x = () => randT(9, [2, 3, 4, 5]);
    for (const perm of [[0, 1, 3, 2], [3, 2, 1, 0], [0, 2, 1, 3], [1, 0, 2, 3], [0, 1, 2, 3], [2, 0, 3, 1]]) {
      expectSame(await onBoth(() => x().transpose(perm)), `transpose ${perm}`);
    }
    expectSame(await onBoth(() => randT(10, [67, 129]).transpose()), 'transpose 2-D');
    expectSame(await onBoth(() => randT(11, [3, 130, 70]).transpose([0, 2, 1])), 'transpose batched');
    expectSame(await onBoth(() => tf.zeros([0, 3]).transpose()), 'transpose empty');
  });

  test('slice, concat, split and pad', async () => {
    const x = () => randT(12, [4, 6, 8]);
    expectSame(await onBoth(() => [x().slice([1, 0, 0], [2, 6, 8]), x().slice([0, 2, 3], [4, 3, 5]), x().slice([3, 5, 7], [1, 1, 1]), x().slice([0, 0, 0], [0, 6, 8])]), 'slice');
    expectSame(await onBoth(() => [0, 1, 2].map((ax) => tf.concat([x(), randT(13, ax === 0 ? [1, 6, 8] : ax === 1 ? [4, 2, 8] : [4, 6, 3]), tf.zeros(ax === 0 ? [0, 6, 8] : [4, 0, 8].map((s, i) => (i === ax ? 0 : [4, 6, 8][i])))], ax))), 'concat');
    expectSame(await onBoth(() => [...tf.split(x(), [1, 3, 2], 1), ...tf.split(x(), 2, 2)]), 'split');
    expectSame(await onBoth(() => [tf.pad(x(), [[1, 0], [0, 2], [3, 1]], 0), tf.pad(x(), [[0, 0], [1, 1], [0, 0]], -2.5)]), 'pad');
  });

  test('softmax (including -Infinity entries)', async () => {
    expectSame(await onBoth(() => tf.softmax(randT(14, [7, 50], -5, 5))), 'softmax', { rtol: 1e-5, atol: 1e-7 });
    expectSame(await onBoth(() => tf.softmax(tf.tensor([[0, -Infinity, 1], [-Infinity, -Infinity, 2]]))), 'softmax -inf');
  });

  test('gather and its gradient (UnsortedSegmentSum)', async () => {
    const ids = () => tf.tensor([3, 0, 3, 9, 1], [5], 'int32');
    expectSame(await onBoth(() => [tf.gather(randT(15, [10, 6]), ids()), tf.gather(randT(16, [4, 10, 3]), ids(), 1)]), 'gather');
    expectSame(await onBoth(() => tf.grad((t: Tensor) => tf.gather(t, ids()).mul(randT(17, [5, 6])).sum())(randT(15, [10, 6]))), 'gather grad');
    expectSame(await onBoth(() => tf.unsortedSegmentSum(randT(18, [6, 4]), tf.tensor([0, 2, -1, 2, 7, 0], [6], 'int32'), 4)), 'segment sum');
    for (const backend of ['cpu', 'native']) {
      if (backend === 'native') require('@mmzoo/backend-native');
      await tf.setBackend(backend);
      expect(() => tf.tidy(() => tf.gather(tf.ones([3, 2]), tf.tensor([0, 3], [2], 'int32')))).toThrow('GatherV2: the index value 3 is not in [0, 2]');
    }
  });

  test('batched matMul: transposes, batch broadcasting, empty and threaded sizes', async () => {
    const cases: [number[], number[], boolean, boolean][] = [
      [[3, 4], [4, 5], false, false], [[4, 3], [4, 5], true, false], [[3, 4], [5, 4], false, true], [[4, 3], [5, 4], true, true],
      [[7, 3, 4], [4, 2], false, false], [[2, 7, 3, 4], [7, 4, 2], false, false], [[3, 0], [0, 4], false, false],
      [[0, 4], [4, 5], false, false], [[300, 200], [150, 200], false, true], [[256, 50, 32], [256, 50, 32], false, true],
    ];
    for (const [sa, sb, ta, tb] of cases) {
      expectSame(await onBoth(() => tf.matMul(randT(19, sa), randT(20, sb), ta, tb)), `matMul ${sa} ${sb} ${ta} ${tb}`, { rtol: 1e-4, atol: 1e-5 });
    }
    expect(() => tf.tidy(() => tf.matMul(tf.ones([2, 3]), tf.ones([4, 5])))).toThrow(/inner shapes \(3\) and \(4\)/);
  });

  test('matMul broadcasts batch axes like numpy (tfjs cpu does not: reference by explicit tiling)', async () => {
    const { native } = await onBoth(() => tf.matMul(randT(28, [2, 1, 3, 4]), randT(29, [5, 4, 6])));
    const cpu = (await onBoth(() => tf.matMul(randT(28, [2, 1, 3, 4]).tile([1, 5, 1, 1]), randT(29, [5, 4, 6]).expandDims(0).tile([2, 1, 1, 1])))).cpu;
    expectSame({ cpu, native }, 'matMul broadcast', { rtol: 1e-5, atol: 1e-6 });
  });

  test('fused matMul with bias and activation', async () => {
    for (const activation of ['linear', 'relu', 'sigmoid', 'elu'] as const) {
      expectSame(await onBoth(() => tf.fused.matMul({ a: randT(21, [6, 5]), b: randT(22, [7, 5]), transposeB: true, bias: randT(23, [7]), activation })), `fused ${activation}`, { rtol: 1e-5, atol: 1e-6 });
    }
    // the bias seeds the GEMM (row bias [N] or [1, N]); other bias shapes are added after it
    const biases: [number[], boolean][] = [[[7], false], [[1, 7], true], [[6, 1], false], [[6, 7], true]];
    for (const [bs, ta] of biases) {
      const a = () => (ta ? randT(21, [5, 6]) : randT(21, [6, 5]));
      expectSame(await onBoth(() => tf.fused.matMul({ a: a(), b: randT(22, [5, 7]), transposeA: ta, bias: randT(23, bs) })), `fused bias ${bs} ${ta}`, { rtol: 1e-5, atol: 1e-6 });
    }
    expectSame(await onBoth(() => tf.fused.matMul({ a: randT(21, [2, 6, 5]), b: randT(22, [2, 5, 7]), bias: randT(23, [7]) })), 'fused batched bias', { rtol: 1e-5, atol: 1e-6 });
  });

  test('gradients through native kernels match the cpu backend', async () => {
    const f = (a: Tensor, b: Tensor, c: Tensor) =>
      tf.sigmoid(tf.matMul(a, b, false, true).add(c)).mul(tf.exp(c.neg())).sub(tf.softmax(tf.matMul(a, b, false, true))).square().mean(0).sum();
    expectSame(await onBoth(() => tf.grads(f)([randT(24, [9, 4]), randT(25, [6, 4]), randT(26, [6])])), 'grads', { rtol: 1e-4, atol: 1e-6 });
    const g = (x: Tensor) => tf.concat([x.slice([0, 1], [3, 2]), x.transpose().slice([0, 0], [2, 3]).transpose()], 1).max(1).sum();
    expectSame(await onBoth(() => tf.grad(g)(randT(27, [3, 4]))), 'copy grads');
  });
});
