import { Linear, MomentumPairs, tf } from '@mmzoo/core';

describe('MomentumPairs (EMA copy)', () => {
  test('update is p_m = m p_m + (1 - m) p in float32; copy makes them equal; the copy is not trainable', () => {
    const online = new Linear(2, 1);
    const momentum = new Linear(2, 1);
    online.weight.assign(tf.tensor2d([[1, -2]]));
    online.bias!.assign(tf.tensor1d([4]));
    momentum.weight.assign(tf.tensor2d([[0, 0]]));
    momentum.bias!.assign(tf.tensor1d([1]));
    const pairs = new MomentumPairs([[online, momentum]]);
    expect(momentum.trainableParameters().size).toBe(0);
    expect(online.trainableParameters().size).toBe(2);
    pairs.update(0.9);
    const f = Math.fround;
    const ema = (pm: number, p: number) => f(f(pm * f(0.9)) + f(p * f(1 - 0.9)));
    expect(Array.from(momentum.weight.dataSync())).toEqual([ema(0, 1), ema(0, -2)]);
    expect(momentum.bias!.dataSync()[0]).toBe(ema(1, 4));
    pairs.update(0.9);
    expect(momentum.weight.dataSync()[0]).toBe(ema(ema(0, 1), 1));
    pairs.copy();
    expect(Array.from(momentum.weight.dataSync())).toEqual([1, -2]);
    expect(() => pairs.update(1.5)).toThrow(RangeError);
    online.dispose();
    momentum.dispose();
  });

  test('copy(which) copies only the pairs it accepts; held pairs skip the EMA and stay exactly equal', () => {
    const online = new Linear(2, 1);
    const momentum = new Linear(2, 1);
    const pairs = new MomentumPairs([[online, momentum]]);
    online.weight.assign(tf.tensor2d([[0.1, 0.7]]));
    online.bias!.assign(tf.tensor1d([0.3]));
    pairs.copy((p) => p === online.weight);
    expect(Array.from(momentum.weight.dataSync())).toEqual([Math.fround(0.1), Math.fround(0.7)]);
    expect(momentum.bias!.dataSync()[0]).not.toBe(Math.fround(0.3));
    pairs.copy();
    // 0.99 * 0.7 + 0.01 * 0.7 is not 0.7 in float32: an EMA step moves an equal copy by rounding ...
    const f = Math.fround;
    expect(f(f(f(0.7) * f(0.99)) + f(f(0.7) * f(1 - 0.99)))).not.toBe(f(0.7));
    // ... unless the pair is held (a frozen online parameter)
    pairs.hold([online.weight]);
    pairs.update(0.99);
    expect(Array.from(momentum.weight.dataSync())).toEqual([f(0.1), f(0.7)]);
    online.bias!.assign(tf.tensor1d([1]));
    pairs.update(0.5);
    expect(momentum.bias!.dataSync()[0]).toBe(f(f(f(0.3) * 0.5) + 0.5));
    pairs.hold([]);
    pairs.update(0.99);
    expect(momentum.weight.dataSync()[1]).toBe(f(f(f(0.7) * f(0.99)) + f(f(0.7) * f(1 - 0.99))));
    online.dispose();
    momentum.dispose();
  });

  test('mismatched architectures are rejected', () => {
    const a = new Linear(2, 3);
    const b = new Linear(2, 4);
    const c = new Linear(2, 3, { bias: false });
    expect(() => new MomentumPairs([[a, b]])).toThrow(/'weight' is \[3,2\] online but \[4,2\]/);
    expect(() => new MomentumPairs([[a, c]])).toThrow(/2 parameters, momentum copy 1/);
    [a, b, c].forEach((m) => m.dispose());
  });
});
