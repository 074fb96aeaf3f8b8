import { Rng, Tensor, tf } from '@mmzoo/core';
import { BLIP, BlipConfigInput, BlipStepOutput, buildBlip, loadSalesforceBlip } from '@mmzoo/blip';
import { BACKENDS, expectClose, expectGradClose, readCase, readWeights, useBackend } from '../helpers/fixtures';
import { disposeAll, stepGrads } from '../helpers/step-grads';

// Parity with salesforce/BLIP BLIP_Pretrain on tests/fixtures/blip-tiny (copied from ../shared/goldens; see its README).
const golden = readCase('blip-tiny');
const weights = readWeights('blip-tiny');
const o = golden.outputs;
const c = golden.config;

const CONFIG: BlipConfigInput = {
  name: 'blip', embedDim: c.embed_dim, queueSize: c.queue_size, momentum: c.momentum, alpha: c.alpha, temp: 0.07,
  tempClamp: [0.001, 0.5], labelSmoothing: o.lm.label_smoothing, hardNegativeEps: 1e-4,
  vision: { imageSize: 32, patchSize: 8, channels: 3, width: 64, layers: 2, numHeads: 4, mlpRatio: 4, lnEps: 1e-6 },
  text: {
    contextLength: 32, vocabSize: 100, width: 64, layers: 2, numHeads: 4, mlpRatio: 4, lnEps: 1e-12, typeVocabSize: 0,
    maskValue: -10000, padId: 0, encId: 4, decId: 5,
  },
};

function build(): BLIP {
  const model = buildBlip(CONFIG);
  loadSalesforceBlip(model, weights);
  return model;
}

const inputs = () => ({
  images: tf.tensor(golden.inputs.images),
  ids: tf.tensor(golden.inputs.input_ids, undefined, 'int32'),
  valid: tf.tensor(golden.inputs.attention_mask, undefined, 'int32'),
  imageIds: [0, 1],
  alpha: golden.inputs.alpha as number,
  rng: new Rng(7),
});

/** BLIP names of the recorded gradients (the fixture's names are already ours). */
const GRAD_NAMES = Object.keys(golden.grads);

function runStep(model: BLIP, which: (out: BlipStepOutput) => Tensor, names: string[]): { out: BlipStepOutput; grads: Map<string, Tensor> } {
  return stepGrads(model, names, () => model.step(inputs()), which);
}

