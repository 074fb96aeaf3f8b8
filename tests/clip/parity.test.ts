import { tf, loadStateDict } from '@mmzoo/core';
import { CLIP, buildClip } from '@mmzoo/clip';
import { BACKENDS, expectClose, expectGradClose, readCase, readWeights, useBackend } from '../helpers/fixtures';

// Parity with open_clip on tests/fixtures/clip-tiny (copied from ../shared/goldens; see its README).
const golden = readCase('clip-tiny');
const weights = readWeights('clip-tiny');
const c = golden.config;

function build(): CLIP {
  const model = buildClip({
    name: 'clip',
    embedDim: c.embed_dim,
    activation: 'quick_gelu',
    vision: { imageSize: c.vision.image_size, patchSize: c.vision.patch_size, channels: 3, width: c.vision.width, layers: c.vision.layers, numHeads: c.vision.heads },
    text: { contextLength: c.text.context_length, vocabSize: c.text.vocab_size, width: c.text.width, layers: c.text.layers, numHeads: c.text.heads, pool: 'argmax', eotId: c.text.end_id },
  });
  loadStateDict(model.namedParameters(), weights);
  return model;
}

describe.each(BACKENDS)('CLIP parity with open_clip (clip-tiny) on %s', (backend) => {
  let model: CLIP;
  const images = () => tf.tensor(golden.inputs.images);
  const text = () => tf.tensor(golden.inputs.text, undefined, 'int32');
  beforeAll(async () => {
    await useBackend(backend);
    model = build();
  });
  afterAll(() => model.dispose());

  test('loads every reference tensor and nothing else', () => {
    expect(loadStateDict(model.namedParameters(), weights).loaded.length).toBe(62);
  });

  test('outputs: features, logits, scale and intermediates', () => {
    tf.tidy(() => {
      const out = model.forward(images(), text());
      expectClose(out.imageFeatures, golden.outputs.image_features, 'image_features');
      expectClose(out.textFeatures, golden.outputs.text_features, 'text_features');
      expectClose(out.logitsPerImage, golden.outputs.logits_per_image, 'logits_per_image');
      expectClose(out.logitsPerText, golden.outputs.logits_per_text, 'logits_per_text');
      expectClose(out.logitScale, golden.outputs.logit_scale_exp, 'logit_scale_exp');
      expectClose(model.logitScaleLog, golden.outputs.logit_scale, 'logit_scale');
      expectClose(model.visual.embed(images()), golden.outputs.vision_tokens_after_ln_pre, 'vision_tokens_after_ln_pre');
      expectClose(model.text.apply(text()).tokens, golden.outputs.text_hidden_after_ln_final, 'text_hidden_after_ln_final');
    });
  });

  test('square-case loss and gradients', () => {
    tf.tidy(() => {
      const img = images().slice([0, 0, 0, 0], [2, -1, -1, -1]);
      const ids = text().slice([0, 0], [2, -1]);
      const sq = model.forward(img, ids);
      expectClose(sq.logitsPerImage, golden.outputs.square_case.logits_per_image, 'square logits_per_image');
      const params = model.namedParameters();
      const names = Object.keys(golden.grads);
      const { value, grads } = tf.variableGrads(() => model.loss(img, ids).total as tf.Scalar, names.map((n) => params.get(n)!));
      expectClose(value, golden.outputs.square_case.loss, 'loss');
      for (const n of names) expectGradClose(grads[params.get(n)!.name], golden.grads[n], `grad ${n}`);
    });
  });

  test('no tensors leak from forward and loss', () => {
    const img = images();
    const ids = text();
    tf.tidy(() => model.forward(img, ids)); // warm-up (kernels may cache)
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) tf.dispose(model.forward(img, ids));
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([img, ids]);
  });
});
