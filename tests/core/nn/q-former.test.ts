import { BertLayer, Module, QFormer, VisionTransformer, blocksUpTo, causalMask, manualSeed, tf, timmVitName, torchmultimodalVitName } from '@mmzoo/core';
import { lavisBlip2Name } from '@mmzoo/blip2';
import { useBackend } from '../../helpers/fixtures';

// BLIP-2's Q-Former (Li et al. 2023, section 3.1) as core builds it: which rows see what under each mask, the
// query-only cross-attention and FFN, the LAVIS names, and the ViT options BLIP-2 adds. Golden parity is in
// tests/blip2/parity.test.ts.

beforeAll(() => useBackend('cpu'));

const OPTS = { numQueries: 3, vocabSize: 20, maxPositions: 6, width: 8, layers: 3, numHeads: 2, visionWidth: 4, std: 0.5 };

function tiny(extra: Partial<ConstructorParameters<typeof QFormer>[0]> = {}): QFormer {
  manualSeed(3);
  return new QFormer({ ...OPTS, ...extra });
}

const image = () => tf.randomNormal([2, 5, 4], 0, 1, 'float32', 11);
const ids = () => tf.tensor2d([[1, 5, 6, 7, 2, 0], [1, 9, 2, 0, 0, 0]], undefined, 'int32');
const valid = () => tf.tensor2d([[1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0]], undefined, 'int32');
const maxAbsDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => a.sub(b).abs().max().dataSync()[0]);

test('causalMask with a prefix: the prefix sees itself both ways, later rows see the prefix and their past', () => {
  const m = causalMask(4, -1, 2).arraySync();
  expect(m).toEqual([[0, 0, -1, -1], [0, 0, -1, -1], [0, 0, 0, -1], [0, 0, 0, 0]]);
  expect(causalMask(3, -1).arraySync()).toEqual(causalMask(3, -1, 0).arraySync());
  expect(() => causalMask(3, -1, 4)).toThrow('causalMask: prefix 4 is not an integer in [0, 3]');
});

test('names are LAVIS\'s; cross-attention in layers i % freq == 0; each query FFN starts as its text FFN; the head is tied by default', () => {
  const q = tiny();
  const names = [...q.namedParameters().keys()];
  expect(names[0]).toBe('query_tokens');
  expect(names).toContain('Qformer.bert.embeddings.word_embeddings.weight');
  expect(names).toContain('Qformer.bert.encoder.layer.0.crossattention.self.key.weight');
  expect(names).toContain('Qformer.bert.encoder.layer.1.output_query.LayerNorm.bias');
  expect(names).toContain('Qformer.cls.predictions.transform.dense.weight');
  expect(names).not.toContain('Qformer.cls.predictions.decoder.weight');
  expect(names.some((n) => n.includes('token_type'))).toBe(false);
  expect(q.bert.layers.map((l) => l.crossAttention !== undefined)).toEqual([true, false, true]);
  expect(q.cls!.decoderWeight).toBe(q.bert.embeddings.wordEmbeddings!.weight);
  for (const [text, query] of q.initTwins()) expect(Array.from(query.dataSync())).toEqual(Array.from(text.dataSync()));
  expect(q.initTwins().length).toBe(3 * 6);
  q.dispose();
  const untied = tiny({ lmHead: 'untied', crossAttentionFreq: 1 });
  expect(untied.namedParameters().has('Qformer.cls.predictions.decoder.weight')).toBe(true);
  expect(untied.bert.layers.every((l) => l.crossAttention !== undefined)).toBe(true);
  untied.dispose();
  const none = tiny({ lmHead: 'none' });
  expect(none.cls).toBeUndefined();
  expect(() => none.lmLogits(tf.zeros([1, 2, 8]))).toThrow("QFormer.lmLogits: built with lmHead 'none'");
  none.dispose();
});

