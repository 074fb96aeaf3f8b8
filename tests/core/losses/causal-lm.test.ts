import { tf, Tensor, causalLmLoss, labelLogProbs } from '@mmzoo/core';
import { BACKENDS, useBackend } from '../../helpers/fixtures';
import { centralDiff, dot, expectAllClose, expectGradMatch, seededUniform, tensorOf } from '../../helpers/finite-diff';

/** float64 -log softmax(row)[label] */
function nll(row: ArrayLike<number>, label: number): number {
  const mx = Math.max(...Array.from(row));
  const lse = mx + Math.log(Array.from(row).reduce((a, v) => a + Math.exp(v - mx), 0));
  return lse - row[label];
}

/** float64 HF causal-LM loss: logits [B, T, V] at t scored against labels[t + 1], skipping -100 and lossMask 0 */
function lossRef(logits: ArrayLike<number>, labels: number[][], v: number, mask?: number[][]): number {
  let sum = 0;
  let n = 0;
  labels.forEach((row, b) => {
    for (let t = 0; t + 1 < row.length; t++) {
      const label = row[t + 1];
      if (label === -100 || (mask && mask[b][t + 1] !== 1)) continue;
      const at = (b * row.length + t) * v;
      sum += nll(Array.prototype.slice.call(logits, at, at + v), label);
      n++;
    }
  });
  return n ? sum / n : 0;
}

const rand = seededUniform(9);
const LOGITS = rand(2 * 4 * 5, -3, 3);
const LABELS = [[3, 1, -100, 4], [0, 2, 2, -100]];

describe.each(BACKENDS)('losses/causal-lm on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  test('by hand: uniform logits over 4 tokens give ln 4 for every counted token', () => {
    tf.tidy(() => {
      expectAllClose(causalLmLoss(tf.zeros([1, 3, 4]), tf.tensor2d([[9, 1, 2]], undefined, 'int32')), [Math.log(4)], 'ln 4', { atol: 1e-6 });
      // logits [ln 3, 0, 0, 0] at t = 0 scored against label 0 at t = 1: -ln(3/6) = ln 2; t = 1 against label 1: ln 4
      const logits = tf.tensor3d([[[Math.log(3), 0, 0, 0], [0, 0, 0, 0]]]);
      expectAllClose(causalLmLoss(logits, tf.tensor2d([[7, 0]], undefined, 'int32')), [Math.LN2], 'shifted', { atol: 1e-6 });
      expectAllClose(causalLmLoss(logits, tf.tensor2d([[0, 1]], undefined, 'int32'), { shifted: true }), [(Math.LN2 + Math.log(4)) / 2], 'already shifted', { atol: 1e-6 });
    });
  });

  test('mean over counted tokens: HF shift, -100 skipped, lossMask, and another ignore index', () => {
    const mask = [[1, 1, 1, 0], [1, 1, 0, 1]];
    tf.tidy(() => {
      const logits = tensorOf(LOGITS, [2, 4, 5]);
      const labels = tf.tensor2d(LABELS, undefined, 'int32');
      expectAllClose(causalLmLoss(logits, labels), [lossRef(LOGITS, LABELS, 5)], 'HF convention');
      expectAllClose(causalLmLoss(logits, labels, { lossMask: tf.tensor2d(mask) }), [lossRef(LOGITS, LABELS, 5, mask)], 'with lossMask');
      const minusOne = LABELS.map((r) => r.map((l) => (l === -100 ? -1 : l)));
      expectAllClose(causalLmLoss(logits, tf.tensor2d(minusOne, undefined, 'int32'), { ignoreIndex: -1 }), [lossRef(LOGITS, LABELS, 5)], 'ignore -1');
      // nothing counted: 0, not NaN
      expectAllClose(causalLmLoss(logits, tf.fill([2, 4], -100, 'int32')), [0], 'all ignored');
    });
  });

  test('the logits gradient matches finite differences of the float64 loss', () => {
    const expected = centralDiff((x) => lossRef(x, LABELS, 5), Float64Array.from(LOGITS));
    tf.tidy(() => {
      const g = tf.grad((x: Tensor) => causalLmLoss(x, tf.tensor2d(LABELS, undefined, 'int32')))(tensorOf(LOGITS, [2, 4, 5]));
      expectGradMatch(g, expected, 'd/dlogits');
      expect(dot(g.dataSync(), g.dataSync())).toBeGreaterThan(0);
    });
  });

  test('shapes that do not fit are errors naming them', () => {
    tf.tidy(() => {
      expect(() => causalLmLoss(tf.zeros([2, 5]), tf.zeros([2, 5], 'int32'))).toThrow('causalLmLoss: logits must be [B, T, V], got [2,5]');
      expect(() => causalLmLoss(tf.zeros([2, 4, 5]), tf.zeros([2, 3], 'int32'))).toThrow('causalLmLoss: labels [2,3] do not match logits [2,4,5]');
      expect(() => causalLmLoss(tf.zeros([2, 4, 5]), tf.zeros([2, 4], 'int32'), { lossMask: tf.ones([4]) })).toThrow('causalLmLoss: lossMask [4] does not match labels [2,4]');
    });
  });

  test('labelLogProbs: per row, minus the summed NLL of its counted labels (both label conventions)', () => {
    // float64 per-row sums: HF convention (logits[t] against labels[t + 1])
    const perRow = LABELS.map((row, b) => {
      let sum = 0;
      for (let t = 0; t + 1 < row.length; t++) {
        if (row[t + 1] === -100) continue;
        const at = (b * row.length + t) * 5;
        sum -= nll(Array.prototype.slice.call(LOGITS, at, at + 5), row[t + 1]);
      }
      return sum;
    });
    tf.tidy(() => {
      const logits = tensorOf(LOGITS, [2, 4, 5]);
      expectAllClose(labelLogProbs(logits, tf.tensor2d(LABELS, undefined, 'int32')), perRow, 'HF convention');
      // the same targets written already shifted score the same
      const shifted = LABELS.map((r) => [...r.slice(1), -100]);
      expectAllClose(labelLogProbs(logits, tf.tensor2d(shifted, undefined, 'int32'), { shifted: true }), perRow, 'shifted');
      // by hand: uniform logits over 4 tokens, two counted labels in row 0, none in row 1: [-2 ln 4, 0]
      expectAllClose(labelLogProbs(tf.zeros([2, 3, 4]), tf.tensor2d([[9, 1, 2], [0, -100, -100]], undefined, 'int32')), [-2 * Math.log(4), 0], 'uniform', { atol: 1e-6 });
      // the batch mean of the rows' sums over the token count is causalLmLoss negated
      const count = LABELS.flatMap((r) => r.slice(1)).filter((l) => l !== -100).length;
      expectAllClose(causalLmLoss(logits, tf.tensor2d(LABELS, undefined, 'int32')), [-(perRow[0] + perRow[1]) / count], 'agrees with the loss');
      expect(() => labelLogProbs(tf.zeros([2, 4, 5]), tf.zeros([2, 3], 'int32'))).toThrow('labelLogProbs: labels [2,3] do not match logits [2,4,5]');
    });
  });
});
