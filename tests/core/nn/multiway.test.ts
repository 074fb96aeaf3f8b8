import {
  tf, Tensor, KMeansVisualTokenizer, MultiwayBlock, MultiwayEncoder, PatchEmbedding, RelativePositionBias, Rng, imageRelativePositionIndex,
  manualSeed, routeTokens, vlmoFusionRelativePositionIndex, vlmoRelativeLayout,
} from '@mmzoo/core';
import { BACKENDS, useBackend } from '../../helpers/fixtures';
import { expectAllClose, seededUniform, tensorOf } from '../../helpers/finite-diff';

const rand = seededUniform(5);
function randomise(m: { namedParameters(): Map<string, tf.Variable> }): void {
  for (const v of m.namedParameters().values()) if (v.trainable) v.assign(tensorOf(rand(v.size, -0.3, 0.3), v.shape));
}

describe.each(BACKENDS)('nn/multiway on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  test('routeTokens applies each expert to its own run and rejects a wrong cover', () => {
    tf.tidy(() => {
      const x = tf.tensor3d([[[1], [2], [3], [4]]]);
      const y = routeTokens(x, [{ key: 'a', length: 1 }, { key: 'a', length: 1 }, { key: 'b', length: 2 }], (p, k) => p.mul(k === 'a' ? 10 : -1));
      expect(Array.from(y.dataSync())).toEqual([10, 20, -3, -4]);
      expect(() => routeTokens(x, [{ key: 'a', length: 3 }], (p) => p)).toThrow(/covers 3 tokens but the input has 4/);
    });
  });

  test('names: shared (VLMo) and per-modality (torchscale) layouts', () => {
    manualSeed(0);
    const shared = new MultiwayBlock({ width: 8, numHeads: 2, qkvBias: 'qv', layerScale: 0.1, vlExpert: true });
    expect([...shared.namedParameters().keys()]).toEqual([
      'gamma_1', 'gamma_2',
      'norm1.weight', 'norm1.bias', 'attn.in_proj_weight', 'attn.q_bias', 'attn.v_bias', 'attn.out_proj.weight', 'attn.out_proj.bias',
      ...['vision', 'language', 'vl'].flatMap((e) => [`norm2.${e}.weight`, `norm2.${e}.bias`]),
      ...['vision', 'language', 'vl'].flatMap((e) => [`ffn.${e}.c_fc.weight`, `ffn.${e}.c_fc.bias`, `ffn.${e}.c_proj.weight`, `ffn.${e}.c_proj.bias`]),
    ]);
    const perModality = new MultiwayBlock({ width: 8, numHeads: 2, attention: 'per-modality', qkvLayout: 'separate', subLn: true });
    const names = [...perModality.namedParameters().keys()];
    for (const n of ['norm1.vision.weight', 'attn.language.q_proj.weight', 'attn.vision.inner_attn_ln.bias', 'attn.language.out_proj.bias', 'ffn.vision.ffn_layernorm.weight', 'norm2.language.bias']) expect(names).toContain(n);
    expect(names.some((n) => n.includes('.vl.'))).toBe(false);
    shared.dispose();
    perModality.dispose();
  });

  test('per-modality attention with identical expert copies equals shared attention (one softmax over all keys)', () => {
    manualSeed(1);
    const shared = new MultiwayBlock({ width: 8, numHeads: 2, qkvLayout: 'separate', subLn: true, lnEps: 1e-5 });
    const split = new MultiwayBlock({ width: 8, numHeads: 2, qkvLayout: 'separate', subLn: true, lnEps: 1e-5, attention: 'per-modality' });
    randomise(shared);
    const sp = shared.namedParameters();
    for (const [n, v] of split.namedParameters()) {
      const src = n.replace(/^(norm1|attn)\.(vision|language)\./, '$1.');
      v.assign(sp.get(src)!);
    }
    tf.tidy(() => {
      const x = tensorOf(rand(2 * 5 * 8), [2, 5, 8]);
      const segments = [{ modality: 'vision' as const, length: 3 }, { modality: 'language' as const, length: 2 }];
      const mask = tf.tensor4d([0, 0, 0, 0, -Infinity, 0, 0, 0, 0, 0], [2, 1, 1, 5]);
      expectAllClose(split.apply(x, { segments, mask }), shared.apply(x, { segments, mask }).dataSync(), 'per-modality vs shared', { atol: 1e-5 });
    });
    shared.dispose();
    split.dispose();
  });

  test('encoder: the VL expert serves multimodal input in the top layers (auto), any input when forced, never below vlStart', () => {
    manualSeed(2);
    const enc = new MultiwayEncoder({ width: 8, numHeads: 2, layers: 3, vlStart: 2 });
    randomise(enc);
    const vars = [...enc.trainableParameters()];
    const used = (segments: { modality: 'vision' | 'language'; length: number }[], vl: 'auto' | 'force') => tf.tidy(() => {
      const x = tensorOf(rand(2 * 4 * 8), [2, 4, 8]);
      const { grads } = tf.variableGrads(() => enc.apply(x, { segments, vl }).square().mean() as tf.Scalar, vars.map(([, v]) => v));
      return vars.filter(([, v]) => grads[v.name] && grads[v.name].abs().max().dataSync()[0] > 0).map(([n]) => n).filter((n) => /(ffn|norm2)\./.test(n)).map((n) => n.replace(/\.(c_fc|c_proj|weight|bias).*$/, '')).filter((n, i, a) => a.indexOf(n) === i);
    });
    const both = [{ modality: 'language' as const, length: 2 }, { modality: 'vision' as const, length: 2 }];
    const image = [{ modality: 'vision' as const, length: 4 }];
    expect(used(both, 'auto').sort()).toEqual([
      'blocks.0.ffn.language', 'blocks.0.ffn.vision', 'blocks.0.norm2.language', 'blocks.0.norm2.vision',
      'blocks.1.ffn.language', 'blocks.1.ffn.vision', 'blocks.1.norm2.language', 'blocks.1.norm2.vision',
      'blocks.2.ffn.vl', 'blocks.2.norm2.vl',
    ]);
    expect(used(image, 'auto').sort()).toEqual(['blocks.0.ffn.vision', 'blocks.0.norm2.vision', 'blocks.1.ffn.vision', 'blocks.1.norm2.vision', 'blocks.2.ffn.vision', 'blocks.2.norm2.vision']);
    expect(used(image, 'force').sort()).toEqual(['blocks.0.ffn.vision', 'blocks.0.norm2.vision', 'blocks.1.ffn.vision', 'blocks.1.norm2.vision', 'blocks.2.ffn.vl', 'blocks.2.norm2.vl']);
    expect(() => enc.blocks[0].apply(tf.zeros([1, 2, 8]), { segments: image.map((s) => ({ ...s, length: 2 })), ffn: 'vl' })).toThrow(/no vision-language/);
    enc.dispose();
  });

  test('relative position bias: per-layer slices of one table; the table gradient is a scatter-add of the bias gradient', () => {
    const grid: [number, number] = [2, 2];
    const layout = vlmoRelativeLayout(grid, 6);
    expect(layout.total).toBe(9 + 3 + 12 + 2);
    const rel = vlmoFusionRelativePositionIndex(3, grid, 6);
    const rpb = new RelativePositionBias(layout.total, 2, 3);
    rpb.table.assign(tensorOf(rand(layout.total * 6), [layout.total, 6]));
    tf.tidy(() => {
      const biases = rpb.layerBiases(rel);
      expect(biases.map((b) => b.shape)).toEqual([[1, 3, 8, 8], [1, 3, 8, 8]]);
      const t = rpb.table.arraySync() as number[][];
      const b1 = biases[1].arraySync() as number[][][][];
      for (let h = 0; h < 3; h++) for (let i = 0; i < 8; i++) for (let j = 0; j < 8; j++) expect(b1[0][h][i][j]).toBeCloseTo(t[rel.index[i * 8 + j]][3 + h], 6);
      const w = tensorOf(rand(3 * 64), [1, 3, 8, 8]);
      const { grads } = tf.variableGrads(() => rpb.layerBiases(rel)[1].mul(w).sum() as tf.Scalar, [rpb.table]);
      const g = grads[rpb.table.name].arraySync() as number[][];
      const expected = Array.from({ length: layout.total }, () => new Array(6).fill(0));
      const wv = w.arraySync() as number[][][][];
      for (let h = 0; h < 3; h++) for (let i = 0; i < 8; i++) for (let j = 0; j < 8; j++) expected[rel.index[i * 8 + j]][3 + h] += wv[0][h][i][j];
      expectAllClose(tf.tensor2d(g), expected.flat(), 'table gradient', { atol: 1e-5 });
    });
    expect(imageRelativePositionIndex([14, 14]).index.reduce((m, v) => Math.max(m, v), 0)).toBe(27 * 27 + 2);
    rpb.dispose();
  });

  test('k-means visual tokenizer: patches in PatchEmbedding order, fit recovers clusters, encode picks the nearest code', () => {
    const tok = new KMeansVisualTokenizer(2, 1, 2);
    const pe = new PatchEmbedding(1, 4, 2);
    tf.tidy(() => {
      // patchify matches the patch embedding: identity weights
      pe.weight.assign(tf.eye(4).reshape([4, 1, 2, 2]));
      const img = tensorOf(rand(2 * 16), [2, 1, 4, 4]);
      expectAllClose(tok.patchify(img), pe.apply(img).dataSync(), 'patchify', { atol: 1e-6 });
    });
    const rng = new Rng(0);
    const data = new Float32Array(400 * 4);
    for (let i = 0; i < 400; i++) for (let t = 0; t < 4; t++) data[i * 4 + t] = (i % 2 ? 0.9 : 0.1) + 0.05 * rng.normal();
    expect(() => tok.encode(tf.zeros([1, 1, 2, 2]))).toThrow(/not been fitted/);
    tok.fit(data, new Rng(1));
    expect(tok.fitted).toBe(true);
    const cb = (tok.codebook.arraySync() as number[][]).map((r) => r.reduce((a, v) => a + v, 0) / 4).sort();
    expect(cb[0]).toBeCloseTo(0.1, 1);
    expect(cb[1]).toBeCloseTo(0.9, 1);
    tf.tidy(() => {
      const img = tf.tensor4d([0.1, 0.1, 0.9, 0.9, 0.1, 0.1, 0.9, 0.9, 0.9, 0.9, 0.1, 0.1, 0.9, 0.9, 0.1, 0.1], [1, 1, 4, 4]);
      const codes = Array.from(tok.encode(img).dataSync());
      const low = (tok.codebook.arraySync() as number[][])[0][0] < 0.5 ? 0 : 1;
      expect(codes).toEqual([low, 1 - low, 1 - low, low]);
    });
    expect(tok.numParams()).toBe(0);
    tok.dispose();
    pe.dispose();
  });

  test('no tensors leak from a multiway encoder', () => {
    const enc = new MultiwayEncoder({ width: 8, numHeads: 2, layers: 2, vlStart: 1, attention: 'per-modality', finalNorm: 'per-modality' });
    const x = tf.zeros([1, 4, 8]);
    const segments = [{ modality: 'vision' as const, length: 1 }, { modality: 'language' as const, length: 3 }];
    tf.tidy(() => enc.apply(x, { segments }));
    const before = tf.memory().numTensors;
    tf.dispose(enc.apply(x, { segments }) as Tensor);
    tf.dispose(enc.forward(x, { segments }) as unknown as tf.TensorContainer);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    enc.dispose();
  });
});
