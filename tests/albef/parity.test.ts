import { Rng, Tensor, adaptShapes, loadStateDict, tf } from '@mmzoo/core';
import { ALBEF, AlbefConfigInput, AlbefStepOutput, buildAlbef, loadTorchmultimodalAlbef, torchmultimodalAlbefName } from '@mmzoo/albef';
import { FIXTURE_CONFIG } from './fixture';
import { BACKENDS, expectClose, expectGradClose, readCase, readWeights, useBackend } from '../helpers/fixtures';
import { disposeAll, stepGrads } from '../helpers/step-grads';

// Parity with torchmultimodal's ALBEF on tests/fixtures/albef-tiny (copied from ../shared/goldens; see its README).
const golden = readCase('albef-tiny');
const weights = readWeights('albef-tiny');
const o = golden.outputs;

function build(overrides: Partial<AlbefConfigInput> = {}, strict = true): ALBEF {
  const model = buildAlbef({ ...FIXTURE_CONFIG, ...overrides } as AlbefConfigInput);
  if (strict) loadTorchmultimodalAlbef(model, weights);
  return model;
}

const inputs = () => ({
  images: tf.tensor(golden.inputs.images),
  ids: tf.tensor(golden.inputs.text_ids, undefined, 'int32'),
  valid: tf.tensor(golden.inputs.text_atts, undefined, 'int32'),
  imageIds: golden.inputs.image_ids as number[],
  alpha: golden.inputs.alpha as number,
  mlm: { ids: tf.tensor(golden.inputs.mlm.masked_text_ids, undefined, 'int32'), labels: tf.tensor(golden.inputs.mlm.labels, undefined, 'int32') },
  rng: new Rng(7),
});

/** Runs one step under variableGrads of `which` loss, keeping the whole output; grads keyed by fixture name. */
function runStep(model: ALBEF, which: (out: AlbefStepOutput) => Tensor, gradNames: string[]): { out: AlbefStepOutput; grads: Map<string, Tensor> } {
  return stepGrads(model, gradNames, () => model.step(inputs()), which, (n) => torchmultimodalAlbefName(n, 2));
}


