import { tf, AttentionalPooler, MultimodalDecoder, TransformerBlock, manualSeed } from '@mmzoo/core';
import { useBackend } from '../../helpers/fixtures';

// The CoCa pieces in core; their numbers are checked against open_clip in tests/coca/parity.test.ts.
beforeAll(async () => useBackend('cpu'));

describe('AttentionalPooler', () => {
  test('open_clip names and shapes; pools any number of tokens into numQueries', () => {
    manualSeed(0);
    const p = new AttentionalPooler({ width: 8, contextWidth: 12, numQueries: 3, numHeads: 2 });
    expect([...p.namedParameters().keys()]).toEqual([
      'query', 'attn.q_proj_weight', 'attn.k_proj_weight', 'attn.v_proj_weight', 'attn.in_proj_bias',
      'attn.out_proj.weight', 'attn.out_proj.bias', 'ln_q.weight', 'ln_q.bias', 'ln_k.weight', 'ln_k.bias',
    ]);
    tf.tidy(() => {
      expect(p.apply(tf.randomNormal([2, 5, 12])).shape).toEqual([2, 3, 8]);
      expect(p.apply(tf.randomNormal([1, 9, 12])).shape).toEqual([1, 3, 8]);
    });
    expect(() => p.apply(tf.zeros([2, 5, 8]))).toThrow(/\[B, N, 12\]/);
    p.dispose();
  });

  test('the output does not depend on the order of the pooled tokens (no positions, no mask)', () => {
    manualSeed(1);
    const p = new AttentionalPooler({ width: 8, contextWidth: 8, numQueries: 2, numHeads: 2 });
    tf.tidy(() => {
      const x = tf.randomNormal([1, 4, 8]);
      const reversed = tf.reverse(x, 1);
      expect(p.apply(x).sub(p.apply(reversed)).abs().max().arraySync()).toBeLessThan(1e-5);
    });
    p.dispose();
  });
});

describe("TransformerBlock with attention: 'cross'", () => {
  test('queries from x, keys/values from ln_1_kv(context); a context is required', () => {
    manualSeed(2);
    const b = new TransformerBlock({ width: 8, numHeads: 2, attention: 'cross', kvWidth: 6 });
    const names = [...b.namedParameters().keys()];
    expect(names).toContain('ln_1_kv.weight');
    expect(b.namedParameters().get('ln_1_kv.weight')!.shape).toEqual([6]);
    expect(b.namedParameters().get('attn.k_proj_weight')!.shape).toEqual([8, 6]);
    tf.tidy(() => expect(b.apply(tf.randomNormal([2, 3, 8]), { context: tf.randomNormal([2, 5, 6]) }).shape).toEqual([2, 3, 8]));
    expect(() => b.apply(tf.zeros([1, 3, 8]))).toThrow(/needs a context/);
    // the default block is unchanged: no ln_1_kv, fused self-attention
    const plain = new TransformerBlock({ width: 8, numHeads: 2 });
    expect([...plain.namedParameters().keys()].some((n) => n.includes('ln_1_kv'))).toBe(false);
    b.dispose();
    plain.dispose();
  });
});

describe('MultimodalDecoder', () => {
  test('open_clip layout: resblocks.i, cross_attn.i, ln_final, text_projection', () => {
    manualSeed(3);
    const d = new MultimodalDecoder({ width: 8, layers: 2, numHeads: 2, contextLength: 6, outputDim: 11 });
    const names = [...d.namedParameters().keys()];
    for (const n of ['resblocks.1.attn.in_proj_weight', 'cross_attn.1.ln_1_kv.bias', 'cross_attn.0.attn.in_proj_weight', 'ln_final.weight', 'text_projection']) {
      expect(names).toContain(n);
    }
    expect(d.namedParameters().get('text_projection')!.shape).toEqual([8, 11]);
    d.dispose();
  });

  test('causal: a later token never changes earlier logits; the image changes them all', () => {
    manualSeed(4);
    const d = new MultimodalDecoder({ width: 8, layers: 2, numHeads: 2, contextLength: 6, contextWidth: 4, outputDim: 11 });
    tf.tidy(() => {
      const text = tf.randomNormal([1, 5, 8]);
      const img = tf.randomNormal([1, 3, 4]);
      const a = d.apply(text, img);
      const edited = tf.concat([text.slice([0, 0, 0], [1, 4, 8]), tf.randomNormal([1, 1, 8])], 1);
      const b = d.apply(edited, img);
      expect(a.slice([0, 0, 0], [1, 4, 11]).sub(b.slice([0, 0, 0], [1, 4, 11])).abs().max().arraySync()).toBeLessThan(1e-6);
      expect(a.slice([0, 4, 0], [1, 1, 11]).sub(b.slice([0, 4, 0], [1, 1, 11])).abs().max().arraySync()).toBeGreaterThan(1e-4);
      const c = d.apply(text, tf.randomNormal([1, 3, 4]));
      expect(a.slice([0, 0, 0], [1, 1, 11]).sub(c.slice([0, 0, 0], [1, 1, 11])).abs().max().arraySync()).toBeGreaterThan(1e-4);
    });
    expect(() => d.apply(tf.zeros([1, 7, 8]), tf.zeros([1, 3, 4]))).toThrow(/L <= 6/);
    expect(() => d.apply(tf.zeros([2, 3, 8]), tf.zeros([1, 3, 4]))).toThrow(/2 text rows but 1 image rows/);
    d.dispose();
  });
});
