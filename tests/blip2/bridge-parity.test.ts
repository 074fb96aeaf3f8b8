import { IMAGE_TOKEN_INDEX, Tensor, generateFromEmbeds, spliceImageEmbeds, tf } from '@mmzoo/core';
import type { LossOutput } from '@mmzoo/core';
import {
  Blip2LmConfigSchema, InstructBlipConfigSchema, MiniGpt4ConfigSchema, QFormerBridge, bridgeWeightName, buildQFormerBridge, loadBridgeWeights,
} from '@mmzoo/blip2';
import type { BridgeWeightsSource } from '@mmzoo/blip2';
import { llamaConfigFromHf, optConfigFromHf } from '@mmzoo/lm';
import { BACKENDS, expectClose, expectGradClose, readCase, readWeights, useBackend } from '../helpers/fixtures';
import { disposeAll, stepGrads } from '../helpers/step-grads';
import { bridgeVisionQformer, expectStepLogits, imagePrompt, shiftedLabels, unsplicedLabels } from '../helpers/bridge-golden';

// Full-pipeline parity of the stage-2 bridges (QFormerBridge built by buildQFormerBridge from a bridge config, weights
// by loadBridgeWeights) with three goldens copied from ../shared/goldens (see their READMEs): LAVIS Blip2OPT
// (blip2-opt-tiny), LAVIS Blip2VicunaInstruct (instructblip-tiny) and MiniGPT-4 (minigpt4-tiny). Each: the ViT and
// ln_vision, the Q-Former's query output (InstructBLIP: with the instruction), the soft prompt, the spliced input
// embeddings, mask and labels, the logits of the LM under the reference's mask and positions, the loss through the
// bridge's own trainingLoss, every recorded gradient, and generation through generateFromImages.

const P = IMAGE_TOKEN_INDEX;
const NQ = 8;

/** A golden's bridge, its tensors loaded; `res` what the loader reported. */
function loadGolden(fixture: string, config: Parameters<typeof buildQFormerBridge>[0], source: BridgeWeightsSource, lmPadId: number) {
  const model = buildQFormerBridge(config, { tokenizers: { lm: { vocabSize: 0, padId: lmPadId } } });
  const weights = readWeights(fixture);
  const res = loadBridgeWeights(model, weights, source);
  return { model, res, stored: weights.size };
}

/** The loss of `batch` through trainingLoss and the gradients of the golden's `grads` (golden names), mapped to ours by bridgeWeightName. */
function lossAndGrads(model: QFormerBridge, golden: any, source: BridgeWeightsSource, batch: () => Record<string, Tensor>) {
  const names = Object.keys(golden.grads);
  const inputs = batch();
  const run = stepGrads(model, names, () => model.trainingLoss(inputs), (o: LossOutput) => o.total, (n) => bridgeWeightName(n, source));
  tf.dispose(Object.values(inputs));
  return run;
}

/** Every recorded gradient within tolerance (a zero golden gradient must be exactly zero here too). */
function expectGoldenGrads(grads: Map<string, Tensor>, golden: any): void {
  for (const [name, ref] of Object.entries(golden.grads)) {
    const g = grads.get(name)!;
    if ([ref].flat(4).every((v) => v === 0)) expect(tf.tidy(() => tf.abs(g).max().dataSync()[0])).toBe(0);
    else expectGradClose(g, ref, `grad ${name}`);
  }
}

/** The spliced embeddings, mask and labels of `ids` (rows with P) under `mask`, with shifted `labels`. */
function splice(model: QFormerBridge, ids: number[][], mask: number[][], labels: number[][], softPrompt: Tensor) {
  return spliceImageEmbeds(model.lm, tf.tensor2d(ids, undefined, 'int32'), softPrompt, {
    attentionMask: tf.tensor2d(mask, undefined, 'int32'), labels: tf.tensor2d(labels, undefined, 'int32'),
  });
}

/** One trainingLoss call on a fresh batch, everything disposed. */
function lossOnce(model: QFormerBridge, batch: () => Record<string, Tensor>): void {
  const inputs = batch();
  tf.dispose(Object.values(model.trainingLoss(inputs).parts));
  tf.dispose(Object.values(inputs));
}

/** A trainingLoss call plus one generation leave the tensor count unchanged. */
function expectNoLeak(run: () => void): void {
  run(); // warm-up (kernels, caches)
  const before = tf.memory().numTensors;
  run();
  expect(tf.memory().numTensors).toBe(before);
}

