import { tf, Tensor, loadStateDict } from '@mmzoo/core';
import { BEiT3, buildBeit3, beit3Rename } from '@mmzoo/beit3';
import { BACKENDS, expectClose, expectGradClose, readCase, readWeights, useBackend } from '../helpers/fixtures';

// Parity with microsoft/torchscale BEiT3 on tests/fixtures/beit3-tiny (copied from ../shared/goldens; see its README).
const golden = readCase('beit3-tiny');
const weights = readWeights('beit3-tiny');
const c = golden.config;

function build(): BEiT3 {
  const model = buildBeit3({
    name: 'beit3',
    vision: { imageSize: c.img_size, patchSize: c.patch_size, channels: c.in_chans },
    text: { contextLength: c.text_len, vocabSize: c.vocab_size, maxPositions: c.max_source_positions, startId: c.start_id, endId: c.end_id, padId: c.pad_id },
    width: c.embed_dim, layers: c.layers, numHeads: c.heads, mlpRatio: c.ffn_dim / c.embed_dim, lnEps: c.layernorm_eps,
    objectives: { mdm: 0, itc: 0 }, retrievalHeads: false,
  });
  loadStateDict(model.namedParameters(), weights, { rename: beit3Rename });
  return model;
}

describe.each(BACKENDS)('BEiT-3 parity with torchscale (beit3-tiny) on %s', (backend) => {
  let model: BEiT3;
  const images = () => tf.tensor(golden.inputs.images);
  const ids = () => tf.tensor(golden.inputs.text_ids, undefined, 'int32');
  const padding = () => tf.tensor(golden.inputs.text_padding_position, undefined, 'int32');
  const masked = () => tf.tensor(golden.inputs.vision_masked_position);
  beforeAll(async () => {
    await useBackend(backend);
    model = build();
  });
  afterAll(() => model.dispose());

  test('loads all 91 reference tensors', () => {
    const r = loadStateDict(model.namedParameters(), weights, { rename: beit3Rename });
    expect(r.loaded.length).toBe(91);
  });

  test('the padding mask derived from the ids equals text_padding_position', () => {
    tf.tidy(() => {
      const derived = ids().equal(tf.scalar(c.pad_id, 'int32')).toInt();
      expect(Array.from(derived.dataSync())).toEqual(golden.inputs.text_padding_position.flat());
    });
  });

  const cases: [string, () => { images?: Tensor; ids?: Tensor; textPadding?: Tensor; maskedPatches?: Tensor }][] = [
    ['image_only', () => ({ images: images() })],
    ['text_only', () => ({ ids: ids(), textPadding: padding() })],
    ['image_text', () => ({ images: images(), ids: ids(), textPadding: padding() })],
    ['image_text_masked_patches', () => ({ images: images(), ids: ids(), textPadding: padding(), maskedPatches: masked() })],
  ];
  test.each(cases)('case %s: encoder_out, layer inputs and outputs', (name, inputs) => {
    tf.tidy(() => {
      const ref = golden.cases[name];
      const out = model.forward(inputs());
      expect(out.splitPosition).toBe(ref.multiway_split_position);
      expect(Array.from(out.padding.dataSync())).toEqual(ref.encoder_padding_mask.flat().map(Number));
      expectClose(out.layerInput, ref.layer0_input, `${name} layer0_input`);
      expectClose(out.hidden[0], ref.layer0_output, `${name} layer0_output`);
      if (ref.layer1_output) expectClose(out.hidden[1], ref.layer1_output, `${name} layer1_output`);
      expectClose(out.encoderOut, ref.encoder_out, `${name} encoder_out`);
    });
  });

  test('image-text loss and gradients; mask_token gets none', () => {
    tf.tidy(() => {
      const loss = () => model.forward({ images: images(), ids: ids(), textPadding: padding() }).encoderOut.square().mean() as tf.Scalar;
      const params = [...model.trainableParameters()];
      const { value, grads } = tf.variableGrads(loss, params.map(([, v]) => v));
      expectClose(value, golden.grads.loss_value, 'loss');
      const byName = new Map(params.map(([n, v]) => [n, grads[v.name]]));
      for (const [ref, g] of Object.entries(golden.grads.params)) {
        const mine = byName.get(beit3Rename(ref)!);
        expect({ ref, present: mine !== undefined }).toEqual({ ref, present: true });
        expectGradClose(mine!, g, `grad ${ref}`);
      }
      for (const ref of golden.grads.params_without_grad as string[]) expect(byName.get(beit3Rename(ref)!)).toBeUndefined();
    });
  });

  test('routing: image-only input reaches only the vision (A) experts, text-only only the language (B) experts', () => {
    tf.tidy(() => {
      const params = [...model.trainableParameters()];
      for (const [mode, inputs, unused] of [
        ['image', { images: images() }, '.language.'],
        ['text', { ids: ids(), textPadding: padding() }, '.vision.'],
      ] as const) {
        const { grads } = tf.variableGrads(() => model.forward(inputs).encoderOut.square().mean() as tf.Scalar, params.map(([, v]) => v));
        for (const [n, v] of params) {
          if (!n.startsWith('encoder.')) continue;
          const g = grads[v.name];
          const zero = g === undefined || g.abs().max().dataSync()[0] === 0;
          expect({ mode, n, zero }).toEqual({ mode, n, zero: n.includes(unused) });
        }
      }
    });
  });

  test('no tensors leak from forward', () => {
    const img = images();
    const t = ids();
    tf.tidy(() => model.forward({ images: img, ids: t }));
    const before = tf.memory().numTensors;
    tf.dispose(model.forward({ images: img, ids: t }) as unknown as tf.TensorContainer);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([img, t]);
  });
});
