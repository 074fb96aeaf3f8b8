import { tf, Tensor, keyPaddingMask, loadStateDict } from '@mmzoo/core';
import { VLMo, buildVlmo, vlmoRename } from '@mmzoo/vlmo';
import { BACKENDS, expectClose, expectGradClose, readCase, readWeights, useBackend } from '../helpers/fixtures';

// Parity with microsoft/unilm VLMo on tests/fixtures/vlmo-tiny (copied from ../shared/goldens; see its README).
const golden = readCase('vlmo-tiny');
const weights = readWeights('vlmo-tiny');
const c = golden.config;

function build(): VLMo {
  const model = buildVlmo({
    name: 'vlmo',
    vision: { imageSize: c.image_size, patchSize: c.patch_size, channels: c.in_chans },
    text: { contextLength: c.max_text_len, vocabSize: c.vocab_size, maxTextLenOfInitCkpt: c.max_text_len_of_initckpt, startId: c.start_id, endId: c.end_id, padId: c.pad_id },
    width: c.embed_dim, layers: c.depth, numHeads: c.num_heads, mlpRatio: c.mlp_ratio, vlStart: c.vlffn_start_layer_index,
    objectives: { itc: 1, itm: 1, mlm: 0 },
  });
  loadStateDict(model.namedParameters(), weights, { rename: vlmoRename });
  return model;
}

/** Gradients of `loss` for every trainable parameter, by mmzoo name; null where no gradient reaches it. */
function allGrads(model: VLMo, loss: () => Tensor): Map<string, Tensor | null> {
  const params = [...model.trainableParameters()];
  const { value, grads } = tf.variableGrads(() => loss() as tf.Scalar, params.map(([, v]) => v));
  value.dispose();
  return new Map(params.map(([n, v]) => [n, grads[v.name] ?? null]));
}

function isZero(g: Tensor | null): boolean {
  return g === null || tf.tidy(() => g.abs().max().dataSync()[0]) === 0;
}

