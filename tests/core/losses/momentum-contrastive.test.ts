import { clampTemperature, distillationAlpha, l2Normalize, momentumContrastiveLoss, tf } from '@mmzoo/core';

describe('momentumContrastiveLoss (ITC with queues and momentum distillation)', () => {
  const make = () => {
    const img = l2Normalize(tf.tensor2d([[1, 0, 0], [0, 1, 0], [0.5, 0.5, 0.2]]));
    const txt = l2Normalize(tf.tensor2d([[0.9, 0.1, 0], [0.1, 0.9, 0.1], [0.3, 0.6, 0.2]]));
    const queue = l2Normalize(tf.tensor2d([[1, 1, 0], [0, 0, 1], [1, 0, 1], [0.2, 1, 0]])).transpose();
    return { img, txt, queue };
  };

  test('captions of the same image, in the batch or the queue, share the target mass (duplicate ids)', () => {
    const { img, txt, queue } = make();
    const out = momentumContrastiveLoss({
      imageFeat: img, textFeat: txt, imageFeatM: img, textFeatM: txt, imageQueue: queue, textQueue: queue,
      ids: [3, 3, 5], queueIds: [3, -100, 5, 9], temp: tf.scalar(0.1), alpha: 0,
    });
    const gt = out.groundTruth.arraySync() as number[][];
    const near = (row: number[], want: number[]) => want.forEach((w, j) => expect(row[j]).toBeCloseTo(w, 6));
    near(gt[0], [1 / 3, 1 / 3, 0, 1 / 3, 0, 0, 0]);
    near(gt[1], gt[0]);
    near(gt[2], [0, 0, 0.5, 0, 0, 0.5, 0]);
    // alpha = 0: targets are the ground truth and the loss is the soft cross-entropy of the similarities
    const logp = tf.logSoftmax(out.simI2t);
    const i2t = tf.tensor(gt).mul(logp).sum(1).neg().mean().dataSync()[0];
    expect(out.parts.i2t.dataSync()[0]).toBeCloseTo(i2t, 5);
    const sims = out.simI2t.arraySync() as number[][];
    expect(sims[0][0]).toBeCloseTo(tf.sum(img.slice([0, 0], [1, 3]).mul(txt.slice([0, 0], [1, 3]))).dataSync()[0] / 0.1, 4);
  });

  test('soft targets mix alpha softmax(momentum sims) with the ground truth; no gradient reaches the momentum side', () => {
    const { img, txt, queue } = make();
    const imgM = tf.variable(img.mul(0.9).add(0.01));
    const txtM = tf.variable(txt.clone());
    const temp = tf.variable(tf.scalar(0.2));
    const imgV = tf.variable(img.clone());
    const { grads } = tf.variableGrads(() => {
      const out = momentumContrastiveLoss({
        imageFeat: imgV, textFeat: txt, imageFeatM: imgM, textFeatM: txtM, imageQueue: queue, textQueue: queue,
        ids: [0, 1, 2], queueIds: [-100, -100, -100, -100], temp, alpha: 0.4,
      });
      const expected = tf.softmax(out.simI2tM, -1).mul(0.4).add(out.groundTruth.mul(0.6));
      expect(Array.from(out.targetsI2t.dataSync())).toEqual(Array.from(expected.dataSync()));
      return out.total as tf.Scalar;
    }, [imgV, imgM, txtM, temp]);
    expect(tf.abs(grads[imgV.name]).max().dataSync()[0]).toBeGreaterThan(0);
    expect(Math.abs(grads[temp.name].dataSync()[0])).toBeGreaterThan(0);
    for (const v of [imgM, txtM]) expect(grads[v.name] ? tf.abs(grads[v.name]).max().dataSync()[0] : 0).toBe(0);
  });
});

describe('clampTemperature and distillationAlpha (ALBEF sec. 3.3, shared with BLIP)', () => {
  test('tau is clamped in place into [low, high], and left alone without a range', () => {
    const low = tf.variable(tf.scalar(0.0001));
    const high = tf.variable(tf.scalar(0.9));
    const free = tf.variable(tf.scalar(0.9));
    clampTemperature(low, [0.001, 0.5]);
    clampTemperature(high, [0.001, 0.5]);
    clampTemperature(free, undefined);
    expect(low.dataSync()[0]).toBeCloseTo(0.001, 7);
    expect(high.dataSync()[0]).toBeCloseTo(0.5, 7);
    expect(free.dataSync()[0]).toBeCloseTo(0.9, 7);
    tf.dispose([low, high, free]);
  });

  test('alpha ramps linearly from 0 to its value over rampSteps, then stays', () => {
    expect(distillationAlpha(0.4, 100, 0)).toBe(0);
    expect(distillationAlpha(0.4, 100, 25)).toBeCloseTo(0.1, 12);
    expect(distillationAlpha(0.4, 100, 100)).toBeCloseTo(0.4, 12);
    expect(distillationAlpha(0.4, 100, 5000)).toBeCloseTo(0.4, 12);
    expect(distillationAlpha(0.4, 0, 0)).toBe(0.4);
  });
});
