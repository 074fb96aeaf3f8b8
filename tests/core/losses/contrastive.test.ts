import { tf, Tensor, contrastiveLoss, l2Normalize } from '@mmzoo/core';
import { BACKENDS, useBackend } from '../../helpers/fixtures';
import { centralDiff, expectAllClose, seededUniform, tensorOf } from '../../helpers/finite-diff';

/** ln(1 + e^x), the cross-entropy of a 2-way row whose correct logit trails the other by x. */
const softplus = (x: number) => Math.log1p(Math.exp(x));

/**
 * The 2x2 case by hand: images [[1, 0], [0, 1]], texts [[0.6, 0.8], [0, 1]] (unit rows), scale s:
 * logits_per_image = s [[0.6, 0], [0.8, 1]], logits_per_text = its transpose.
 * i2t = (softplus(-0.6 s) + softplus(-0.2 s)) / 2, t2i = (softplus(0.2 s) + softplus(-s)) / 2.
 */
function byHand(s: number): { i2t: number; t2i: number; total: number } {
  const i2t = (softplus(-0.6 * s) + softplus(-0.2 * s)) / 2;
  const t2i = (softplus(0.2 * s) + softplus(-1 * s)) / 2;
  return { i2t, t2i, total: (i2t + t2i) / 2 };
}

/** Plain-JS -sum t log softmax over rows of `scale * a @ b^T`, averaged over rows. */
function softCE(a: number[][], b: number[][], scale: number, t: number[][]): number {
  let tot = 0;
  for (let i = 0; i < a.length; i++) {
    const z = b.map((row) => scale * row.reduce((s, v, k) => s + v * a[i][k], 0));
    const mx = Math.max(...z);
    const lse = mx + Math.log(z.reduce((s, v) => s + Math.exp(v - mx), 0));
    tot += z.reduce((s, v, j) => s - t[i][j] * (v - lse), 0);
  }
  return tot / a.length;
}

const IMG = [[1, 0], [0, 1]];
const TXT = [[0.6, 0.8], [0, 1]];

describe.each(BACKENDS)('losses/contrastive on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  test('2x2 symmetric InfoNCE worked by hand, parts and total', () => {
    const ref = byHand(2); // i2t 0.3881489, t2i 0.5199716, total 0.4540602
    tf.tidy(() => {
      const out = contrastiveLoss(tf.tensor2d(IMG), tf.tensor2d(TXT), tf.scalar(2));
      expectAllClose(out.parts.i2t, [ref.i2t], 'i2t', { atol: 1e-6 });
      expectAllClose(out.parts.t2i, [ref.t2i], 't2i', { atol: 1e-6 });
      expectAllClose(out.total, [ref.total], 'total', { atol: 1e-6 });
      expectAllClose(out.total, [0.4540602458], 'total (number)', { atol: 1e-6 });
    });
  });

  test('the scale carries gradient: d total / d scale matches the derivative of the closed form', () => {
    const fd = centralDiff((s) => byHand(s[0]).total, Float64Array.of(2))[0];
    tf.tidy(() => {
      const g = tf.grad((s: Tensor) => contrastiveLoss(tf.tensor2d(IMG), tf.tensor2d(TXT), s).total)(tf.scalar(2));
      expectAllClose(g, [fd], 'd/dscale', { atol: 1e-6, rtol: 1e-4 });
    });
  });

  test('soft targets: identity equals hard labels; uniform targets and M > B candidates match a plain-JS reference', () => {
    tf.tidy(() => {
      const eye = tf.tensor2d([[1, 0], [0, 1]]);
      const hard = contrastiveLoss(tf.tensor2d(IMG), tf.tensor2d(TXT), tf.scalar(2)).total.dataSync()[0];
      expectAllClose(contrastiveLoss(tf.tensor2d(IMG), tf.tensor2d(TXT), tf.scalar(2), { i2t: eye, t2i: eye }).total, [hard], 'identity', { atol: 1e-6 });
      const half = [[0.5, 0.5], [0.5, 0.5]];
      const uni = contrastiveLoss(tf.tensor2d(IMG), tf.tensor2d(TXT), tf.scalar(2), { i2t: tf.tensor2d(half), t2i: tf.tensor2d(half) });
      // uniform row [a, b]: logsumexp(a, b) - (a + b) / 2
      expectAllClose(uni.total, [(softCE(IMG, TXT, 2, half) + softCE(TXT, IMG, 2, half)) / 2], 'uniform', { atol: 1e-6 });
      // 2 images against 3 texts (e.g. a queue): targets [2, 3] and [3, 2]
      const rand = seededUniform(8);
      const img = [Array.from(rand(4)), Array.from(rand(4))];
      const txt = [Array.from(rand(4)), Array.from(rand(4)), Array.from(rand(4))];
      const i2t = [[0.7, 0.2, 0.1], [0, 1, 0]];
      const t2i = [[1, 0], [0.3, 0.7], [0.5, 0.5]];
      const out = contrastiveLoss(tensorOf(img.flat(), [2, 4]), tensorOf(txt.flat(), [3, 4]), tf.scalar(3), { i2t: tf.tensor2d(i2t), t2i: tf.tensor2d(t2i) });
      expectAllClose(out.parts.i2t, [softCE(img, txt, 3, i2t)], 'M > B i2t', { atol: 1e-5 });
      expectAllClose(out.parts.t2i, [softCE(txt, img, 3, t2i)], 'M > B t2i', { atol: 1e-5 });
    });
  });

  test('a batch of 1 and M != B without targets throw clear errors', () => {
    tf.tidy(() => {
      expect(() => contrastiveLoss(tf.tensor2d([[1, 0]]), tf.tensor2d([[0, 1]]), tf.scalar(1))).toThrow(/at least 2 pairs per batch, got 1/);
      expect(() => contrastiveLoss(tf.tensor2d(IMG), tf.zeros([3, 2]), tf.scalar(1))).toThrow(/2 images and 3 texts needs soft targets/);
    });
  });

  test('l2Normalize: unit rows, zero rows stay zero', () => {
    tf.tidy(() => {
      expectAllClose(l2Normalize(tf.tensor2d([[3, 4], [0, 0], [0, -2]])), [0.6, 0.8, 0, 0, 0, -1], 'normalised', { atol: 1e-7 });
    });
  });
});