test('the four masks: queries alone, text alone, both bidirectional, both multimodal-causal', () => {
  const q = tiny();
  tf.tidy(() => {
    const img = image();
    const alone = q.apply({ image: img });
    expect(alone.queryOutput!.shape).toEqual([2, 3, 8]);
    expect(alone.textOutput).toBeUndefined();
    const text = q.apply({ queries: false, ids: ids(), valid: valid() });
    expect(text.textOutput!.shape).toEqual([2, 6, 8]);
    // text alone is BERT's encoder on the text (no cross-attention, padding masked)
    expect(maxAbsDiff(text.textOutput!, q.bert.apply(ids(), valid()))).toBe(0);

    // causal: the query rows are the queries-only pass (queries never see text)
    const causal = q.apply({ image: img, ids: ids(), valid: valid(), causal: true });
    expect(maxAbsDiff(causal.queryOutput!, alone.queryOutput!)).toBeLessThan(1e-6);
    // ... and text row i does not depend on text after i, but does depend on the image (through the queries)
    const later = tf.tensor2d([[1, 5, 6, 12, 13, 0], [1, 9, 2, 0, 0, 0]], undefined, 'int32');
    const changed = q.apply({ image: img, ids: later, valid: valid(), causal: true });
    expect(maxAbsDiff(changed.textOutput!.slice([0, 0, 0], [2, 3, 8]), causal.textOutput!.slice([0, 0, 0], [2, 3, 8]))).toBeLessThan(1e-6);
    expect(maxAbsDiff(changed.textOutput!.slice([0, 3, 0], [1, 1, 8]), causal.textOutput!.slice([0, 3, 0], [1, 1, 8]))).toBeGreaterThan(1e-3);
    const otherImage = q.apply({ image: img.mul(-1), ids: ids(), valid: valid(), causal: true });
    expect(maxAbsDiff(otherImage.textOutput!, causal.textOutput!)).toBeGreaterThan(1e-3);

    // bidirectional: queries see the text (InstructBLIP's instruction, ITM)
    const both = q.apply({ image: img, ids: ids(), valid: valid() });
    expect(both.hidden.shape).toEqual([2, 9, 8]);
    expect(maxAbsDiff(both.queryOutput!, alone.queryOutput!)).toBeGreaterThan(1e-3);
    // padded text keys are masked: changing a padded id changes no unpadded row
    const pad = tf.tensor2d([[1, 5, 6, 7, 2, 17], [1, 9, 2, 0, 0, 0]], undefined, 'int32');
    const padded = q.apply({ image: img, ids: pad, valid: valid() });
    expect(maxAbsDiff(padded.hidden.slice([0, 0, 0], [2, 8, 8]), both.hidden.slice([0, 0, 0], [2, 8, 8]))).toBeLessThan(1e-6);
  });
  q.dispose();
});

test('bad input names what is wrong; a pass leaks nothing', () => {
  const q = tiny();
  expect(() => q.apply({ queries: false })).toThrow('QFormer.apply: needs queries, text ids or both');
  expect(() => q.apply({ ids: ids() })).toThrow('QFormer.apply: the queries need image features');
  expect(() => q.apply({ queries: false, ids: ids(), image: image() })).toThrow('image features without queries are unused');
  expect(() => q.apply({ image: tf.zeros([2, 5, 3]) })).toThrow('image features must be [B, M, 4], got [2,5,3]');
  expect(() => q.apply({ image: image(), ids: tf.zeros([3, 6], 'int32') })).toThrow('QFormer.apply: 2 images for 3 texts');
  expect(() => q.apply({ image: image(), ids: ids(), valid: tf.ones([2, 5]) })).toThrow('valid [2,5] does not match ids [2,6]');
  const plain = new BertLayer({ width: 8, numHeads: 2 });
  expect(() => plain.apply(tf.zeros([1, 4, 8]), { queryLength: 2 })).toThrow('BertLayer: query rows need a layer built with queryFfn');
  expect(() => plain.apply(tf.zeros([1, 4, 8]), { queryLength: 5 })).toThrow('BertLayer: queryLength 5 is not an integer in [0, 4]');
  plain.dispose();
  const [img, i, v] = [image(), ids(), valid()];
  const before = tf.memory().numTensors;
  const out = q.apply({ image: img, ids: i, valid: v, causal: true });
  tf.dispose([out.hidden, out.queryOutput!, out.textOutput!]);
  expect(tf.memory().numTensors).toBe(before);
  tf.dispose([img, i, v]);
  q.dispose();
});

