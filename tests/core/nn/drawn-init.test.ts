import { tf, drawnInit, manualSeed, normal, normalInit, withShapesOnly } from '@mmzoo/core';
import { useBackend } from '../../helpers/fixtures';

describe('nn/init drawnInit (seeds drawn in a builder\'s order, registered later)', () => {
  beforeAll(() => useBackend('cpu'));

  test('draws the value when called: the same tensors as eager draws in that order', () => {
    manualSeed(7);
    const a = normal([4], 1);
    const b = normal([4], 1);
    manualSeed(7);
    const init = drawnInit(normalInit([4], 1));
    const next = normal([4], 1);
    const value = init.create();
    expect(Array.from(value.dataSync())).toEqual(Array.from(a.dataSync()));
    expect(Array.from(next.dataSync())).toEqual(Array.from(b.dataSync()));
    expect(init.shape).toEqual([4]);
    expect(() => init.create()).toThrow('drawnInit: the initial value [4] was already handed over');
    tf.dispose([a, b, next, value]);
  });

  test('draws nothing in a shape-only build', () => {
    manualSeed(3);
    const eager = normal([2], 1);
    manualSeed(3);
    const before = tf.memory().numTensors;
    const init = withShapesOnly(() => drawnInit(normalInit([2], 1)));
    expect(tf.memory().numTensors).toBe(before);
    const after = normal([2], 1);
    expect(Array.from(after.dataSync())).toEqual(Array.from(eager.dataSync()));
    expect(init.shape).toEqual([2]);
    tf.dispose([eager, after]);
  });
});
