import { Rng, Tensor, dualEncoderScores, l2Normalize, tf } from '@mmzoo/core';
import { Blip2ConfigInput, Blip2Qformer, Blip2StepOutput, buildBlip2, loadTorchmultimodalBlip2, torchmultimodalBlip2Name } from '@mmzoo/blip2';
import { BACKENDS, expectClose, expectGradClose, readCase, readWeights, useBackend } from '../helpers/fixtures';
import { disposeAll, stepGrads } from '../helpers/step-grads';

// Parity with torchmultimodal's BLIP2 + Blip2Phase1Loss on tests/fixtures/blip2-qformer-tiny (copied from
// ../shared/goldens; see its README): one stage-1 step, ITC + ITM + ITG, outputs, losses and gradients.
const golden = readCase('blip2-qformer-tiny');
const weights = readWeights('blip2-qformer-tiny');
const o = golden.outputs;
const c = golden.config;

const CONFIG: Blip2ConfigInput = {
  name: 'blip2', embedDim: c.embed_dim, temp: c.temp_init, tempClamp: null, labelSmoothing: c.label_smoothing, hardNegativeEps: 1e-4,
  vision: {
    imageSize: 32, patchSize: 8, channels: 3, width: 64, layers: 2, numHeads: 4, mlpRatio: 4, lnEps: 1e-6,
    featureLayer: -1, finalNorm: true, attnBias: 'qkv',
  },
  qformer: {
    contextLength: 16, vocabSize: 100, width: 48, layers: 2, numHeads: 4, mlpRatio: 4, numQueries: 8, crossAttentionFreq: 2,
    lnEps: 1e-12, maskValue: -10000, padId: 0, bosId: 3, lmHead: 'untied',
  },
};

function build(): Blip2Qformer {
  const model = buildBlip2(CONFIG);
  loadTorchmultimodalBlip2(model, weights);
  return model;
}

const inputs = () => ({
  images: tf.tensor(golden.inputs.images),
  ids: tf.tensor(golden.inputs.input_ids, undefined, 'int32'),
  valid: tf.tensor(golden.inputs.attention_mask, undefined, 'int32'),
  imageIds: golden.inputs.image_ids as number[],
  rng: new Rng(7),
});

/** the recorded gradients under our (LAVIS) names */
const GRAD_NAMES = Object.keys(golden.grads).map((n) => torchmultimodalBlip2Name(n)!);
const refGrad = (part: string, ours: string) => golden[part][Object.keys(golden.grads).find((n) => torchmultimodalBlip2Name(n) === ours)!];

function runStep(model: Blip2Qformer, which: (out: Blip2StepOutput) => Tensor, names: string[]): { out: Blip2StepOutput; grads: Map<string, Tensor> } {
  const x = inputs();
  const run = stepGrads(model, names, () => model.step(x), which);
  tf.dispose([x.images, x.ids, x.valid]);
  return run;
}

