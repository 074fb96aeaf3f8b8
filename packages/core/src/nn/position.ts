/**
 * Bicubic resampling of a grid of vectors, as PyTorch's `F.interpolate(mode='bicubic', align_corners=False)`
 * (cubic convolution with A = -0.75, Keys 1981; source index `(i + 0.5) * in / out - 0.5`, border taps
 * clamped). Used to resize ViT positional embeddings to a new patch grid (open_clip `resize_pos_embed`).
 * Downsampling applies no antialiasing filter.
 *
 * @param grid float32 [inH * inW * dim], row-major [inH, inW, dim]
 * @param inSize [inH, inW]
 * @param outSize [outH, outW]
 * @param dim vector width
 * @returns float32 [outH * outW * dim], row-major [outH, outW, dim]
 * @throws Error when `grid` does not hold inH * inW * dim values or a size is not a positive integer
 */
export function bicubicResize(grid: Float32Array, inSize: [number, number], outSize: [number, number], dim: number): Float32Array {
  const [inH, inW] = inSize;
  const [outH, outW] = outSize;
  for (const s of [inH, inW, outH, outW, dim]) {
    if (!Number.isInteger(s) || s <= 0) throw new Error(`bicubicResize: sizes must be positive integers, got in [${inSize}], out [${outSize}], dim ${dim}`);
  }
  if (grid.length !== inH * inW * dim) throw new Error(`bicubicResize: expected ${inH}x${inW}x${dim} = ${inH * inW * dim} values, got ${grid.length}`);
  // rows pass: [inH, inW, dim] -> [outH, inW, dim]; columns pass: -> [outH, outW, dim]
  const rows = resampleAxis(grid, inH, inW * dim, outH);
  const out = new Float32Array(outH * outW * dim);
  for (let r = 0; r < outH; r++) {
    const line = resampleAxis(rows.subarray(r * inW * dim, (r + 1) * inW * dim), inW, dim, outW);
    out.set(line, r * outW * dim);
  }
  return out;
}

/** Cubic convolution weights for taps at offsets -1, 0, 1, 2 from floor(src), fraction t (A = -0.75). */
export function cubicWeights(t: number, a = -0.75): [number, number, number, number] {
  const near = (x: number) => ((a + 2) * x - (a + 3)) * x * x + 1; // |x| <= 1
  const far = (x: number) => ((a * x - 5 * a) * x + 8 * a) * x - 4 * a; // 1 < |x| < 2
  return [far(t + 1), near(t), near(1 - t), far(2 - t)];
}

/** Resamples `n` slices of `stride` values each along the leading axis to `m` slices. */
function resampleAxis(src: Float32Array, n: number, stride: number, m: number): Float32Array {
  const out = new Float32Array(m * stride);
  const scale = n / m;
  for (let i = 0; i < m; i++) {
    const s = (i + 0.5) * scale - 0.5;
    const base = Math.floor(s);
    const w = cubicWeights(s - base);
    for (let tap = 0; tap < 4; tap++) {
      const idx = Math.min(Math.max(base - 1 + tap, 0), n - 1);
      const wt = w[tap];
      for (let j = 0; j < stride; j++) out[i * stride + j] += wt * src[idx * stride + j];
    }
  }
  return out;
}
