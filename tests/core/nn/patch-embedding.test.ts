import { tf, PatchEmbedding } from '@mmzoo/core';
import { BACKENDS, useBackend } from '../../helpers/fixtures';
import { expectAllClose, seededUniform, tensorOf } from '../../helpers/finite-diff';

const rand = seededUniform(21);
const [B, C, H, W, P, D] = [2, 3, 8, 12, 4, 5];
const [GH, GW] = [H / P, W / P];
const IMG = rand(B * C * H * W);
const WEIGHT = rand(D * C * P * P); // [D, C, P, P], the reference conv layout
const BIAS = rand(D);
const DY = rand(B * GH * GW * D);

/** Direct stride-P convolution in plain JS: out[b, gy * GW + gx, o] = sum_{c,i,j} W[o,c,i,j] img[b,c,gy P + i,gx P + j] + bias[o]. */
function convRef(bias?: ArrayLike<number>): Float64Array {
  const out = new Float64Array(B * GH * GW * D);
  for (let b = 0; b < B; b++) for (let gy = 0; gy < GH; gy++) for (let gx = 0; gx < GW; gx++) for (let o = 0; o < D; o++) {
    let s = bias ? bias[o] : 0;
    for (let c = 0; c < C; c++) for (let i = 0; i < P; i++) for (let j = 0; j < P; j++) {
      s += WEIGHT[((o * C + c) * P + i) * P + j] * IMG[((b * C + c) * H + gy * P + i) * W + gx * P + j];
    }
    out[((b * GH + gy) * GW + gx) * D + o] = s;
  }
  return out;
}

/** Weight gradient of sum(DY * conv) in plain JS: dW[o,c,i,j] = sum_{b,gy,gx} DY[b,patch,o] img[b,c,gy P + i,gx P + j]. */
function weightGradRef(): Float64Array {
  const g = new Float64Array(D * C * P * P);
  for (let b = 0; b < B; b++) for (let gy = 0; gy < GH; gy++) for (let gx = 0; gx < GW; gx++) for (let o = 0; o < D; o++) {
    const dy = DY[((b * GH + gy) * GW + gx) * D + o];
    for (let c = 0; c < C; c++) for (let i = 0; i < P; i++) for (let j = 0; j < P; j++) {
      g[((o * C + c) * P + i) * P + j] += dy * IMG[((b * C + c) * H + gy * P + i) * W + gx * P + j];
    }
  }
  return g;
}

describe.each(BACKENDS)('nn/patch-embedding on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  test('equals a direct stride-P convolution on a non-square 8x12 image, without bias (open_clip)', () => {
    const pe = new PatchEmbedding(C, D, P);
    expect([...pe.namedParameters().keys()]).toEqual(['weight']);
    expect(pe.weight.shape).toEqual([D, C, P, P]);
    tf.tidy(() => {
      pe.weight.assign(tensorOf(WEIGHT, [D, C, P, P]));
      const out = pe.apply(tensorOf(IMG, [B, C, H, W]));
      expect(out.shape).toEqual([B, GH * GW, D]);
      expectAllClose(out, convRef(), 'patches', { atol: 1e-5 });
    });
    pe.dispose();
  });

  test('with bias; also equals tf.conv2d', () => {
    const pe = new PatchEmbedding(C, D, P, { bias: true });
    expect([...pe.namedParameters().keys()]).toEqual(['weight', 'bias']);
    tf.tidy(() => {
      pe.weight.assign(tensorOf(WEIGHT, [D, C, P, P]));
      pe.bias!.assign(tensorOf(BIAS, [D]));
      const img = tensorOf(IMG, [B, C, H, W]);
      const out = pe.apply(img);
      expectAllClose(out, convRef(BIAS), 'patches + bias', { atol: 1e-5 });
      // tf.conv2d works in NHWC with filters [P, P, C, D]
      const conv = tf.conv2d(img.transpose([0, 2, 3, 1]) as tf.Tensor4D, tensorOf(WEIGHT, [D, C, P, P]).transpose([2, 3, 1, 0]) as tf.Tensor4D, P, 'valid')
        .add(tensorOf(BIAS, [D]))
        .reshape([B, GH * GW, D]);
      expectAllClose(out, conv.dataSync(), 'vs tf.conv2d', { atol: 1e-5 });
    });
    pe.dispose();
  });

  test('trains: weight and bias gradients exist and equal the convolution\'s', () => {
    const pe = new PatchEmbedding(C, D, P, { bias: true });
    tf.tidy(() => {
      pe.weight.assign(tensorOf(WEIGHT, [D, C, P, P]));
      const img = tensorOf(IMG, [B, C, H, W]);
      const dy = tensorOf(DY, [B, GH * GW, D]);
      const { grads } = tf.variableGrads(() => pe.apply(img).mul(dy).sum() as tf.Scalar, [pe.weight, pe.bias!]);
      expect(grads[pe.weight.name].shape).toEqual([D, C, P, P]);
      expectAllClose(grads[pe.weight.name], weightGradRef(), 'dW', { atol: 1e-4 });
      const db = new Float64Array(D);
      DY.forEach((v, i) => (db[i % D] += v));
      expectAllClose(grads[pe.bias!.name], db, 'dbias', { atol: 1e-5 });
      // one SGD step lowers a squared loss
      const loss = () => pe.apply(img).square().mean() as tf.Scalar;
      const before = loss().dataSync()[0];
      tf.train.sgd(0.1).minimize(loss, false, [pe.weight, pe.bias!]);
      expect(loss().dataSync()[0]).toBeLessThan(before);
    });
    pe.dispose();
  });

  test('rejects a wrong channel count or a size that is not a multiple of the patch', () => {
    const pe = new PatchEmbedding(C, D, P);
    tf.tidy(() => {
      expect(() => pe.apply(tf.zeros([1, 1, 8, 8]))).toThrow(/PatchEmbedding expects images \[B, 3, H, W\]/);
      expect(() => pe.apply(tf.zeros([1, 3, 8, 10]))).toThrow(/multiples of 4/);
    });
    pe.dispose();
  });
});
