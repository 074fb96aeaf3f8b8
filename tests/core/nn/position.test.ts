import { tf, bicubicResize, cubicWeights, VisionTransformer } from '@mmzoo/core';
import { BACKENDS, useBackend } from '../../helpers/fixtures';
import { expectAllClose, seededUniform, tensorOf } from '../../helpers/finite-diff';

/** Keys' cubic convolution kernel with A = -0.75 as a function of the tap distance (PyTorch's bicubic). */
function keys(x: number, a = -0.75): number {
  const t = Math.abs(x);
  if (t <= 1) return (a + 2) * t ** 3 - (a + 3) * t ** 2 + 1;
  if (t < 2) return a * t ** 3 - 5 * a * t ** 2 + 8 * a * t - 4 * a;
  return 0;
}

/**
 * Direct 2-D bicubic resampling written independently of core: for every output pixel the 4 x 4 taps around the
 * half-pixel-centred source position, weights keys(distance) per axis, indices clamped at the border.
 */
function bicubic2d(src: ArrayLike<number>, [ih, iw]: [number, number], [oh, ow]: [number, number], dim: number): Float64Array {
  const out = new Float64Array(oh * ow * dim);
  const clamp = (v: number, n: number) => Math.min(Math.max(v, 0), n - 1);
  for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) {
    const sy = ((i + 0.5) * ih) / oh - 0.5;
    const sx = ((j + 0.5) * iw) / ow - 0.5;
    for (let m = -1; m <= 2; m++) for (let n = -1; n <= 2; n++) {
      const ry = Math.floor(sy) + m;
      const rx = Math.floor(sx) + n;
      const w = keys(sy - ry) * keys(sx - rx);
      for (let c = 0; c < dim; c++) out[(i * ow + j) * dim + c] += w * src[(clamp(ry, ih) * iw + clamp(rx, iw)) * dim + c];
    }
  }
  return out;
}

const rand = seededUniform(3);

describe('nn/position bicubicResize', () => {
  test('cubic weights for t = 0, 0.25, 0.75 with A = -0.75, worked by hand', () => {
    // taps at distances 1 + t, t, 1 - t, 2 - t:
    // far(1.25) = -0.75 * 1.953125 + 3.75 * 1.5625 - 6 * 1.25 + 3 = -0.10546875
    // near(0.25) = 1.25 * 0.015625 - 2.25 * 0.0625 + 1 = 0.87890625
    // near(0.75) = 1.25 * 0.421875 - 2.25 * 0.5625 + 1 = 0.26171875
    // far(1.75) = -0.75 * 5.359375 + 3.75 * 3.0625 - 6 * 1.75 + 3 = -0.03515625
    expect(cubicWeights(0.25)).toEqual([-0.10546875, 0.87890625, 0.26171875, -0.03515625]);
    expect(cubicWeights(0.75)).toEqual([-0.03515625, 0.26171875, 0.87890625, -0.10546875]);
    expect(cubicWeights(0).map((w) => w + 0)).toEqual([0, 1, 0, 0]);
    for (const t of [0.1, 0.5, 0.9]) expect(cubicWeights(t).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });

  test('1-D upsample 2 -> 4 worked by hand', () => {
    // source positions -0.25, 0.25, 0.75, 1.25 (half-pixel centres); border taps clamp, so
    // out0 = (w0 + w1 + w2)(t=.75) a + w3 b = 1.10546875 a - 0.10546875 b, out1 = 0.7734375 a + 0.2265625 b, ...
    const [a, b] = [1, 3];
    const expected = [
      1.10546875 * a - 0.10546875 * b,
      0.7734375 * a + 0.2265625 * b,
      0.2265625 * a + 0.7734375 * b,
      -0.10546875 * a + 1.10546875 * b,
    ]; // [0.7890625, 1.453125, 2.546875, 3.2109375]
    expectAllClose(bicubicResize(new Float32Array([a, b]), [1, 2], [1, 4], 1), expected, 'row', { atol: 1e-7 });
    // the same along the other axis, with a 2-wide vector per position
    const col = bicubicResize(new Float32Array([a, -a, b, -b]), [2, 1], [4, 1], 2);
    expectAllClose(col, expected.flatMap((v) => [v, -v]), 'column', { atol: 1e-7 });
  });

  test('non-square 2x3 -> 4x5 and 4x4 -> 2x3 equal a direct 2-D bicubic formula', () => {
    const dim = 2;
    const g = Float32Array.from(rand(2 * 3 * dim));
    expectAllClose(bicubicResize(g, [2, 3], [4, 5], dim), bicubic2d(g, [2, 3], [4, 5], dim), '2x3 -> 4x5', { atol: 1e-6 });
    const h = Float32Array.from(rand(4 * 4 * dim));
    expectAllClose(bicubicResize(h, [4, 4], [2, 3], dim), bicubic2d(h, [4, 4], [2, 3], dim), '4x4 -> 2x3', { atol: 1e-6 });
    // a constant grid stays constant (weights sum to 1)
    expectAllClose(bicubicResize(new Float32Array(6).fill(2.5), [2, 3], [4, 5], 1), new Array(20).fill(2.5), 'constant', { atol: 1e-6 });
  });

  test('identity when the sizes are equal', () => {
    const g = Float32Array.from(rand(3 * 5 * 4));
    expect(Array.from(bicubicResize(g, [3, 5], [3, 5], 4))).toEqual(Array.from(g));
  });

  test('rejects a wrong length or a non-positive size', () => {
    expect(() => bicubicResize(new Float32Array(5), [2, 3], [4, 4], 1)).toThrow(/expected 2x3x1 = 6 values, got 5/);
    expect(() => bicubicResize(new Float32Array(6), [2, 3], [0, 4], 1)).toThrow(/positive integers/);
  });
});

describe.each(BACKENDS)('VisionTransformer.setImageSize on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  test('resizes the positional embedding to a non-square grid; apply works on the new size', () => {
    const width = 8;
    const vit = new VisionTransformer({ imageSize: 8, patchSize: 4, channels: 1, width, layers: 1, numHeads: 2, outputDim: 4 });
    expect(vit.grid).toEqual([2, 2]);
    const old = Float64Array.from(vit.positionalEmbedding.dataSync());
    const tensorsBefore = tf.memory().numTensors;
    vit.setImageSize(8, 12);
    expect(tf.memory().numTensors).toBe(tensorsBefore); // the old variable is disposed
    expect(vit.grid).toEqual([2, 3]);
    expect(vit.positionalEmbedding.shape).toEqual([7, width]);
    expect(vit.namedParameters().get('positional_embedding')).toBe(vit.positionalEmbedding);
    const now = vit.positionalEmbedding.dataSync();
    expect(Array.from(now.subarray(0, width))).toEqual(Array.from(Float32Array.from(old.subarray(0, width)))); // class row unchanged
    expectAllClose(now.subarray(width), bicubic2d(old.subarray(width), [2, 2], [2, 3], width), 'patch rows', { atol: 1e-6 });
    tf.tidy(() => {
      const out = vit.apply(tensorOf(rand(2 * 1 * 8 * 12), [2, 1, 8, 12]));
      expect(out.pooled.shape).toEqual([2, 4]);
      expect(out.tokens.shape).toEqual([2, 7, width]);
      expect(Array.from(out.pooled.dataSync()).every(Number.isFinite)).toBe(true);
      expect(() => vit.apply(tf.zeros([1, 1, 8, 8]))).toThrow(/call setImageSize\(8, 8\)/);
    });
    expect(() => vit.setImageSize(9, 12)).toThrow(/not a multiple of patchSize 4/);
    vit.dispose();
  });
});