test('ViT featureLayer builds the blocks up to it; attnBias qv gives q_bias and v_bias', () => {
  expect(blocksUpTo(40, -2)).toBe(39);
  expect(blocksUpTo(2, -1)).toBe(2);
  expect(blocksUpTo(4, 0)).toBe(1);
  expect(() => blocksUpTo(2, -3)).toThrow('featureLayer -3 names no block of a 2-block ViT (valid: -2..1)');
  const vit = new VisionTransformer({ imageSize: 8, patchSize: 4, channels: 1, width: 8, layers: 3, numHeads: 2, featureLayer: -2, attnBias: 'qv', lnPre: false, lnPost: false });
  const names = [...vit.namedParameters().keys()];
  expect(vit.transformer.blocks.length).toBe(2);
  expect(names).toContain('transformer.resblocks.1.attn.q_bias');
  expect(names).toContain('transformer.resblocks.1.attn.v_bias');
  expect(names.some((n) => n.includes('in_proj_bias') || n.includes('resblocks.2') || n.startsWith('ln_'))).toBe(false);
  vit.dispose();
});

test('weight names: EVA (LAVIS) and torchmultimodal ViTs onto core names', () => {
  expect(timmVitName('blocks.3.attn.q_bias')).toBe('transformer.resblocks.3.attn.q_bias');
  expect(lavisBlip2Name('visual_encoder.blocks.0.attn.v_bias')).toBe('visual_encoder.transformer.resblocks.0.attn.v_bias');
  expect(lavisBlip2Name('visual_encoder.pos_embed')).toBe('visual_encoder.positional_embedding');
  expect(lavisBlip2Name('Qformer.cls.predictions.decoder.weight')).toBeNull();
  expect(lavisBlip2Name('Qformer.cls.predictions.decoder.weight', false)).toBe('Qformer.cls.predictions.decoder.weight');
  expect(lavisBlip2Name('Qformer.bert.embeddings.position_ids')).toBeNull();
  expect(lavisBlip2Name('Qformer.bert.encoder.layer.0.output_query.dense.weight')).toBe('Qformer.bert.encoder.layer.0.output_query.dense.weight');
  expect(torchmultimodalVitName('encoder.layer.1.attention.input_proj.bias')).toBe('transformer.resblocks.1.attn.in_proj_bias');
  expect(torchmultimodalVitName('encoder.layer.0.feedforward.model.2.weight')).toBe('transformer.resblocks.0.mlp.c_proj.weight');
  expect(torchmultimodalVitName('encoder.final_layer_norm.bias')).toBe('ln_post.bias');
  expect(torchmultimodalVitName('embeddings.cls_token')).toBe('class_embedding');
  expect(torchmultimodalVitName('encoder.layer.0.dropout.weight')).toBeNull();
});

test('a module may merge several children into its own names', () => {
  class Two extends Module {
    constructor() {
      super();
      this.module('', new BertLayer({ width: 4, numHeads: 1, queryFfn: true }));
    }
  }
  const names = [...new Two().namedParameters().keys()];
  expect(names).toContain('intermediate.dense.weight');
  expect(names).toContain('intermediate_query.dense.weight');
  expect(names).toContain('output_query.LayerNorm.weight');
  expect(names).toContain('output.LayerNorm.weight');
  expect(names.some((n) => n.includes('merged'))).toBe(false);
});

test("text: false builds the queries-only Q-Former of a stage-2 bridge: no token tables, no text FFN, the same query rows", () => {
  const full = tiny({ lmHead: 'none' });
  const bare = tiny({ lmHead: 'none', text: false });
  const fullNames = [...full.namedParameters().keys()];
  const bareNames = [...bare.namedParameters().keys()];
  // exactly what LAVIS's Blip2OPT and MiniGPT-4 delete: word and position tables, every layer's intermediate / output
  const dropped = fullNames.filter((n) => !bareNames.includes(n));
  expect(dropped.every((n) => /embeddings\.(word|position)_embeddings|\.(intermediate|output)\.(dense|LayerNorm)\./.test(n))).toBe(true);
  expect(dropped).toHaveLength(2 + 3 * 6);
  expect(bareNames.every((n) => fullNames.includes(n))).toBe(true);
  const fullParams = full.namedParameters();
  for (const [n, v] of bare.namedParameters()) v.assign(fullParams.get(n)!);
  const before = tf.memory().numTensors;
  const img = image();
  const a = full.apply({ image: img }).queryOutput!;
  const b = bare.apply({ image: img }).queryOutput!;
  expect(maxAbsDiff(a, b)).toBe(0);
  const text = ids();
  expect(() => bare.apply({ image: img, ids: text })).toThrow('BertEmbeddings: built without token tables (words: false), it embeds no ids');
  tf.dispose([a, b, img, text]);
  expect(tf.memory().numTensors).toBe(before);
  expect(() => tiny({ text: false })).toThrow("QFormer: a Q-Former without text (text: false) has no LM head: set lmHead 'none'");
});