// ----------------------------------------------------------------------------------------------------------------
// BLIP-2 with OPT (LAVIS Blip2OPT): queries-only Q-Former, soft prompt first, "a photo of" prompt.

describe.each(BACKENDS)('BLIP-2 OPT golden (blip2-opt-tiny) through QFormerBridge on %s', (backend) => {
  const golden = readCase('blip2-opt-tiny');
  const c = golden.config;
  const o = golden.outputs;
  const gen = golden.generation;
  const config = Blip2LmConfigSchema.parse({
    name: 'blip2-lm', ...bridgeVisionQformer(c, false), lm: optConfigFromHf({ ...c.opt, model_type: 'opt' }),
    answer: { strategy: 'greedy', maxNewTokens: c.generate_kwargs.max_length, minNewTokens: c.generate_kwargs.min_length, repetitionPenalty: 1 },
  });
  const PAD = gen.pad_token_id as number;
  const ids = (golden.inputs.opt_input_ids as number[][]).map((row) => imagePrompt([], row));
  const mask = (golden.inputs.opt_attention_mask as number[][]).map((row) => [1, ...row]);
  const labels = shiftedLabels(o.targets).map((row) => unsplicedLabels(row, 0, NQ));
  const batch = () => ({ image: tf.tensor4d(golden.inputs.images), lm: tf.tensor2d(ids, undefined, 'int32'), labels: tf.tensor2d(labels, undefined, 'int32') });
  let model: QFormerBridge;
  let loaded: ReturnType<typeof loadGolden>;
  let run: ReturnType<typeof lossAndGrads>;

  beforeAll(async () => {
    await useBackend(backend);
    loaded = loadGolden('blip2-opt-tiny', config, 'blip2_opt', PAD);
    model = loaded.model;
    run = lossAndGrads(model, golden, 'blip2_opt', batch);
  });
  afterAll(() => {
    disposeAll(run.out);
    run.grads.forEach((g) => g.dispose());
    model.dispose();
  });

  test('loads all 116 stored tensors but the position_ids buffer, every variable given (lm_head tied, not stored)', () => {
    expect(loaded.res.skipped).toEqual(['Qformer.bert.embeddings.position_ids']);
    expect(loaded.res.loaded.length).toBe(loaded.stored - 1);
    expect(new Set(loaded.res.loaded)).toEqual(new Set(model.namedParameters().keys()));
  });

  test('ViT output, ln_vision, the queries-only Q-Former and opt_proj', () => {
    tf.tidy(() => {
      const images = tf.tensor4d(golden.inputs.images);
      expectClose(model.visual.apply(images).tokens, o.vit_output, 'vit_output');
      const imageEmbeds = model.imageEmbeds(images);
      expectClose(imageEmbeds, o.image_embeds, 'image_embeds');
      expectClose(model.queryOutput(imageEmbeds), o.query_output, 'query_output');
      expectClose(model.softPrompt(images), o.inputs_opt, 'inputs_opt');
    });
  });

  test('spliced inputs_embeds, mask and targets; the OPT logits at positions cumsum(mask) * mask - 1 (+ offset 2)', () => {
    tf.tidy(() => {
      const spliced = splice(model, ids, mask, labels, model.softPrompt(tf.tensor4d(golden.inputs.images)));
      expectClose(spliced.embeds, o.inputs_embeds, 'inputs_embeds');
      expect(spliced.attentionMask!.arraySync()).toEqual(o.attention_mask);
      expect(spliced.labels!.arraySync()).toEqual(shiftedLabels(o.targets));
      const positionIds = spliced.attentionMask!.cumsum(1).mul(spliced.attentionMask!).sub(1);
      expect(positionIds.add(2).arraySync()).toEqual(o.position_ids);
      expectClose(model.lm.forward(spliced.embeds, { attentionMask: spliced.attentionMask, positionIds }).logits, o.logits, 'logits');
    });
  });

  test('trainingLoss: the loss over the 11 caption targets, and every recorded gradient', () => {
    expect(labels.flat().filter((t) => t !== -100).length).toBe(o.loss_token_count);
    expectClose(run.out.total, o.loss, 'loss');
    expectClose(run.out.parts.lm, o.loss, 'parts.lm');
    expectGoldenGrads(run.grads, golden);
  });

  test('generateFromImages: greedy after [queries; "a photo of"], eos banned at step 0, the ids and every step\'s logits', () => {
    const images = tf.tensor4d(golden.inputs.images);
    const prompts = (gen.prompt_ids as number[][]).map((row) => imagePrompt([], row));
    const result = model.generateFromImages(images, prompts, { stopIds: [gen.eos_token_id], keepLogits: true });
    expect(result.tokens).toEqual(gen.output_ids);
    expectStepLogits(result, gen.step_logits, 'steps-first', 'generation');
    expectNoLeak(() => {
      lossOnce(model, batch);
      model.generateFromImages(images, prompts, { stopIds: [gen.eos_token_id] });
    });
    images.dispose();
  });
});

