import { tf, loadStateDict, generate, Tensor } from '@mmzoo/core';
import { CoCa, CocaConfigInput, CocaConfigSchema, buildCoca } from '@mmzoo/coca';
import { BACKENDS, expectClose, expectGradClose, readCase, readWeights, useBackend } from '../helpers/fixtures';

// Parity with open_clip's CoCa on tests/fixtures/coca-tiny (copied from ../shared/goldens; see its README).
const golden = readCase('coca-tiny');
const weights = readWeights('coca-tiny');
const c = golden.config;
const o = golden.outputs;
const inter = o.intermediates;

/** The fixture's architecture; open_clip's pooler and CLS mask unless overridden. */
function config(over: { poolers?: 'paper' | 'open_clip'; clsMask?: 'paper' | 'open_clip' } = {}): CocaConfigInput {
  return {
    name: 'coca',
    embedDim: c.embed_dim,
    activation: 'gelu',
    vision: {
      imageSize: c.vision.image_size, patchSize: c.vision.patch_size, channels: 3, width: c.vision.width, layers: c.vision.layers,
      numHeads: c.vision.heads, poolers: over.poolers ?? 'open_clip', numQueries: c.vision.attn_pooler_queries, poolerHeads: c.vision.attn_pooler_heads,
    },
    text: {
      contextLength: c.text.context_length, vocabSize: c.text.vocab_size, width: c.text.width, layers: c.text.layers,
      numHeads: c.text.heads, padId: c.text.pad_id, clsMask: over.clsMask ?? 'open_clip',
    },
    decoder: { layers: c.multimodal.layers, numHeads: c.multimodal.heads },
    loss: { contrastiveWeight: c.loss.clip_loss_weight, captionWeight: c.loss.caption_loss_weight },
  };
}

function build(over: { poolers?: 'paper' | 'open_clip'; clsMask?: 'paper' | 'open_clip' } = {}): CoCa {
  const model = buildCoca(config(over));
  loadStateDict(model.namedParameters(), weights);
  return model;
}

describe.each(BACKENDS)('CoCa parity with open_clip (coca-tiny) on %s', (backend) => {
  let model: CoCa;
  const images = () => tf.tensor(golden.inputs.images);
  const text = () => tf.tensor(golden.inputs.text, undefined, 'int32');
  beforeAll(async () => {
    await useBackend(backend);
    model = build();
  });
  afterAll(() => model.dispose());

  test('loads every reference tensor and nothing else', () => {
    expect(loadStateDict(model.namedParameters(), weights).loaded.length).toBe(129);
  });

  test('outputs: features, logits and logit scale', () => {
    tf.tidy(() => {
      const out = model.forward(images(), text());
      expectClose(out.imageFeatures, o.image_features, 'image_features');
      expectClose(out.textFeatures, o.text_features, 'text_features');
      expectClose(out.imageFeaturesRaw, o.image_features_unnormalised, 'image_features_unnormalised');
      expectClose(out.textFeaturesRaw, o.text_features_unnormalised, 'text_features_unnormalised');
      expectClose(out.logits, o.logits, 'logits');
      expectClose(out.logitsPerImage, o.logits_per_image, 'logits_per_image');
      expectClose(out.logitsPerText, o.logits_per_text, 'logits_per_text');
      expectClose(out.logitScale, o.logit_scale_exp, 'logit_scale_exp');
      expectClose(model.logitScaleLog, o.logit_scale, 'logit_scale');
      expectClose(model.encodeImage(images()), o.image_features_unnormalised, 'encodeImage');
      expectClose(model.encodeText(text()), o.text_features_unnormalised, 'encodeText');
    });
  });

  test('intermediates: vision tokens, attentional pooler, text states and the text mask pattern', () => {
    tf.tidy(() => {
      const vit = model.visual.vit;
      expectClose(vit.embed(images()), inter.vision_tokens_after_ln_pre, 'vision_tokens_after_ln_pre');
      const tokens = vit.apply(images()).tokens;
      expectClose(tokens, inter.vision_tokens_after_transformer, 'vision_tokens_after_transformer');
      const pooled = model.visual.attnPool.apply(tokens);
      expectClose(pooled, inter.attn_pool_out_before_ln_post, 'attn_pool_out_before_ln_post');
      expectClose(model.visual.lnPost.apply(pooled), inter.attn_pool_out_after_ln_post, 'attn_pool_out_after_ln_post');
      expectClose(model.visual.apply(images()).tokens, inter.image_embs, 'image_embs');
      expectClose(model.text.hidden(text()), inter.text_hidden_after_transformer, 'text_hidden_after_transformer');
      expectClose(model.text.apply(text()).tokens, inter.text_token_embs, 'text_token_embs');
      const allowed = model.text.attentionMask(text())!.isFinite().toInt().squeeze([1]).arraySync();
      expect(allowed).toEqual(inter.text_attn_allowed);
    });
  });

  test('loss parts and gradients', () => {
    tf.tidy(() => {
      const parts = model.loss(images(), text()).parts;
      expectClose(parts.itc, o.loss.contrastive_unweighted, 'contrastive');
      expectClose(parts.cap, o.loss.caption_unweighted, 'caption');
      const params = model.namedParameters();
      const names = Object.keys(golden.grads);
      const { value, grads } = tf.variableGrads(() => model.loss(images(), text()).total as tf.Scalar, names.map((n) => params.get(n)!));
      expectClose(value, o.loss.total, 'total');
      expectClose(parts.itc.mul(c.loss.clip_loss_weight), o.loss.contrastive_weighted, 'contrastive_weighted');
      expectClose(parts.cap.mul(c.loss.caption_loss_weight), o.loss.caption_weighted, 'caption_weighted');
      for (const n of names) expectGradClose(grads[params.get(n)!.name], golden.grads[n], `grad ${n}`);
      const labels = text().slice([0, 1], [-1, -1]);
      expect(labels.notEqual(tf.scalar(c.text.pad_id, 'int32')).sum().arraySync()).toBe(o.loss.num_caption_label_tokens);
    });
  });

  test('greedy decoding through core generate: ids and step logits', () => {
    const g = golden.greedy;
    const img = tf.tidy(() => images().slice([g.image_index, 0, 0, 0], [1, -1, -1, -1]));
    const { next, dispose } = model.captioner(img);
    const seen: Float32Array[] = [];
    const record = (p: number[][], s: number[]) => {
      const rows = next(p, s);
      seen.push(rows[0]);
      return rows;
    };
    const out = generate(record, [[g.ids[0]]], { strategy: 'greedy', maxLength: g.steps });
    dispose();
    expect(out.sequences[0]).toEqual(g.ids);
    seen.forEach((row, i) => tf.tidy(() => expectClose(tf.tensor1d(row), g.step_logits[i], `step ${i} logits`)));
    const viaCaption = model.caption(img, g.ids[0], { strategy: 'greedy', maxLength: g.steps });
    expect(viaCaption.sequences[0]).toEqual(g.ids);
    img.dispose();
  });

  test('no tensors leak from forward, loss and captioning', () => {
    const img = images();
    const ids = text();
    tf.tidy(() => {
      model.loss(img, ids); // warm-up (kernels may cache)
    });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) {
      tf.dispose(Object.values(model.forward(img, ids)));
      tf.tidy(() => {
        model.loss(img, ids);
      });
    }
    model.caption(img, 98, { strategy: 'beam', beamSize: 2, maxLength: 3, endId: 99 });
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([img, ids]);
  });
});

