import { tf, maskedTextPositions, weightedObjective } from '@mmzoo/core';
import { useBackend } from '../../helpers/fixtures';

describe('weightedObjective and maskedTextPositions (core losses shared by VLMo and BEiT-3)', () => {
  beforeAll(() => useBackend('cpu'));

  test('total = sum of weight * (sum of the term\'s parts), parts unweighted, empty terms skipped, no leaks', () => {
    const before = tf.memory().numTensors;
    const out = tf.tidy(() => weightedObjective([
      { parts: { mim: tf.scalar(1), mlm: tf.scalar(2) }, weight: 0.5 },
      { parts: {}, weight: 10 },
      { parts: { itc: tf.scalar(3) }, weight: 2 },
    ]));
    expect(out.total.dataSync()[0]).toBeCloseTo(0.5 * (1 + 2) + 2 * 3, 6);
    expect(Object.keys(out.parts)).toEqual(['mim', 'mlm', 'itc']);
    expect(Object.values(out.parts).map((t) => t.dataSync()[0])).toEqual([1, 2, 3]);
    tf.dispose([out.total, ...Object.values(out.parts)]);
    expect(tf.memory().numTensors).toBe(before);
    const none = weightedObjective([]);
    expect([none.total.dataSync()[0], Object.keys(none.parts)]).toEqual([0, []]);
    none.total.dispose();
  });

  test('gradients flow through each weighted part', () => {
    const x = tf.variable(tf.scalar(2));
    const { grads } = tf.variableGrads(() => weightedObjective([
      { parts: { a: x.square() }, weight: 3 },
      { parts: { b: x.mul(5) }, weight: 0.5 },
    ]).total as tf.Scalar, [x]);
    // d/dx (3 x^2 + 0.5 * 5 x) = 6 x + 2.5 = 14.5 at x = 2
    expect(grads[x.name].dataSync()[0]).toBeCloseTo(14.5, 5);
    tf.dispose([x, ...Object.values(grads)]);
  });

  test('maskedTextPositions: row-major positions of the labelled tokens, inside a longer sequence with stride and offset', () => {
    const labels = Int32Array.from([-100, 5, -100, 7, -100, 9]);
    expect(maskedTextPositions(labels, 3)).toEqual({ positions: [1, 3, 5], labels: [5, 7, 9] });
    // BEiT-3's image-text pairs: 1 + 3 image tokens, then the 3 text tokens, 7 per row
    expect(maskedTextPositions(labels, 3, { stride: 7, offset: 4 })).toEqual({ positions: [5, 11, 13], labels: [5, 7, 9] });
    expect(maskedTextPositions(Int32Array.from([-100, -100]), 2)).toEqual({ positions: [], labels: [] });
  });
});
