import { tf, Tensor, crossEntropy, logSoftmax } from '@mmzoo/core';
import { BACKENDS, useBackend } from '../../helpers/fixtures';
import { expectAllClose } from '../../helpers/finite-diff';

const LN2 = Math.log(2);
const LN3 = Math.log(3);
// Two rows worked by hand: row 0 logits [0, 0, 0] -> p = 1/3 each; row 1 logits [ln 4, 0, 0] -> p = [2/3, 1/6, 1/6].
const LOGITS = [[0, 0, 0], [Math.log(4), 0, 0]];
const NLL_ROW0_LABEL1 = LN3; // -ln(1/3)
const NLL_ROW1_LABEL0 = Math.log(3 / 2); // -ln(2/3) = 0.4054651
const NLL_ROW1_OTHER = Math.log(6); // -ln(1/6) = 1.7917595

describe.each(BACKENDS)('losses/cross-entropy on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  test('logSoftmax known values and gradient', () => {
    tf.tidy(() => {
      // [1, 2, 3] - ln(e + e^2 + e^3) = [1, 2, 3] - 3.4076059
      expectAllClose(logSoftmax(tf.tensor2d([[1, 2, 3]])), [-2.4076059, -1.4076059, -0.4076059], 'values', { atol: 1e-6 });
      // d sum(R * logSoftmax(x)) / dx = R - softmax(x) sum(R)
      const R = [0.5, -1, 2];
      const g = tf.grad((x: Tensor) => logSoftmax(x))(tf.tensor2d([[1, 2, 3]]), tf.tensor2d([R]));
      const p = [0.09003057, 0.24472847, 0.66524096];
      expectAllClose(g, R.map((r, i) => r - p[i] * 1.5), 'gradient', { atol: 1e-6 });
    });
  });

  test('logSoftmax is finite for extreme logits', () => {
    tf.tidy(() => {
      expectAllClose(logSoftmax(tf.tensor2d([[-431, 279, 427]])), [-858, -148, 0], '[-431, 279, 427]', { atol: 1e-4 });
      expectAllClose(logSoftmax(tf.tensor2d([[1e8, 1e8]])), [-LN2, -LN2], '[1e8, 1e8]', { atol: 1e-6 });
    });
  });

  test('hard labels: mean negative log-likelihood worked by hand', () => {
    tf.tidy(() => {
      const loss = crossEntropy(tf.tensor2d(LOGITS), tf.tensor1d([1, 0], 'int32'));
      expect(loss.shape).toEqual([]);
      expectAllClose(loss, [(NLL_ROW0_LABEL1 + NLL_ROW1_LABEL0) / 2], 'loss', { atol: 1e-6 }); // 0.7520387
      // gradient: (softmax - onehot) / N
      const g = tf.grad((x: Tensor) => crossEntropy(x, tf.tensor1d([1, 0], 'int32')))(tf.tensor2d(LOGITS));
      expectAllClose(g, [1 / 6, -1 / 3, 1 / 6, -1 / 6, 1 / 12, 1 / 12], 'gradient', { atol: 1e-6 });
    });
  });

  test('rows whose label is ignoreIndex are excluded from the mean and get no gradient', () => {
    tf.tidy(() => {
      const logits = tf.tensor2d([...LOGITS, [5, -7, 100]]);
      const expected = [(NLL_ROW0_LABEL1 + NLL_ROW1_LABEL0) / 2];
      expectAllClose(crossEntropy(logits, tf.tensor1d([1, 0, -100], 'int32')), expected, 'default -100', { atol: 1e-6 });
      expectAllClose(crossEntropy(logits, tf.tensor1d([1, 0, 7], 'int32'), { ignoreIndex: 7 }), expected, 'ignoreIndex 7', { atol: 1e-6 });
      const g = tf.grad((x: Tensor) => crossEntropy(x, tf.tensor1d([1, 0, -100], 'int32')))(logits);
      expect(Array.from(g.dataSync()).slice(6).map(Math.abs)).toEqual([0, 0, 0]);
      // every row ignored: 0, not NaN
      expectAllClose(crossEntropy(logits, tf.tensor1d([-100, -100, -100], 'int32')), [0], 'all ignored', { atol: 0 });
    });
  });

  test('labelSmoothing 0.1 = 0.9 nll + 0.1 mean_j(-log p_j)', () => {
    tf.tidy(() => {
      const row0 = 0.9 * NLL_ROW0_LABEL1 + 0.1 * LN3; // uniform row: every -log p_j is ln 3
      const row1 = 0.9 * NLL_ROW1_LABEL0 + 0.1 * (NLL_ROW1_LABEL0 + 2 * NLL_ROW1_OTHER) / 3; // 0.4978847
      const loss = crossEntropy(tf.tensor2d(LOGITS), tf.tensor1d([1, 0], 'int32'), { labelSmoothing: 0.1 });
      expectAllClose(loss, [(row0 + row1) / 2], 'smoothed', { atol: 1e-6 }); // 0.7982485
      expect(() => crossEntropy(tf.tensor2d(LOGITS), tf.tensor1d([1, 0], 'int32'), { labelSmoothing: 1 })).toThrow(/\[0, 1\)/);
    });
  });

  test('soft targets: -sum_j t_j log p_j, with and without smoothing', () => {
    tf.tidy(() => {
      const t = tf.tensor2d([[0.5, 0.5, 0], [0.25, 0.75, 0]]);
      const row0 = LN3;
      const row1 = 0.25 * NLL_ROW1_LABEL0 + 0.75 * NLL_ROW1_OTHER; // 1.4451859
      expectAllClose(crossEntropy(tf.tensor2d(LOGITS), t), [(row0 + row1) / 2], 'soft', { atol: 1e-6 });
      // smoothing mixes the targets with the uniform distribution: t' = 0.9 t + 0.1 / 3
      const s1 = (0.9 * 0.25 + 0.1 / 3) * NLL_ROW1_LABEL0 + (0.9 * 0.75 + 0.1 / 3) * NLL_ROW1_OTHER + (0.1 / 3) * NLL_ROW1_OTHER;
      expectAllClose(crossEntropy(tf.tensor2d(LOGITS), t, { labelSmoothing: 0.1 }), [(LN3 + s1) / 2], 'soft smoothed', { atol: 1e-6 });
      // one-hot soft targets equal hard labels
      const hard = crossEntropy(tf.tensor2d(LOGITS), tf.tensor1d([1, 0], 'int32')).dataSync()[0];
      expectAllClose(crossEntropy(tf.tensor2d(LOGITS), tf.tensor2d([[0, 1, 0], [1, 0, 0]])), [hard], 'one-hot', { atol: 1e-6 });
    });
  });

  test('finite for logits [-431, 279, 427] and [1e8, 1e8] (values and gradients)', () => {
    tf.tidy(() => {
      const big = tf.tensor2d([[-431, 279, 427], [-431, 279, 427]]);
      const labels = tf.tensor1d([0, 2], 'int32');
      // row 0: 427 + 431 + ln(1 + e^-148 + e^-858) = 858; row 1: ln(1 + e^-148 + e^-858) = 0
      expectAllClose(crossEntropy(big, labels), [429], 'extreme', { atol: 1e-3 });
      const g = tf.grad((x: Tensor) => crossEntropy(x, labels))(big);
      expectAllClose(g, [-0.5, 0, 0.5, 0, 0, 0], 'extreme gradient', { atol: 1e-6 });
      const tie = tf.tensor2d([[1e8, 1e8]]);
      expectAllClose(crossEntropy(tie, tf.tensor1d([0], 'int32')), [LN2], '[1e8, 1e8]', { atol: 1e-6 });
      expectAllClose(tf.grad((x: Tensor) => crossEntropy(x, tf.tensor1d([0], 'int32')))(tie), [-0.5, 0.5], 'tie gradient', { atol: 1e-6 });
      expectAllClose(crossEntropy(tie, tf.tensor2d([[0.5, 0.5]])), [LN2], 'tie, soft', { atol: 1e-6 });
    });
  });

  test('shape errors are clear', () => {
    tf.tidy(() => {
      expect(() => crossEntropy(tf.zeros([2, 3]), tf.tensor1d([0, 1, 2], 'int32'))).toThrow(/labels \[3\] do not match logits \[2,3\]/);
      expect(() => crossEntropy(tf.zeros([2, 3]), tf.zeros([2, 4]))).toThrow(/soft targets \[2,4\] do not match/);
      expect(() => crossEntropy(tf.zeros([3]), tf.tensor1d([0], 'int32'))).toThrow(/expects logits \[N, C\]/);
    });
  });
});
