import { tf, Tensor, Tensor2D, MultiHeadAttention, TransformerBlock, Transformer, manualSeed } from '@mmzoo/core';
import { BACKENDS, useBackend } from '../../helpers/fixtures';
import { expectAllClose, seededUniform, tensorOf } from '../../helpers/finite-diff';

const rand = seededUniform(17);

/**
 * Multi-head attention written with stock tfjs ops only (tf.matMul with transpose flags, tf.softmax), independent
 * of core's ops: q = x Wq^T + bq, k = c Wk^T + bk, v = c Wv^T + bv, heads are contiguous slices.
 */
function mhaRef(x: Tensor, c: Tensor, w: { q: Tensor; k: Tensor; v: Tensor; bq: Tensor; bk: Tensor; bv: Tensor; o: Tensor; bo: Tensor }, heads: number, mask?: Tensor): Tensor {
  const [b, nq, width] = x.shape as [number, number, number];
  const nk = c.shape[1] as number;
  const d = width / heads;
  const proj = (t: Tensor, W: Tensor, bias: Tensor, n: number) =>
    tf.matMul(t.reshape([-1, t.shape[2]!]) as Tensor2D, W as Tensor2D, false, true).add(bias).reshape([b, n, heads, d]).transpose([0, 2, 1, 3]);
  const q = proj(x, w.q, w.bq, nq);
  const k = proj(c, w.k, w.bk, nk);
  const v = proj(c, w.v, w.bv, nk);
  let s = tf.matMul(q as tf.Tensor4D, k as tf.Tensor4D, false, true).mul(1 / Math.sqrt(d));
  if (mask) s = s.add(mask);
  const o = tf.matMul(tf.softmax(s) as tf.Tensor4D, v as tf.Tensor4D).transpose([0, 2, 1, 3]).reshape([b * nq, width]);
  return tf.matMul(o as Tensor2D, w.o as Tensor2D, false, true).add(w.bo).reshape([b, nq, width]);
}

/** Gives every parameter of `m` fresh random values (biases are zero at init, which would hide mistakes). */
function randomise(m: { namedParameters(): Map<string, tf.Variable> }): void {
  for (const v of m.namedParameters().values()) v.assign(tensorOf(rand(v.size, -0.5, 0.5), v.shape));
}

