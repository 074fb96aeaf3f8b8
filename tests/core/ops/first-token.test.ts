import { tf, firstToken } from '@mmzoo/core';
import { useBackend } from '../../helpers/fixtures';

describe('ops/firstToken', () => {
  beforeAll(() => useBackend('cpu'));

  test('takes token 0 of each row of [B, N, D] states', () => {
    const x = tf.tensor3d([[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 10], [11, 12]]]);
    const before = tf.memory().numTensors;
    const cls = firstToken(x);
    expect(cls.shape).toEqual([2, 2]);
    expect(Array.from(cls.dataSync())).toEqual([1, 2, 7, 8]);
    cls.dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  test('rejects anything but rank 3, naming the shape', () => {
    const x = tf.zeros([2, 3]);
    expect(() => firstToken(x)).toThrow('firstToken: expected states [B, N, D], got [2,3]');
    x.dispose();
  });
});
