import { tf, Tensor, gelu, quickGelu, geluTanh, silu, ACTIVATIONS } from '@mmzoo/core';
import { BACKENDS, useBackend } from '../../helpers/fixtures';
import { expectAllClose } from '../../helpers/finite-diff';

// Reference values computed independently in float64 (scipy.special.erf; x / (1 + exp(-1.702 x))).
const XS = [1, -1, 2, -3, 0.5, 0];
const GELU = [0.8413447461, -0.1586552539, 1.9544997361, -0.0040496941, 0.3457312306, 0];
const DGELU = [1.0833154706, -0.0833154706, 1.0852318011, -0.0119456472, 0.8674951247, 0.5]; // Phi(x) + x phi(x)
const QUICK = [0.8457957659, -0.1542042341, 1.9356586231, -0.0180713097, 0.3503884366, 0];
const DQUICK = [1.0677796066, -0.0677796066, 1.0738153543, -0.0245483239, 0.8792219120, 0.5];

/** float64 tanh GELU, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), and its derivative */
const tanhGelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
const dTanhGelu = (x: number) => {
  const u = Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3);
  const du = Math.sqrt(2 / Math.PI) * (1 + 3 * 0.044715 * x * x);
  return 0.5 * (1 + Math.tanh(u)) + 0.5 * x * (1 - Math.tanh(u) ** 2) * du;
};
/** float64 SiLU x sigmoid(x) and its derivative s (1 + x (1 - s)) */
const sig = (x: number) => 1 / (1 + Math.exp(-x));
const siluRef = (x: number) => x * sig(x);
const dSilu = (x: number) => sig(x) * (1 + x * (1 - sig(x)));

describe.each(BACKENDS)('ops/activations on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  test('gelu is the exact erf form: gelu(1) = 0.8413447, gelu(-1) = -0.1586553', () => {
    tf.tidy(() => {
      const x = tf.tensor1d(XS);
      expectAllClose(gelu(x), GELU, 'gelu', { atol: 1e-6 });
      // the tanh approximation differs by ~1e-4 at x = 2 (1.9545977), which this tolerance rejects
      expect(Math.abs(gelu(tf.scalar(2)).dataSync()[0] - 1.9545977)).toBeGreaterThan(5e-5);
      expectAllClose(tf.grad((t: Tensor) => gelu(t))(x), DGELU, 'gelu gradient', { atol: 1e-5 });
      expect(gelu(tf.zeros([2, 3])).shape).toEqual([2, 3]);
    });
  });

  test('quickGelu is x * sigmoid(1.702 x)', () => {
    tf.tidy(() => {
      const x = tf.tensor1d(XS);
      expectAllClose(quickGelu(x), QUICK, 'quickGelu', { atol: 1e-6 });
      expectAllClose(tf.grad((t: Tensor) => quickGelu(t))(x), DQUICK, 'quickGelu gradient', { atol: 1e-5 });
    });
  });

  test('geluTanh is the tanh approximation of GPT-2 / HF gelu_new: 1.9545977 at 2, not the exact 1.9544997', () => {
    tf.tidy(() => {
      const x = tf.tensor1d(XS);
      expectAllClose(geluTanh(x), XS.map(tanhGelu), 'geluTanh', { atol: 1e-6 });
      expectAllClose(geluTanh(tf.scalar(2)), [1.9545977], 'geluTanh(2)', { atol: 1e-6 });
      expectAllClose(tf.grad((t: Tensor) => geluTanh(t))(x), XS.map(dTanhGelu), 'geluTanh gradient', { atol: 1e-5 });
    });
  });

  test('silu is x * sigmoid(x): silu(1) = 0.7310586', () => {
    tf.tidy(() => {
      const x = tf.tensor1d(XS);
      expectAllClose(silu(x), XS.map(siluRef), 'silu', { atol: 1e-6 });
      expectAllClose(silu(tf.scalar(1)), [0.7310586], 'silu(1)', { atol: 1e-6 });
      expectAllClose(tf.grad((t: Tensor) => silu(t))(x), XS.map(dSilu), 'silu gradient', { atol: 1e-5 });
    });
  });

  test('ACTIVATIONS maps config names to the functions', () => {
    expect(Object.keys(ACTIVATIONS).sort()).toEqual(['gelu', 'gelu_tanh', 'quick_gelu', 'relu', 'silu']);
    tf.tidy(() => {
      expectAllClose(ACTIVATIONS.gelu(tf.scalar(1)), [GELU[0]], 'gelu', { atol: 1e-6 });
      expectAllClose(ACTIVATIONS.quick_gelu(tf.scalar(1)), [QUICK[0]], 'quick_gelu', { atol: 1e-6 });
      expectAllClose(ACTIVATIONS.relu(tf.tensor1d([-2, 3])), [0, 3], 'relu');
    });
  });
});