describe.each(BACKENDS)('BLIP-2 stage 1 parity with torchmultimodal (blip2-qformer-tiny) on %s', (backend) => {
  let model: Blip2Qformer;
  let out: Blip2StepOutput;
  let grads: Map<string, Tensor>;

  beforeAll(async () => {
    await useBackend(backend);
    model = build();
    ({ out, grads } = runStep(model, (r) => r.total, GRAD_NAMES));
  });
  afterAll(() => {
    disposeAll(out);
    grads.forEach((g) => g.dispose());
    model.dispose();
  });

  test('loads all 105 stored tensors but position_ids; layer 1 has no cross-attention', () => {
    const fresh = buildBlip2(CONFIG);
    const res = loadTorchmultimodalBlip2(fresh, weights);
    expect(res.loaded.length).toBe(104);
    expect(res.skipped).toEqual(['qformer.model.embeddings.position_ids']);
    expect(fresh.qformer.bert.layers.map((l) => l.crossAttention !== undefined)).toEqual([true, false]);
    expect(fresh.qformer.cls!.tied).toBe(false);
    fresh.dispose();
  });

  test('image encoder, ln_vision and the queries-only pass', () => {
    expectClose(tf.tidy(() => model.visual.apply(tf.tensor(golden.inputs.images)).tokens), o.vit_last_hidden_state, 'vit_last_hidden_state');
    expectClose(out.imageEmbeds, o.image_embeddings, 'image_embeddings');
    expectClose(out.queryOutput, o.query_output, 'query_output');
    expectClose(out.visionProjOut, o.vision_proj_out, 'vision_proj_out');
    expectClose(out.imageFeatures, o.image_features, 'image_features');
  });

  test('text-only pass and its features', () => {
    expectClose(out.textOutput, o.text_last_hidden_state, 'text_last_hidden_state');
    expectClose(out.textProjOut, o.text_proj_out, 'text_proj_out');
    expectClose(out.textFeatures, o.text_features, 'text_features');
  });

  test('ITC: per-query similarities, max over queries / temp, loss', () => {
    expectClose(out.itc.simQ2t, o.itc.sim_q2t, 'sim_q2t');
    expect(tf.tidy(() => out.itc.simQ2t.argMax(2).arraySync())).toEqual(o.itc.argmax_query_i2t);
    expectClose(out.itc.simI2t, o.itc.sim_i2t, 'sim_i2t');
    expectClose(out.itc.simT2i, o.itc.sim_t2i, 'sim_t2i');
    expectClose(out.parts.itc, o.itc.loss, 'loss_itc');
  });

  test('evaluation scores (DualEncoder): per-query embeddings, normalised, scored by the highest query-text cosine', () => {
    tf.tidy(() => {
      const images = tf.tensor(golden.inputs.images);
      const image = l2Normalize(model.encodeImage(images));
      const text = l2Normalize(model.encodeText(tf.tensor(golden.inputs.input_ids, undefined, 'int32')));
      const maxOverQueries = (o.itc.sim_q2t as number[][][]).map((row) => row.map((qs) => Math.max(...qs)));
      expectClose(dualEncoderScores(model, image, text), maxOverQueries, 'similarity');
    });
  });

  test('ITM: hard-negative weights and choices (exact), the 6 rows, per-query and mean logits, loss', () => {
    expectClose(tf.tensor(out.itm.weightsT2i), o.itm.neg_sampling_weights_t2i, 'weights_t2i');
    expectClose(tf.tensor(out.itm.weightsI2t), o.itm.neg_sampling_weights_i2t, 'weights_i2t');
    expect(Array.from(out.itm.negImageForText)).toEqual(o.itm.neg_image_idx_for_text);
    expect(Array.from(out.itm.negTextForImage)).toEqual(o.itm.neg_text_idx_for_image);
    expect(Array.from(out.itm.imageIndex)).toEqual(o.itm.image_index);
    const ids = golden.inputs.input_ids as number[][];
    expect(Array.from(out.itm.textIndex).map((t) => ids[t])).toEqual(o.itm.input_ids);
    const keyMask = Array.from(out.itm.textIndex).map((t) => [...Array(8).fill(1), ...golden.inputs.attention_mask[t]]);
    expect(keyMask).toEqual(o.itm.key_mask);
    expectClose(out.itm.hidden, o.itm.last_hidden_state, 'itm last_hidden_state');
    expectClose(out.itm.perQueryLogits, o.itm.per_query_logits, 'per_query_logits');
    expectClose(out.itm.logits, o.itm.logits, 'itm logits');
    expect(Array.from(out.itm.labels)).toEqual(o.itm.labels);
    expectClose(out.parts.itm, o.itm.loss, 'loss_itm');
  });

  test('ITG: decoder ids, targets, the multimodal causal mask, text states, scores, loss; total', () => {
    expect(out.itg.decoderIds.arraySync()).toEqual(o.itg.decoder_input_ids);
    const targets = out.itg.targets.arraySync() as number[][];
    expect(targets.map((r) => r.slice(1))).toEqual(o.itg.labels);
    const mask = tf.tidy(() => {
      const valid = tf.concat([tf.ones([2, 8]), tf.tensor(golden.inputs.attention_mask)], 1);
      return model.qformer.bert.attentionMask(valid, true, 8).equal(0).toInt().reshape([2, 24, 24]).arraySync();
    });
    expect(mask).toEqual(o.itg.attention_mask_full_equivalent);
    expectClose(out.itg.textOutput, o.itg.last_hidden_state, 'itg last_hidden_state');
    expectClose(out.itg.logits, o.itg.prediction_scores, 'prediction_scores');
    expectClose(out.parts.itg, o.itg.loss, 'loss_itg');
    expectClose(out.total, o.loss_total, 'loss_total');
  });

  test('gradients of the total loss (the frozen ViT gets none: not asked)', () => {
    for (const n of GRAD_NAMES) expectGradClose(grads.get(n)!, refGrad('grads', n), `grad ${n}`);
  });

  test('gradients of each part', () => {
    for (const [part, pick] of [['grads_itc', (r: Blip2StepOutput) => r.parts.itc], ['grads_itm', (r: Blip2StepOutput) => r.parts.itm], ['grads_itg', (r: Blip2StepOutput) => r.parts.itg]] as const) {
      const m = build();
      const run = runStep(m, pick, GRAD_NAMES);
      for (const n of GRAD_NAMES) {
        const ref = refGrad(part, n);
        const g = run.grads.get(n)!;
        if ([ref].flat(3).every((v: number) => v === 0)) expect(tf.tidy(() => tf.abs(g).max().dataSync()[0])).toBe(0);
        else expectGradClose(g, ref, `${part} ${n}`);
      }
      disposeAll(run.out);
      run.grads.forEach((t) => t.dispose());
      m.dispose();
    }
  });

  test('captioning: the first greedy token is the argmax of the golden ITG scores at [DEC]; too long a caption is refused', () => {
    const images = tf.tensor(golden.inputs.images);
    const before = tf.memory().numTensors;
    const suppress = [0, 1, 3];
    const out = model.caption(images, { strategy: 'greedy', maxLength: 4, endId: 2, suppressIds: suppress });
    expect(tf.memory().numTensors).toBe(before);
    const first = (o.itg.prediction_scores as number[][][]).map((rows) => {
      const row = rows[0].map((v, j) => (suppress.includes(j) ? -Infinity : v));
      return row.indexOf(Math.max(...row));
    });
    expect(out.tokens.map((t) => t[0])).toEqual(first);
    expect(out.tokens.every((t) => t.length >= 1 && t.length <= 4)).toBe(true);
    expect(() => model.caption(images, { strategy: 'greedy', maxLength: 16, endId: 2 })).toThrow("caption maxLength 16 exceeds the Q-Former's text positions (at most 15 after [DEC])");
    images.dispose();
  });

  test('a step leaks no tensor', () => {
    const before = tf.memory().numTensors;
    const x = inputs();
    tf.tidy(() => {
      model.step(x);
    });
    tf.dispose([x.images, x.ids, x.valid]);
    const batch = { image: tf.zeros([2, 3, 32, 32]), text: tf.tensor(golden.inputs.input_ids, undefined, 'int32'), imageIds: Int32Array.from([0, 1]), index: 0, seed: 1 };
    const loss = model.trainingLoss(batch);
    expect(Object.keys(loss.parts)).toEqual(['itc', 'itm', 'itg']);
    tf.dispose([loss.total, ...Object.values(loss.parts), batch.image, batch.text]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