describe.each(BACKENDS)('ALBEF parity with torchmultimodal (albef-tiny) on %s', (backend) => {
  let model: ALBEF;
  let out: AlbefStepOutput;
  let grads: Map<string, Tensor>;
  const gradNames = Object.keys(golden.grads);

  beforeAll(async () => {
    await useBackend(backend);
    model = build();
    ({ out, grads } = runStep(model, (r) => r.total, gradNames));
  });
  afterAll(() => {
    disposeAll(out);
    grads.forEach((g) => g.dispose());
    model.dispose();
  });

  test('loads every reference tensor and nothing else', () => {
    const fresh = build({}, false);
    const res = loadTorchmultimodalAlbef(fresh, weights);
    expect(res.loaded.length).toBe(259);
    expect(res.missing).toEqual([]);
    expect(fresh.namedParameters().size).toBe(259);
    fresh.dispose();
  });

  test('encoder outputs, projections and features (online and momentum)', () => {
    expectClose(out.imageEmbeds, o.image_embeddings, 'image_embeddings');
    expectClose(out.imageEmbedsM, o.image_embeddings_m, 'image_embeddings_m');
    expectClose(out.textEmbeds, o.text_embeddings, 'text_embeddings');
    expectClose(out.textEmbedsM, o.text_embeddings_m, 'text_embeddings_m');
    expectClose(out.fusionEmbeds, o.multimodal_embeddings, 'multimodal_embeddings');
    expectClose(out.visionProjCls, o.vision_proj_cls, 'vision_proj_cls');
    expectClose(out.textProjCls, o.text_proj_cls, 'text_proj_cls');
    expectClose(out.imageFeat, o.image_feat, 'image_feat');
    expectClose(out.textFeat, o.text_feat, 'text_feat');
    expectClose(out.imageFeatM, o.image_feat_m, 'image_feat_m');
    expectClose(out.textFeatM, o.text_feat_m, 'text_feat_m');
  });

  test('ITC: similarities with the queue, targets and loss', () => {
    expectClose(out.itc.simI2t, o.itc.sim_i2t, 'sim_i2t');
    expectClose(out.itc.simT2i, o.itc.sim_t2i, 'sim_t2i');
    expectClose(out.itc.simI2tM, o.itc.sim_i2t_m, 'sim_i2t_m');
    expectClose(out.itc.simT2iM, o.itc.sim_t2i_m, 'sim_t2i_m');
    expectClose(out.itc.groundTruth, o.itc.sim_targets, 'sim_targets');
    // soft = alpha softmax(sim_m) + (1 - alpha) targets, recomputed from the recorded momentum similarities
    const soft = tf.tidy(() => tf.softmax(tf.tensor(o.itc.sim_i2t_m), -1).mul(0.4).add(tf.tensor(o.itc.sim_targets).mul(0.6)));
    expectClose(out.itc.targetsI2t, soft.arraySync(), 'soft targets i2t');
    soft.dispose();
    expectClose(out.parts.itc, o.itc.loss, 'itc loss');
  });

  test('queue after the step', () => {
    const q = golden.queue_after;
    expectClose(model.queue.get('image_queue'), q.image_queue, 'image_queue');
    expectClose(model.queue.get('text_queue'), q.text_queue, 'text_queue');
    expect(Array.from(model.queue.queuedIds())).toEqual(q.idx_queue.flat());
    expect(model.queue.position()).toBe(q.queue_ptr[0]);
  });

  test('ITM: hard-negative weights and choices, negative fusion, logits and loss', () => {
    expectClose(tf.tensor(out.itm.weightsT2i), o.itm.hard_negative_weights_t2i, 'hard_negative_weights_t2i');
    expectClose(tf.tensor(out.itm.weightsI2t), o.itm.hard_negative_weights_i2t, 'hard_negative_weights_i2t');
    expect(Array.from(out.itm.negImageForText)).toEqual(o.itm.neg_image_idx_for_text);
    expect(Array.from(out.itm.negTextForImage)).toEqual(o.itm.neg_text_idx_for_image);
    expectClose(out.itm.fusionNeg, o.itm.multimodal_embeddings_neg, 'multimodal_embeddings_neg');
    expectClose(out.itm.vlEmbeddings, o.itm.vl_embeddings, 'vl_embeddings');
    expectClose(out.itm.logits, o.itm.logits, 'itm logits');
    expect(Array.from(out.itm.labels.dataSync())).toEqual(o.itm.labels);
    expectClose(out.parts.itm, o.itm.loss, 'itm loss');
    expectClose(out.parts.itc.add(out.parts.itm), o.loss_itc_plus_itm, 'loss_itc_plus_itm');
  });

  test('MLM: masked encoder outputs, logits and loss; total loss', () => {
    expectClose(out.mlm!.textEmbeds, o.mlm.text_embeddings_masked, 'text_embeddings_masked');
    expectClose(out.mlm!.fusionEmbeds, o.mlm.multimodal_embeddings_masked, 'multimodal_embeddings_masked');
    expectClose(out.mlm!.logits, o.mlm.logits, 'mlm logits');
    expectClose(out.parts.mlm, o.mlm.loss, 'mlm loss');
    expectClose(out.total, o.loss_total, 'loss_total');
  });

  test('momentum update moves the momentum weights by at most a few ulp', () => {
    let maxDiff = 0;
    for (const [online, m] of model.momentumPairs.pairs) {
      const d = tf.tidy(() => online.sub(m).abs().max().dataSync()[0]);
      maxDiff = Math.max(maxDiff, d);
    }
    expect(maxDiff).toBeLessThanOrEqual(4 * o.momentum_max_abs_diff_after_update);
  });

  test('gradients of the total loss', () => {
    for (const n of gradNames) expectGradClose(grads.get(n)!, golden.grads[n], `grad ${n}`);
  });

  test('gradients of ITC + ITM and of MLM separately', () => {
    for (const [key, pick] of [['grads_itc_itm', (r: AlbefStepOutput) => r.parts.itc.add(r.parts.itm)], ['grads_mlm', (r: AlbefStepOutput) => r.parts.mlm]] as const) {
      const m = build();
      const run = runStep(m, pick, gradNames);
      for (const n of gradNames) {
        const ref = golden[key][n];
        const flat = Array.isArray(ref) ? (ref as unknown[]).flat(2) as number[] : [ref as number];
        if (flat.every((v) => v === 0)) expect(run.grads.get(n)!.abs().max().dataSync()[0]).toBe(0);
        else expectGradClose(run.grads.get(n)!, ref, `${key} ${n}`);
      }
      disposeAll(run.out);
      run.grads.forEach((g) => g.dispose());
      m.dispose();
    }
  });
});

