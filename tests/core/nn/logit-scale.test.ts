import { tf, CLIP_LOGIT_SCALE_INIT, CLIP_MAX_LOGIT_SCALE, clampLogitScale, clampedLogitScale } from '@mmzoo/core';
import { useBackend } from '../../helpers/fixtures';

describe('nn/logit-scale (CLIP section 2.5, shared by CLIP and CoCa)', () => {
  beforeAll(() => useBackend('cpu'));

  test('the constants: ln(1/0.07) and 100', () => {
    expect(CLIP_LOGIT_SCALE_INIT).toBeCloseTo(2.659260036932778, 12);
    expect(CLIP_MAX_LOGIT_SCALE).toBe(100);
  });

  test('clampedLogitScale: exp of the log scale, at most max, without leaks', () => {
    const v = tf.variable(tf.scalar(1));
    const before = tf.memory().numTensors;
    const s = clampedLogitScale(v);
    expect(s.dataSync()[0]).toBeCloseTo(Math.E, 5);
    s.dispose();
    tf.tidy(() => v.assign(tf.scalar(Math.log(250))));
    const clamped = clampedLogitScale(v);
    expect(clamped.dataSync()[0]).toBeCloseTo(100, 3);
    const lower = clampedLogitScale(v, 50);
    expect(lower.dataSync()[0]).toBeCloseTo(50, 3);
    tf.dispose([clamped, lower]);
    expect(tf.memory().numTensors).toBe(before);
    v.dispose();
  });

  test('clampLogitScale: clips the stored log scale into [0, ln max] in place', () => {
    const v = tf.variable(tf.scalar(-0.5));
    clampLogitScale(v);
    expect(v.dataSync()[0]).toBe(0);
    tf.tidy(() => v.assign(tf.scalar(9)));
    clampLogitScale(v);
    expect(v.dataSync()[0]).toBeCloseTo(Math.log(100), 5);
    tf.tidy(() => v.assign(tf.scalar(2)));
    clampLogitScale(v, 1000);
    expect(v.dataSync()[0]).toBeCloseTo(2, 6);
    v.dispose();
  });
});