describe.each(BACKENDS)('BLIP parity with salesforce BLIP_Pretrain (blip-tiny) on %s', (backend) => {
  let model: BLIP;
  let out: BlipStepOutput;
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

  test('loads all 214 stored tensors (minus 3 position_ids buffers); tied names have no variable of their own', () => {
    const fresh = buildBlip(CONFIG);
    const res = loadSalesforceBlip(fresh, weights);
    expect(res.loaded.length).toBe(214 - 3);
    expect(res.skipped.sort()).toEqual(golden.weights.int64_buffers.filter((n: string) => n.endsWith('position_ids')).sort());
    expect(res.missing).toEqual(['idx_queue']);
    const names = new Set(fresh.namedParameters().keys());
    for (const tied of Object.keys(golden.weights.ties)) expect(names.has(tied)).toBe(false);
    fresh.dispose();
  });

  test('the shared cross-attention weight is one tensor in encoder and decoder; self-attention is not shared', () => {
    const enc = model.online.text.layers[0];
    const dec = model.decoder.bert.layers[0];
    const key = (l: typeof enc) => l.crossAttention!.namedParameters().get('self.key.weight');
    expect(key(dec)).toBe(key(enc));
    expect(dec.ffn).toBe(enc.ffn);
    expect(model.decoder.bert.embeddings).toBe(model.online.text.embeddings);
    expect(dec.attention.namedParameters().get('self.query.weight')).not.toBe(enc.attention.namedParameters().get('self.query.weight'));
    expect(model.decoder.cls!.decoderWeight).toBe(model.online.text.embeddings.wordEmbeddings!.weight);
    // the momentum encoder is an untied copy with its own cross-attention
    expect(key(model.momentumCopy.text.layers[0])).not.toBe(key(enc));
  });

  test('image and text encoders, features, momentum features', () => {
    expectClose(out.imageEmbeds, o.image_embeds, 'image_embeds');
    expectClose(out.imageFeat, o.image_feat, 'image_feat');
    expectClose(out.textEmbeds, o.text_last_hidden_state, 'text_last_hidden_state');
    expectClose(out.textFeat, o.text_feat, 'text_feat');
    expectClose(out.imageFeatM, o.image_feat_m, 'image_feat_m');
    expectClose(out.textFeatM, o.text_feat_m, 'text_feat_m');
  });

  test('ITC: similarities, soft targets, losses and the queue after the step', () => {
    expectClose(out.itc.simI2tM, o.sim_i2t_m, 'sim_i2t_m');
    expectClose(out.itc.simT2iM, o.sim_t2i_m, 'sim_t2i_m');
    expectClose(out.itc.targetsI2t, o.sim_i2t_targets, 'sim_i2t_targets');
    expectClose(out.itc.targetsT2i, o.sim_t2i_targets, 'sim_t2i_targets');
    expectClose(out.itc.simI2t, o.sim_i2t, 'sim_i2t');
    expectClose(out.itc.simT2i, o.sim_t2i, 'sim_t2i');
    expectClose(out.itc.parts.i2t, o.loss_i2t, 'loss_i2t');
    expectClose(out.itc.parts.t2i, o.loss_t2i, 'loss_t2i');
    expectClose(out.parts.itc, o.loss_ita, 'loss_ita');
    // [momentum feats | queue before the step] as BLIP concatenates them
    const before = (name: string) => weights.get(name)!;
    const all = (feat: Tensor, q: string) => tf.tidy(() => tf.concat([feat.transpose(), tf.tensor(before(q).data as Float32Array, before(q).shape)], 1));
    expectClose(all(out.imageFeatM, 'image_queue'), o.image_feat_all, 'image_feat_all');
    expectClose(all(out.textFeatM, 'text_queue'), o.text_feat_all, 'text_feat_all');
    expectClose(model.queue.get('image_queue'), o.queue_after.image_queue, 'image_queue after');
    expectClose(model.queue.get('text_queue'), o.queue_after.text_queue, 'text_queue after');
    expect(model.queue.position()).toBe(o.queue_after.queue_ptr);
  });

  test('ITM: [ENC] ids, hard-negative weights and indices (exact), grounded [CLS], logits and loss', () => {
    expect(out.itm.encoderIds.arraySync()).toEqual(o.itm.encoder_input_ids);
    expectClose(tf.tensor(out.itm.weightsT2i), o.itm.weights_t2i, 'weights_t2i');
    expectClose(tf.tensor(out.itm.weightsI2t), o.itm.weights_i2t, 'weights_i2t');
    expect(Array.from(out.itm.negImageForText)).toEqual(o.itm.neg_image_index_for_text);
    expect(Array.from(out.itm.negTextForImage)).toEqual(o.itm.neg_text_index_for_image);
    const b = 2;
    expect(Array.from(out.itm.imageIndex.subarray(b))).toEqual(o.itm.image_index_all);
    const textIdsAll = Array.from(out.itm.textIndex.subarray(b)).map((t) => (out.itm.encoderIds.arraySync() as number[][])[t]);
    expect(textIdsAll).toEqual(o.itm.text_ids_all);
    expectClose(out.itm.vlEmbeddings, o.itm.vl_embeddings, 'vl_embeddings');
    expectClose(out.itm.logits, o.itm.vl_output, 'vl_output');
    expect(Array.from(out.itm.labels.dataSync())).toEqual(o.itm.itm_labels);
    expectClose(out.parts.itm, o.itm.loss_itm, 'loss_itm');
  });

  test('LM: [DEC] ids, targets, logits, label-smoothed loss; total', () => {
    expect(out.lm.decoderIds.arraySync()).toEqual(o.lm.decoder_input_ids);
    expect(out.lm.targets.arraySync()).toEqual(o.lm.decoder_targets);
    expectClose(out.lm.logits, o.lm.logits, 'lm logits');
    expectClose(out.parts.lm, o.lm.loss_lm, 'loss_lm');
    expectClose(out.total, o.loss_total, 'loss_total');
  });

  test('the unsmoothed NLL is reported beside the smoothed loss: lm = 0.9 nll + 0.1 mean(-log p)', () => {
    tf.tidy(() => {
      const logits = tf.tensor(o.lm.logits).slice([0, 0, 0], [2, 15, 100]).reshape([-1, 100]);
      const targets = tf.tensor(o.lm.decoder_targets, undefined, 'int32').slice([0, 1], [2, 15]).reshape([-1]);
      const logp = tf.logSoftmax(logits);
      const valid = targets.notEqual(-100).toFloat();
      const nll = tf.oneHot(tf.where(valid.cast('bool'), targets, tf.zerosLike(targets)), 100).mul(logp).sum(1).neg().mul(valid).sum().div(valid.sum());
      const uniform = logp.mean(1).neg().mul(valid).sum().div(valid.sum());
      expect(valid.sum().dataSync()[0]).toBe(o.lm.num_target_tokens);
      expectClose(out.parts.lmNll, nll.dataSync()[0], 'lm nll');
      expectClose(nll.mul(0.9).add(uniform.mul(0.1)), o.lm.loss_lm, 'smoothing identity');
    });
  });

  test('gradients of the total loss', () => {
    for (const n of GRAD_NAMES) expectGradClose(grads.get(n)!, golden.grads[n], `grad ${n}`);
  });

  test('the shared cross-attention key gets ITM (encoder) and LM (decoder) gradients, none from ITC', () => {
    const p = golden.grad_parts_shared_cross_attention;
    for (const [part, pick] of [['d_loss_ita', (r: BlipStepOutput) => r.parts.itc], ['d_loss_itm', (r: BlipStepOutput) => r.parts.itm], ['d_loss_lm', (r: BlipStepOutput) => r.parts.lm]] as const) {
      const m = build();
      const run = runStep(m, pick, [p.param]);
      const g = run.grads.get(p.param)!;
      const ref = p[part] as number[][];
      if (ref.flat().every((v) => v === 0)) expect(tf.abs(g).max().dataSync()[0]).toBe(0);
      else expectGradClose(g, ref, `${part} ${p.param}`);
      disposeAll(run.out);
      run.grads.forEach((t) => t.dispose());
      m.dispose();
    }
  });
});

describe('BLIP options (cpu)', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  test('label smoothing 0: lm equals the NLL', () => {
    const model = buildBlip({ ...CONFIG, labelSmoothing: 0 });
    loadSalesforceBlip(model, weights);
    tf.tidy(() => {
      const out = model.step(inputs());
      expect(out.parts.lm.dataSync()[0]).toBe(out.parts.lmNll.dataSync()[0]);
      expect(out.parts.lm.dataSync()[0]).toBeLessThan(o.lm.loss_lm);
    });
    model.dispose();
  });

  test('without configured [ENC]/[DEC] the vocabulary grows by two rows for them', () => {
    const model = buildBlip({ ...CONFIG, text: { ...CONFIG.text, encId: undefined, decId: undefined } });
    expect(model.opts.encId).toBe(100);
    expect(model.opts.decId).toBe(101);
    expect(model.online.text.embeddings.wordEmbeddings!.weight.shape).toEqual([102, 64]);
    model.dispose();
  });
});