// ----------------------------------------------------------------------------------------------------------------
// InstructBLIP (LAVIS Blip2VicunaInstruct): the instruction beside the queries in the Q-Former, a LLaMA LM.

describe.each(BACKENDS)('InstructBLIP golden (instructblip-tiny) through QFormerBridge on %s', (backend) => {
  const golden = readCase('instructblip-tiny');
  const c = golden.config;
  const o = golden.outputs;
  const gen = golden.generation;
  const g = c.generate_kwargs;
  const config = InstructBlipConfigSchema.parse({
    name: 'instructblip', ...bridgeVisionQformer(c, true), lm: llamaConfigFromHf({ ...c.llm, model_type: 'llama' }),
    answer: { strategy: 'greedy', maxNewTokens: g.max_length, minNewTokens: g.min_length, repetitionPenalty: g.repetition_penalty },
  });
  const LM_PAD = c.token_ids.llm['[PAD] (added by LAVIS, tokenizer pad)'] as number;
  const ids = (golden.inputs.llm_input_ids as number[][]).map((row) => imagePrompt([], row));
  const mask = (golden.inputs.llm_attention_mask as number[][]).map((row) => [1, ...row]);
  const labels = shiftedLabels(o.targets).map((row) => unsplicedLabels(row, 0, NQ));
  const text = () => tf.tensor2d(golden.inputs.qformer_input_ids, undefined, 'int32');
  const batch = () => ({ image: tf.tensor4d(golden.inputs.images), lm: tf.tensor2d(ids, undefined, 'int32'), labels: tf.tensor2d(labels, undefined, 'int32'), text: text() });
  /** the generation prompts without LAVIS's left padding (the bridge pads them itself) */
  const prompts = (gen.prompt_ids as number[][]).map((row) => imagePrompt([], row.filter((t) => t !== LM_PAD)));
  const genText = () => tf.tensor2d(gen.qformer_input_ids, undefined, 'int32');
  let model: QFormerBridge;
  let loaded: ReturnType<typeof loadGolden>;
  let run: ReturnType<typeof lossAndGrads>;

  beforeAll(async () => {
    await useBackend(backend);
    loaded = loadGolden('instructblip-tiny', config, 'instructblip', LM_PAD);
    model = loaded.model;
    run = lossAndGrads(model, golden, 'instructblip', batch);
  });
  afterAll(() => {
    disposeAll(run.out);
    run.grads.forEach((t) => t.dispose());
    model.dispose();
  });

  test('loads all 117 stored tensors but position_ids and the two rotary_emb.inv_freq buffers, every variable given', () => {
    expect(loaded.res.skipped.sort()).toEqual(['Qformer.bert.embeddings.position_ids', 'llm_model.model.layers.0.self_attn.rotary_emb.inv_freq', 'llm_model.model.layers.1.self_attn.rotary_emb.inv_freq']);
    expect(loaded.res.loaded.length).toBe(loaded.stored - 3);
    expect(new Set(loaded.res.loaded)).toEqual(new Set(model.namedParameters().keys()));
  });

  test('ViT output; the Q-Former over [queries; instruction] (every row, the instruction mask), llm_proj of the query rows', () => {
    tf.tidy(() => {
      const images = tf.tensor4d(golden.inputs.images);
      expectClose(model.visual.apply(images).tokens, o.vit_output, 'vit_output');
      const ids = text();
      const valid = ids.notEqual(0).toInt();
      expect(tf.concat([tf.ones([2, NQ], 'int32'), valid], 1).arraySync()).toEqual(golden.inputs.qformer_attention_mask);
      const imageEmbeds = model.imageEmbeds(images);
      expectClose(model.qformer.apply({ image: imageEmbeds, ids, valid }).hidden, o.qformer_last_hidden_state, 'qformer_last_hidden_state');
      expectClose(model.softPrompt(images, ids), o.inputs_llm, 'inputs_llm');
    });
  });

  test('spliced inputs_embeds, mask and targets; the LLaMA logits at positions arange(L) under the padded mask', () => {
    tf.tidy(() => {
      const spliced = splice(model, ids, mask, labels, model.softPrompt(tf.tensor4d(golden.inputs.images), text()));
      expectClose(spliced.embeds, o.inputs_embeds, 'inputs_embeds');
      expect(spliced.attentionMask!.arraySync()).toEqual(o.attention_mask);
      expect(spliced.labels!.arraySync()).toEqual(shiftedLabels(o.targets));
      const positionIds = tf.range(0, spliced.embeds.shape[1]!, 1, 'int32').reshape([1, -1]);
      expectClose(model.lm.forward(spliced.embeds, { attentionMask: spliced.attentionMask, positionIds }).logits, o.logits, 'logits');
    });
  });

  test('trainingLoss with the instruction as `text`: the loss over the 12 answer targets, and every recorded gradient', () => {
    expect(labels.flat().filter((t) => t !== -100).length).toBe(o.loss_token_count);
    expectClose(run.out.total, o.loss, 'loss');
    expectGoldenGrads(run.grads, golden);
  });

  test('the Q-Former reads the generation prompts: their query output', () => {
    tf.tidy(() => expectClose(model.queryOutput(model.imageEmbeds(tf.tensor4d(golden.inputs.images)), genText()), gen.qformer_query_output, 'generation qformer_query_output'));
  });

  test('generateFromImages: repetition penalty 1.5 on generated ids only, eos banned at step 0; padding before the image gives LAVIS\'s ids and logits', () => {
    const images = tf.tensor4d(golden.inputs.images);
    const text = genText();
    const result = model.generateFromImages(images, prompts, { text, stopIds: [gen.eos_token_id], keepLogits: true });
    // no row ends within 6 tokens, so LAVIS's replacement of pad 0 by eos changes nothing
    expect(gen.output_ids_after_lavis).toEqual(gen.output_ids);
    expect(result.tokens).toEqual(gen.output_ids);
    expectStepLogits(result, gen.step_logits, 'steps-first', 'generation');
    expectNoLeak(() => {
      lossOnce(model, batch);
      model.generateFromImages(images, prompts, { text, stopIds: [gen.eos_token_id] });
    });
    tf.dispose([images, text]);
  });

  test('LAVIS\'s own layout (left padding between the queries and the prompt) from the bridge\'s soft prompt: same ids and logits', () => {
    const embeds = tf.tidy(() => tf.concat([
      model.softPrompt(tf.tensor4d(golden.inputs.images), genText()), model.lm.embedTokens(tf.tensor2d(gen.prompt_ids, undefined, 'int32')),
    ], 1));
    const result = generateFromEmbeds(model.lm, { embeds, mask: gen.attention_mask }, { ...model.answerOptions(), stopIds: [gen.eos_token_id], keepLogits: true });
    embeds.dispose();
    expect(result.tokens).toEqual(gen.output_ids);
    expectStepLogits(result, gen.step_logits, 'steps-first', 'LAVIS layout');
  });
});

