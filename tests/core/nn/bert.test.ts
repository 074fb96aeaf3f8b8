import { BertEncoder, BertLMHead, BertWithLMHead, Module, manualSeed, tf } from '@mmzoo/core';

const opts = { vocabSize: 20, maxPositions: 8, width: 16, layers: 2, numHeads: 2, typeVocabSize: 0, crossAttention: { kvWidth: 12 } };

class Pair extends Module {
  constructor(readonly enc: BertEncoder, readonly dec: BertEncoder) {
    super();
    this.module('text_encoder', enc);
    this.module('text_decoder.bert', dec);
  }
}

describe('BertEncoder (post-LN BERT, HF names)', () => {
  test('HF parameter names, cross-attention only from fromLayer on', () => {
    manualSeed(0);
    const enc = new BertEncoder({ ...opts, typeVocabSize: 2, crossAttention: { kvWidth: 12, fromLayer: 1 } });
    const names = [...enc.namedParameters().keys()];
    expect(names).toContain('embeddings.token_type_embeddings.weight');
    expect(names).toContain('encoder.layer.0.attention.self.query.weight');
    expect(names).toContain('encoder.layer.0.attention.output.dense.weight');
    expect(names).toContain('encoder.layer.0.attention.output.LayerNorm.bias');
    expect(names).toContain('encoder.layer.0.intermediate.dense.weight');
    expect(names).toContain('encoder.layer.0.output.LayerNorm.weight');
    expect(names).not.toContain('encoder.layer.0.crossattention.self.key.weight');
    expect(names).toContain('encoder.layer.1.crossattention.self.key.weight');
    expect(enc.namedParameters().get('encoder.layer.1.crossattention.self.key.weight')!.shape).toEqual([16, 12]);
    enc.dispose();
  });

  test('a decoder sharing all but self-attention holds the same tensors, listed once by a parent module', () => {
    manualSeed(0);
    const enc = new BertEncoder(opts);
    const dec = new BertEncoder(opts, enc);
    expect(dec.layers[0].crossAttention).toBe(enc.layers[0].crossAttention);
    expect(dec.layers[1].ffn).toBe(enc.layers[1].ffn);
    expect(dec.embeddings).toBe(enc.embeddings);
    expect(dec.layers[0].attention).not.toBe(enc.layers[0].attention);
    const parent = new Pair(enc, dec);
    const names = [...parent.namedParameters().keys()];
    const decNames = names.filter((n) => n.startsWith('text_decoder.'));
    expect(decNames.every((n) => /^text_decoder\.bert\.encoder\.layer\.\d\.attention\./.test(n))).toBe(true);
    const unique = new Set(parent.namedParameters().values());
    expect(unique.size).toBe(names.length);
    parent.dispose();
  });

  test('causal mode: position i does not depend on later tokens; padded keys do not matter', () => {
    manualSeed(1);
    const enc = new BertEncoder({ ...opts, crossAttention: undefined });
    tf.tidy(() => {
      const a = tf.tensor2d([[1, 5, 6, 7, 2, 0]], undefined, 'int32');
      const b = tf.tensor2d([[1, 5, 6, 9, 9, 9]], undefined, 'int32');
      const valid = tf.tensor2d([[1, 1, 1, 1, 1, 0]], undefined, 'int32');
      const ya = enc.apply(a, valid, { causal: true }).slice([0, 0, 0], [1, 3, 16]);
      const yb = enc.apply(b, valid, { causal: true }).slice([0, 0, 0], [1, 3, 16]);
      expect(tf.abs(ya.sub(yb)).max().dataSync()[0]).toBeLessThan(1e-5);
      // bidirectional: a padded key changes nothing, a real one does
      const c = tf.tensor2d([[1, 5, 6, 7, 2, 13]], undefined, 'int32');
      const ya2 = enc.apply(a, valid).slice([0, 0, 0], [1, 5, 16]);
      const yc = enc.apply(c, valid).slice([0, 0, 0], [1, 5, 16]);
      expect(tf.abs(ya2.sub(yc)).max().dataSync()[0]).toBeLessThan(1e-5);
    });
    enc.dispose();
  });

  test('LM head: tied to the word embeddings (no own decoder weight) or untied', () => {
    manualSeed(2);
    const enc = new BertEncoder({ ...opts, crossAttention: undefined });
    const tied = new BertWithLMHead(enc, new BertLMHead({ width: 16, vocabSize: 20, tiedWeight: enc.embeddings.wordEmbeddings!.weight }));
    expect([...tied.namedParameters().keys()].filter((n) => n.startsWith('cls.')).sort()).toEqual([
      'cls.predictions.bias', 'cls.predictions.transform.LayerNorm.bias', 'cls.predictions.transform.LayerNorm.weight',
      'cls.predictions.transform.dense.bias', 'cls.predictions.transform.dense.weight',
    ]);
    const untied = new BertLMHead({ width: 16, vocabSize: 20 });
    expect(untied.namedParameters().get('predictions.decoder.weight')!.shape).toEqual([20, 16]);
    expect(() => new BertLMHead({ width: 16, vocabSize: 21, tiedWeight: enc.embeddings.wordEmbeddings!.weight })).toThrow(/not \[21, 16\]/);
    tf.tidy(() => expect(tied.cls!.apply(tf.zeros([2, 3, 16])).shape).toEqual([2, 3, 20]));
    tied.dispose();
    untied.dispose();
  });
});