describe.each(BACKENDS)('VLMo parity with unilm (vlmo-tiny) on %s', (backend) => {
  let model: VLMo;
  const images = () => tf.tensor(golden.inputs.images);
  const ids = () => tf.tensor(golden.inputs.text_ids, undefined, 'int32');
  beforeAll(async () => {
    await useBackend(backend);
    model = build();
  });
  afterAll(() => model.dispose());

  test('loads all 91 reference tensors but the unused BERT position table', () => {
    const r = loadStateDict(model.namedParameters(), weights, { rename: vlmoRename });
    expect(r.loaded.length).toBe(90);
    expect(r.skipped).toEqual(['text_embeddings.position_embeddings.weight']);
  });

  test('relative position index matrices equal the reference exactly', () => {
    const idx = model.relativePositionIndices(c.max_text_len);
    expect(Array.from(idx.image.index)).toEqual(golden.inputs.relative_position_index.image.flat());
    expect(Array.from(idx.text.index)).toEqual(golden.inputs.relative_position_index.text.flat());
    expect(Array.from(idx.vl.index)).toEqual(golden.inputs.relative_position_index.vl.flat());
  });

  test('image-only mode (infer_image)', () => {
    tf.tidy(() => {
      const o = golden.outputs.image;
      const out = model.inferImage(images());
      expectClose(model.embedImage(images()), golden.outputs.debug.image_block0_input, 'image_block0_input');
      expectClose(out.feats, o.image_feats, 'image_feats');
      expectClose(out.cls, o.cls_feats, 'cls_feats');
      expectClose(out.clsVl!, o.cls_vlffn_feats, 'cls_vlffn_feats');
      expectClose(out.rawCls, o.raw_cls_feats, 'raw_cls_feats');
    });
  });

  test('text-only mode (infer_text)', () => {
    tf.tidy(() => {
      const o = golden.outputs.text;
      const out = model.inferText(ids());
      expectClose(model.textEmbeddings.apply(ids()), golden.outputs.debug.bert_text_embeddings, 'bert_text_embeddings');
      expectClose(out.feats, o.text_feats, 'text_feats');
      expectClose(out.cls, o.cls_feats, 'cls_feats');
      expectClose(out.clsVl!, o.cls_vlffn_feats, 'cls_vlffn_feats');
      expectClose(out.rawCls, o.raw_cls_feats, 'raw_cls_feats');
    });
  });

  test('fusion mode (infer), block outputs and ITC logits', () => {
    tf.tidy(() => {
      const o = golden.outputs.vl;
      const out = model.infer(images(), ids());
      expectClose(out.textFeats, o.text_feats, 'text_feats');
      expectClose(out.imageFeats, o.image_feats, 'image_feats');
      expectClose(out.cls, o.cls_feats, 'cls_feats');
      expectClose(out.rawCls, o.raw_cls_feats, 'raw_cls_feats');
      expectClose(out.itmLogits, o.itm_logits, 'itm_logits');
      const x = tf.concat([model.embedText(ids()), model.embedImage(images())], 1);
      expectClose(x, golden.outputs.debug.vl_block0_input, 'vl_block0_input');
      const L = c.max_text_len;
      const valid = tf.concat([model.textMask(ids()), tf.ones([2, c.num_image_tokens])], 1);
      const { hidden } = model.transformer.forward(x, {
        segments: [{ modality: 'language', length: L }, { modality: 'vision', length: c.num_image_tokens }],
        mask: keyPaddingMask(valid),
        biases: model.relPos.layerBiases(model.relativePositionIndices(L).vl),
      });
      hidden.forEach((h, i) => expectClose(h, golden.outputs.debug[`vl_block${i}_output`], `vl_block${i}_output`));
      const img = model.inferImage(images());
      const txt = model.inferText(ids());
      const li = img.cls.matMul(txt.cls, false, true).mul(model.logitScale.exp());
      expectClose(li, golden.outputs.itc.logits_per_image, 'logits_per_image');
      expectClose(li.transpose(), golden.outputs.itc.logits_per_text, 'logits_per_text');
      const lv = img.clsVl!.matMul(txt.clsVl!, false, true).mul(model.logitVlScale!.exp());
      expectClose(lv, golden.outputs.itc.vl_logits_per_image, 'vl_logits_per_image');
      expectClose(lv.transpose(), golden.outputs.itc.vl_logits_per_text, 'vl_logits_per_text');
    });
  });

  test('fusion-mode loss and gradients; unused parameters get none', () => {
    tf.tidy(() => {
      const loss = () => {
        const out = model.infer(images(), ids());
        return tf.concat([out.textFeats, out.imageFeats], 1).square().mean();
      };
      expectClose(loss(), golden.grads.loss_value, 'loss');
      const grads = allGrads(model, loss);
      const refNames = Object.keys(golden.grads).filter((k) => !['loss', 'loss_value', 'params_without_grad_in_vl_mode'].includes(k));
      for (const ref of refNames) {
        const g = grads.get(vlmoRename(ref)!);
        expect(g).toBeTruthy();
        expectGradClose(g!, golden.grads[ref], `grad ${ref}`);
      }
      const none = (golden.grads.params_without_grad_in_vl_mode as string[]).map(vlmoRename).filter((n): n is string => n !== null);
      for (const n of none) expect({ n, zero: isZero(grads.get(n) ?? null) }).toEqual({ n, zero: true });
      // every other parameter does receive a gradient in fusion mode
      for (const [n, g] of grads) if (!none.includes(n) && !n.startsWith('itc_') && n !== 'logit_scale' && n !== 'logit_vl_scale' && !n.startsWith('pooler') && !n.startsWith('itm_')) expect({ n, zero: isZero(g) }).toEqual({ n, zero: false });
    });
  });

  test('routing: image-only and text-only modes give the other experts and the VL experts exactly zero gradient', () => {
    tf.tidy(() => {
      const cases: [string, () => Tensor, RegExp, RegExp][] = [
        ['image', () => { const o = model.inferImage(images()); return o.feats.square().mean().add(o.cls.sum()).add(o.rawCls.sum()); }, /\.(norm2|ffn)\.(language|vl)\./, /\.(norm2|ffn)\.vision\./],
        ['text', () => { const o = model.inferText(ids()); return o.feats.square().mean().add(o.cls.sum()).add(o.rawCls.sum()); }, /\.(norm2|ffn)\.(vision|vl)\./, /\.(norm2|ffn)\.language\./],
      ];
      for (const [mode, loss, unused, used] of cases) {
        const grads = allGrads(model, loss);
        for (const [n, g] of grads) {
          if (unused.test(n)) expect({ mode, n, zero: isZero(g) }).toEqual({ mode, n, zero: true });
          if (used.test(n)) expect({ mode, n, zero: isZero(g) }).toEqual({ mode, n, zero: false });
        }
      }
      // the VL path of the unimodal modes (cls_vlffn_feats) uses exactly the VL experts of the top layers
      const grads = allGrads(model, () => model.inferImage(images()).clsVl!.sum());
      for (const [n, g] of grads) {
        const m = /^transformer\.blocks\.(\d+)\.(norm2|ffn)\.(\w+)\./.exec(n);
        if (!m) continue;
        const layer = Number(m[1]);
        const expectUsed = layer < c.vlffn_start_layer_index ? m[3] === 'vision' : m[3] === 'vl';
        expect({ n, zero: isZero(g) }).toEqual({ n, zero: !expectUsed });
      }
    });
  });

  test('no tensors leak from the three modes', () => {
    const img = images();
    const t = ids();
    tf.tidy(() => model.infer(img, t));
    const before = tf.memory().numTensors;
    tf.dispose(model.inferImage(img) as unknown as tf.TensorContainer);
    tf.dispose(model.inferText(t) as unknown as tf.TensorContainer);
    tf.dispose(model.infer(img, t) as unknown as tf.TensorContainer);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([img, t]);
  });
});