// ----------------------------------------------------------------------------------------------------------------
// MiniGPT-4: the image mid-prompt, the LLaMA's bos before the whole row, chat turns that stop on `###`.

describe.each(BACKENDS)('MiniGPT-4 golden (minigpt4-tiny) through QFormerBridge on %s', (backend) => {
  const golden = readCase('minigpt4-tiny');
  const c = golden.config;
  const o = golden.outputs;
  const turns = golden.generation as any[];
  const kw = turns[0].generate_kwargs;
  const config = MiniGpt4ConfigSchema.parse({
    name: 'minigpt4', ...bridgeVisionQformer(c, false), lm: llamaConfigFromHf({ ...c.llama, model_type: 'llama' }),
    // transformers 4.30's min_length 1 counts the bos input_ids start with: it never bans eos
    answer: { strategy: 'greedy', maxNewTokens: kw.max_new_tokens, minNewTokens: 0, repetitionPenalty: kw.repetition_penalty },
  });
  const BOS = c.llama.bos_token_id as number;
  const PAD = c.token_ids['$$ (pad, set by init_llm)'] as number;
  const LC = (o.cond_atts as number[][])[0].length;
  /** row b: [bos; seg0; image; seg1; answer ids (their padding included); the prompt's padding] (the README's layout) */
  const row = (b: number) => {
    const [seg0, seg1] = o.prompt_segment_ids[b] as number[][];
    const pads = LC - o.input_lens[b];
    return {
      ids: [BOS, ...imagePrompt(seg0, seg1), ...o.regress_ids[b], ...new Array<number>(pads).fill(PAD)],
      mask: [1, ...seg0.map(() => 1), 1, ...seg1.map(() => 1), ...o.regress_atts[b], ...new Array<number>(pads).fill(0)],
      at: 1 + seg0.length,
    };
  };
  const rows = [row(0), row(1)];
  const ids = rows.map((r) => r.ids);
  const labels = shiftedLabels(o.targets).map((l, b) => unsplicedLabels(l, rows[b].at, NQ));
  const batch = () => ({ image: tf.tensor4d(golden.inputs.images), lm: tf.tensor2d(ids, undefined, 'int32'), labels: tf.tensor2d(labels, undefined, 'int32') });
  let model: QFormerBridge;
  let loaded: ReturnType<typeof loadGolden>;
  let run: ReturnType<typeof lossAndGrads>;

  beforeAll(async () => {
    await useBackend(backend);
    loaded = loadGolden('minigpt4-tiny', config, 'minigpt4', PAD);
    model = loaded.model;
    run = lossAndGrads(model, golden, 'minigpt4', batch);
  });
  afterAll(() => {
    disposeAll(run.out);
    run.grads.forEach((t) => t.dispose());
    model.dispose();
  });

  test('loads all 103 stored tensors but position_ids and the two rotary_emb.inv_freq buffers, every variable given', () => {
    expect(loaded.res.skipped.sort()).toEqual(['Qformer.bert.embeddings.position_ids', 'llama_model.model.layers.0.self_attn.rotary_emb.inv_freq', 'llama_model.model.layers.1.self_attn.rotary_emb.inv_freq']);
    expect(loaded.res.loaded.length).toBe(loaded.stored - 3);
    expect(new Set(loaded.res.loaded)).toEqual(new Set(model.namedParameters().keys()));
  });

  test('ln_vision(ViT), the queries-only Q-Former and llama_proj', () => {
    tf.tidy(() => {
      const images = tf.tensor4d(golden.inputs.images);
      const imageEmbeds = model.imageEmbeds(images);
      expectClose(imageEmbeds, o.image_embeds, 'image_embeds');
      expectClose(model.queryOutput(imageEmbeds), o.query_output, 'query_output');
      expectClose(model.softPrompt(images), o.inputs_llama, 'inputs_llama');
    });
  });

  test('the image spliced mid-prompt: inputs_embeds, mask and targets; the LLaMA logits at positions arange(39)', () => {
    tf.tidy(() => {
      const spliced = splice(model, ids, rows.map((r) => r.mask), labels, model.softPrompt(tf.tensor4d(golden.inputs.images)));
      expectClose(spliced.embeds, o.inputs_embeds, 'inputs_embeds');
      expect(spliced.attentionMask!.arraySync()).toEqual(o.attention_mask);
      expect(spliced.labels!.arraySync()).toEqual(shiftedLabels(o.targets));
      const positionIds = tf.range(0, spliced.embeds.shape[1]!, 1, 'int32').reshape([1, -1]);
      expectClose(model.lm.forward(spliced.embeds, { attentionMask: spliced.attentionMask, positionIds }).logits, o.logits, 'logits');
    });
  });

  test('trainingLoss: the loss over the 18 answer targets, and the gradients of llama_proj (our llm_proj)', () => {
    expect(labels.flat().filter((t) => t !== -100).length).toBe(o.loss_token_count);
    expectClose(run.out.total, o.loss, 'loss');
    expectGoldenGrads(run.grads, golden);
  });

  test('chat: both turns in one generateFromImages call, startIds [bos], repetition penalty 1.05, stop on eos, `###` and `##` `#`', () => {
    const images = tf.tensor4d(golden.inputs.images);
    const prompts = turns.map((t) => imagePrompt(t.segment_ids[0], t.segment_ids[1]));
    const chat = (keepLogits: boolean) => {
      const last = prompts.map(() => -1);
      return model.generateFromImages(images, prompts, {
        startIds: prompts.map(() => [BOS]), stopIds: [c.llama.eos_token_id, 4], keepLogits,
        // demo.py's stop word [5, 6] (`##` then `#`); [4] (`###`) is a stop id
        onToken: (source, token) => {
          const stop = last[source] === 5 && token === 6;
          last[source] = token;
          return stop;
        },
      });
    };
    expect(prompts.map((p) => p.length - 1 + NQ)).toEqual(turns.map((t) => t.context_len));
    const result = chat(true);
    expect(result.sequences).toEqual(turns.map((t) => t.output_ids));
    expectStepLogits(result, turns.map((t) => t.step_logits), 'rows-first', 'chat');
    expectNoLeak(() => {
      lossOnce(model, batch);
      chat(false);
    });
    images.dispose();
  });
});