describe('ALBEF paper recipe options (cpu)', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  test('MLM distillation: loss = (1 - alpha) CE + alpha CE(softmax(momentum logits)), equal to the entropy when the momentum model equals the online one', () => {
    const model = build({ mlmDistill: true }, false);
    // the fixture has no momentum MLM head: load non-strictly, then copy the online weights into the momentum model
    const target = model.namedParameters();
    const rename = (n: string) => torchmultimodalAlbefName(n, 2);
    const r = loadStateDict(target, adaptShapes(weights, target, rename), { rename, strict: false });
    expect(r.missing.every((n: string) => n.startsWith('text_encoder_m.cls.'))).toBe(true);
    model.momentumPairs.copy();
    tf.tidy(() => {
      const out = model.step(inputs());
      const logits = tf.tensor(o.mlm.logits).reshape([-1, 100]);
      const labels = tf.tensor(golden.inputs.mlm.labels).reshape([-1]);
      const labelled = labels.notEqual(-100).toFloat();
      const logp = tf.logSoftmax(logits);
      const entropy = tf.softmax(logits).mul(logp).sum(-1).neg().mul(labelled).sum().div(labelled.sum());
      const expected = entropy.mul(0.4).add(o.mlm.loss * 0.6).dataSync()[0];
      // the momentum model moved by one EMA step of at most ~1e-7: compare at the fixture tolerance
      expectClose(out.parts.mlm, expected, 'distilled mlm loss');
      expectClose(out.parts.itc, o.itc.loss, 'itc loss unchanged');
    });
    model.dispose();
  });

  test('tied MLM decoder: the head uses the word-embedding variable itself and has no decoder weight of its own', () => {
    const model = buildAlbef({ ...FIXTURE_CONFIG, tieMlmHead: true, mlmDistill: true } as AlbefConfigInput);
    const names = [...model.namedParameters().keys()];
    expect(names).not.toContain('text_encoder.cls.predictions.decoder.weight');
    expect(names).toContain('text_encoder.cls.predictions.bias');
    expect(names).toContain('text_encoder_m.cls.predictions.bias');
    expect(model.online.text.cls!.decoderWeight).toBe(model.online.text.bert.embeddings.wordEmbeddings!.weight);
    expect(model.momentumCopy.text.cls!.decoderWeight).toBe(model.momentumCopy.text.bert.embeddings.wordEmbeddings!.weight);
    model.dispose();
  });

  test('temperature clamp: tau is clamped into [0.001, 0.5] at the start of a step; null leaves it alone', () => {
    for (const [clamp, expected] of [[[0.001, 0.5], 0.5], [null, 0.9]] as const) {
      const model = build({ tempClamp: clamp as [number, number] | null });
      model.temp.assign(tf.scalar(0.9));
      tf.tidy(() => {
        model.step(inputs());
      });
      expect(model.temp.dataSync()[0]).toBeCloseTo(expected, 6);
      model.dispose();
    }
  });

  test('paper defaults of the schema', () => {
    const model = buildAlbef({ ...FIXTURE_CONFIG, tempClamp: undefined, mlmDistill: undefined, tieMlmHead: undefined, hardNegativeEps: undefined } as unknown as AlbefConfigInput);
    expect(model.opts.tempClamp).toEqual([0.001, 0.5]);
    expect(model.opts.mlmDistill).toBe(true);
    expect(model.online.text.cls!.tied).toBe(true);
    expect(model.opts.hardNegativeEps).toBe(0);
    model.dispose();
  });
});
