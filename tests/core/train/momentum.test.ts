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

  test('mismatched architectures are rejected', () => {
    const a = new Linear(2, 3);
    const b = new Linear(2, 4);
    const c = new Linear(2, 3, { bias: false });
    expect(() => new MomentumPairs([[a, b]])).toThrow(/'weight' is \[3,2\] online but \[4,2\]/);
    expect(() => new MomentumPairs([[a, c]])).toThrow(/2 parameters, momentum copy 1/);
    [a, b, c].forEach((m) => m.dispose());
  });
});