describe('CoCa defaults and the paper variants (cpu)', () => {
  beforeAll(async () => useBackend('cpu'));

  test("the paper's designs are the defaults", () => {
    const cfg = CocaConfigSchema.parse({ ...config(), vision: { ...config().vision, poolers: undefined }, text: { ...config().text, clsMask: undefined } });
    expect(cfg.vision.poolers).toBe('paper');
    expect(cfg.text.clsMask).toBe('paper');
    expect(cfg.loss).toEqual({ contrastiveWeight: 1, captionWeight: 2 });
  });

  test("paper CLS mask: the CLS sees every non-pad token and itself; real-token rows are causal", () => {
    const model = buildCoca({ ...config(), text: { ...config().text, clsMask: undefined } });
    const ids = tf.tensor(golden.inputs.text, undefined, 'int32');
    const allowed = model.text.attentionMask(ids)!.isFinite().toInt().squeeze([1]).arraySync() as number[][][];
    const rows = golden.inputs.text as number[][];
    const l = rows[0].length;
    rows.forEach((row, b) => {
      const cls = allowed[b][l];
      for (let k = 0; k < l; k++) expect(cls[k]).toBe(row[k] !== 0 ? 1 : 0);
      expect(cls[l]).toBe(1);
      // a real token sees exactly the tokens up to itself, under both masks
      for (let q = 0; q < l; q++) {
        if (row[q] === 0) continue;
        for (let k = 0; k <= l; k++) expect(allowed[b][q][k]).toBe(k <= q ? 1 : 0);
        expect(allowed[b][q]).toEqual((inter.text_attn_allowed as number[][][])[b][q]);
      }
    });
    // open_clip's CLS sees the first pad and not itself
    const legacy = (inter.text_attn_allowed as number[][][])[0][l];
    const n = rows[0].filter((t) => t !== 0).length;
    expect(legacy[n]).toBe(1);
    expect(legacy[l]).toBe(0);
    ids.dispose();
    model.dispose();
  });

  test('paper CLS mask with the fixture weights changes only the text embedding, not the token states', () => {
    const paper = build({ clsMask: 'paper' });
    const ids = tf.tensor(golden.inputs.text, undefined, 'int32');
    tf.tidy(() => {
      // rows of real tokens are equal (pad rows see different keys: their outputs are never used)
      const out = paper.text.apply(ids);
      const rows = golden.inputs.text as number[][];
      const states = out.tokens.arraySync() as number[][][];
      rows.forEach((row, b) => row.forEach((t, q) => {
        if (t !== 0) expectClose(tf.tensor1d(states[b][q]), inter.text_token_embs[b][q], `token state ${b},${q} under the paper mask`);
      }));
      const diff = out.pooled.sub(tf.tensor(o.text_features_unnormalised)).abs().max().arraySync() as number;
      expect(diff).toBeGreaterThan(1e-2);
    });
    ids.dispose();
    paper.dispose();
  });

  test('paper poolers: a 1-query contrastive pooler and an N-query captioning pooler', () => {
    const model = buildCoca({ ...config(), vision: { ...config().vision, poolers: 'paper' } });
    const names = [...model.namedParameters().keys()];
    expect(names).toContain('visual.attn_pool_contrastive.query');
    expect(model.namedParameters().get('visual.attn_pool_contrastive.query')!.shape).toEqual([1, c.embed_dim]);
    expect(model.namedParameters().get('visual.attn_pool.query')!.shape).toEqual([c.vision.attn_pooler_queries, c.embed_dim]);
    // the open_clip weights load into the paper design once its extra pooler is allowed to be missing
    const res = loadStateDict(model.namedParameters(), weights, { strict: false });
    expect(res.unexpected).toEqual([]);
    expect(res.missing.every((n) => n.startsWith('visual.attn_pool_contrastive.'))).toBe(true);
    tf.tidy(() => {
      const img = tf.tensor(golden.inputs.images);
      const out = model.visual.apply(img);
      expect(out.pooled.shape).toEqual([2, c.embed_dim]);
      // all N queries feed the decoder
      expect(out.tokens.shape).toEqual([2, c.vision.attn_pooler_queries, c.embed_dim]);
      expectClose(out.tokens, inter.attn_pool_out_after_ln_post, 'paper tokens = ln_post(attn_pool)');
      const ids = tf.tensor(golden.inputs.text, undefined, 'int32');
      const loss = model.loss(img, ids);
      expect(Number.isFinite(loss.total.arraySync() as number)).toBe(true);
    });
    model.dispose();
  });

  test('pad positions contribute nothing to the captioning loss or its gradient', () => {
    const model = build();
    const params = model.namedParameters();
    const vars = [...params.values()].filter((v) => v.trainable);
    const img = tf.tensor(golden.inputs.images);
    const full = tf.tensor(golden.inputs.text, undefined, 'int32'); // [2, 16]: 10 and 11 trailing pads
    const short = full.slice([0, 0], [2, 6]); // the same captions with fewer pads
    const capLoss = (ids: Tensor) => () => tf.tidy(() => {
      const img2 = model.visual.apply(img).tokens;
      return model.captionLoss(model.decoder.apply(model.text.apply(ids).tokens, img2), ids) as tf.Scalar;
    });
    const a = tf.variableGrads(capLoss(full), vars);
    const b = tf.variableGrads(capLoss(short), vars);
    expectClose(a.value, o.loss.caption_unweighted, 'caption loss, 16 positions');
    expectClose(b.value, o.loss.caption_unweighted, 'caption loss, 6 positions');
    for (const v of vars) {
      // a variable the caption loss does not reach (contrastive side only) has no gradient in either case
      const zeros = new Float32Array(v.size);
      const ga = a.grads[v.name]?.dataSync() ?? zeros;
      const gb = b.grads[v.name]?.dataSync() ?? zeros;
      let maxDiff = 0;
      let maxRef = 0;
      for (let i = 0; i < ga.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(ga[i] - gb[i]));
        maxRef = Math.max(maxRef, Math.abs(ga[i]));
      }
      if (!(maxDiff <= 1e-5 + 1e-4 * maxRef)) throw new Error(`caption-loss gradient of ${v.name} depends on padding: ${maxDiff}`);
    }
    // the gradient reaching logits at positions whose label is padding is exactly zero
    const logits = tf.tidy(() => model.forward(img, full).logits);
    const g = tf.grad((x: Tensor) => model.captionLoss(x, full))(logits);
    const gArr = g.arraySync() as number[][][];
    const rows = golden.inputs.text as number[][];
    rows.forEach((row, bi) => {
      for (let t = 0; t + 1 < row.length; t++) {
        const norm = gArr[bi][t].reduce((s, x) => s + Math.abs(x), 0);
        if (row[t + 1] === 0) expect(norm).toBe(0);
        else expect(norm).toBeGreaterThan(0);
      }
    });
    tf.dispose([img, full, short, logits, g, a.value, b.value, ...Object.values(a.grads), ...Object.values(b.grads)]);
    model.dispose();
  });
});