describe.each(BACKENDS)('nn/attention and nn/transformer on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  test('MultiHeadAttention (fused in_proj, self and cross) equals an independent stock-tfjs computation', () => {
    manualSeed(1);
    const mha = new MultiHeadAttention({ width: 8, numHeads: 2 });
    randomise(mha);
    const p = mha.namedParameters();
    expect([...p.keys()]).toEqual(['in_proj_weight', 'in_proj_bias', 'out_proj.weight', 'out_proj.bias']);
    tf.tidy(() => {
      const W = p.get('in_proj_weight')!;
      const bias = p.get('in_proj_bias')!;
      const w = {
        q: W.slice([0, 0], [8, 8]), k: W.slice([8, 0], [8, 8]), v: W.slice([16, 0], [8, 8]),
        bq: bias.slice([0], [8]), bk: bias.slice([8], [8]), bv: bias.slice([16], [8]),
        o: p.get('out_proj.weight')!, bo: p.get('out_proj.bias')!,
      };
      const x = tensorOf(rand(2 * 3 * 8), [2, 3, 8]);
      const c = tensorOf(rand(2 * 5 * 8), [2, 5, 8]);
      expectAllClose(mha.apply(x), mhaRef(x, x, w, 2).dataSync(), 'self', { atol: 1e-5 });
      expectAllClose(mha.apply(x, { context: c }), mhaRef(x, c, w, 2).dataSync(), 'cross', { atol: 1e-5 });
      const mask = tf.tensor4d([0, 0, 0, -Infinity, -Infinity], [1, 1, 1, 5]);
      expectAllClose(mha.apply(x, { context: c, mask }), mhaRef(x, c, w, 2, mask).dataSync(), 'cross, masked', { atol: 1e-5 });
    });
    mha.dispose();
  });

  test('separate q/k/v layout with a different key width equals the reference; names follow options', () => {
    const mha = new MultiHeadAttention({ width: 8, numHeads: 4, kvWidth: 6, layout: 'separate', names: { q: 'query', k: 'key', v: 'value', out: 'dense' } });
    randomise(mha);
    const p = mha.namedParameters();
    expect([...p.keys()]).toEqual(['query.weight', 'query.bias', 'key.weight', 'key.bias', 'value.weight', 'value.bias', 'dense.weight', 'dense.bias']);
    expect(p.get('key.weight')!.shape).toEqual([8, 6]);
    tf.tidy(() => {
      const w = {
        q: p.get('query.weight')!, k: p.get('key.weight')!, v: p.get('value.weight')!,
        bq: p.get('query.bias')!, bk: p.get('key.bias')!, bv: p.get('value.bias')!, o: p.get('dense.weight')!, bo: p.get('dense.bias')!,
      };
      const x = tensorOf(rand(2 * 3 * 8), [2, 3, 8]);
      const c = tensorOf(rand(2 * 4 * 6), [2, 4, 6]);
      expectAllClose(mha.apply(x, { context: c }), mhaRef(x, c, w, 4).dataSync(), 'cross', { atol: 1e-5 });
    });
    mha.dispose();
    expect(() => new MultiHeadAttention({ width: 10, numHeads: 4 })).toThrow(/not divisible by numHeads 4/);
  });

  test('TransformerBlock with cross-attention: depends on the context, requires it, and is wired pre-LN', () => {
    manualSeed(2);
    const block = new TransformerBlock({ width: 8, numHeads: 2, mlpWidth: 16, crossAttention: { kvWidth: 6 } });
    randomise(block);
    const names = [...block.namedParameters().keys()];
    for (const n of ['ln_1.weight', 'attn.in_proj_weight', 'ln_cross.weight', 'cross_attn.q_proj_weight', 'cross_attn.k_proj_weight',
      'cross_attn.v_proj_weight', 'cross_attn.in_proj_bias', 'cross_attn.out_proj.weight', 'ln_2.bias', 'mlp.c_fc.weight', 'mlp.c_proj.weight']) {
      expect(names).toContain(n);
    }
    expect(block.namedParameters().get('cross_attn.k_proj_weight')!.shape).toEqual([8, 6]);
    tf.tidy(() => {
      const x = tensorOf(rand(2 * 3 * 8), [2, 3, 8]);
      const c1 = tensorOf(rand(2 * 4 * 6), [2, 4, 6]);
      const c2 = tensorOf(rand(2 * 4 * 6), [2, 4, 6]);
      const y1 = block.apply(x, { context: c1 });
      const y2 = block.apply(x, { context: c2 });
      expect(y1.shape).toEqual([2, 3, 8]);
      expect(y1.sub(y2).abs().max().dataSync()[0]).toBeGreaterThan(1e-3);
      expect(() => block.apply(x)).toThrow(/needs a context tensor/);
      // wiring: x + attn(ln_1 x), + cross_attn(ln_cross h, c), + mlp(ln_2 h)
      let h = x.add(block.attn.apply(block.ln1.apply(x)));
      h = h.add(block.crossAttn!.apply(block.lnCross!.apply(h), { context: c1 }));
      h = h.add(block.mlp.apply(block.ln2.apply(h)));
      expectAllClose(y1, h.dataSync(), 'pre-LN composition', { atol: 1e-5 });
      // the cross-attention itself (fused layout, kvWidth != width: q/k/v_proj_weight + one in_proj_bias)
      const cp = block.crossAttn!.namedParameters();
      const cb = cp.get('in_proj_bias')!;
      const cw = {
        q: cp.get('q_proj_weight')!, k: cp.get('k_proj_weight')!, v: cp.get('v_proj_weight')!,
        bq: cb.slice([0], [8]), bk: cb.slice([8], [8]), bv: cb.slice([16], [8]), o: cp.get('out_proj.weight')!, bo: cp.get('out_proj.bias')!,
      };
      expectAllClose(block.crossAttn!.apply(x, { context: c1 }), mhaRef(x, c1, cw, 2).dataSync(), 'cross_attn', { atol: 1e-5 });
      // a context mask that removes key 3 equals a context without key 3
      const mask = tf.tensor4d([0, 0, 0, -Infinity], [1, 1, 1, 4]);
      const masked = block.apply(x, { context: c1, contextMask: mask });
      const trimmed = block.apply(x, { context: c1.slice([0, 0, 0], [2, 3, 6]) });
      expectAllClose(masked, trimmed.dataSync(), 'context mask', { atol: 1e-5 });
    });
    block.dispose();
  });

  test('Transformer stacks blocks under resblocks.<i> and applies them in order', () => {
    manualSeed(3);
    const t = new Transformer(2, { width: 8, numHeads: 2, activation: 'quick_gelu' });
    randomise(t);
    expect([...t.namedParameters().keys()].filter((n) => n.endsWith('ln_1.weight'))).toEqual(['resblocks.0.ln_1.weight', 'resblocks.1.ln_1.weight']);
    tf.tidy(() => {
      const x = tensorOf(rand(1 * 3 * 8), [1, 3, 8]);
      const ref = t.blocks[1].apply(t.blocks[0].apply(x));
      expectAllClose(t.apply(x), ref.dataSync(), 'stack', { atol: 1e-6 });
    });
    t.dispose();
  });
});
