import { generateFromEmbeds, tf } from '@mmzoo/core';
import { Blip2LmConfigSchema, InstructBlipConfigSchema, MiniGpt4ConfigSchema, QFormerBridge, buildQFormerBridge, loadBridgeWeights } from '@mmzoo/blip2';
import { llamaConfigFromHf, optConfigFromHf } from '@mmzoo/lm';
import { BACKENDS, expectClose, readCase, readWeights, useBackend } from '../helpers/fixtures';
import {
  arangePositions, bridgeVisionQformer, expectGoldenLoss, expectLoadedAll, expectNoLeak, expectSplicedForward, expectStepLogits, imagePrompt,
  shiftedLabels, unsplicedLabels, useGoldenBridge,
} from '../helpers/bridge-golden';

// Full-pipeline parity of the stage-2 bridges (QFormerBridge built by buildQFormerBridge from a bridge config, weights
// by loadBridgeWeights) with three goldens copied from ../shared/goldens (see their READMEs): LAVIS Blip2OPT
// (blip2-opt-tiny), LAVIS Blip2VicunaInstruct (instructblip-tiny) and MiniGPT-4 (minigpt4-tiny). Each: the ViT and
// ln_vision, the Q-Former's query output (InstructBLIP: with the instruction), the soft prompt, the spliced input
// embeddings, mask and labels, the logits of the LM under the reference's mask and positions, the loss through the
// bridge's own trainingLoss, every recorded gradient, and generation through generateFromImages.

const NQ = 8;

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
  const ids = (golden.inputs.opt_input_ids as number[][]).map((row) => imagePrompt([], row));
  const mask = (golden.inputs.opt_attention_mask as number[][]).map((row) => [1, ...row]);
  const labels = shiftedLabels(o.targets).map((row) => unsplicedLabels(row, 0, NQ));
  const images = () => tf.tensor4d(golden.inputs.images);
  const batch = () => ({ image: images(), lm: tf.tensor2d(ids, undefined, 'int32'), labels: tf.tensor2d(labels, undefined, 'int32') });
  const state = useGoldenBridge(backend, 'blip2-opt-tiny', config, 'blip2_opt', gen.pad_token_id, batch);

  test('loads all 116 stored tensors but the position_ids buffer, every variable given (lm_head tied, not stored)', () => {
    expectLoadedAll(state(), ['Qformer.bert.embeddings.position_ids']);
  });

  test('ViT output, ln_vision, the queries-only Q-Former and opt_proj', () => {
    const { model } = state();
    tf.tidy(() => {
      expectClose(model.visual.apply(images()).tokens, o.vit_output, 'vit_output');
      const imageEmbeds = model.imageEmbeds(images());
      expectClose(imageEmbeds, o.image_embeds, 'image_embeds');
      expectClose(model.queryOutput(imageEmbeds), o.query_output, 'query_output');
      expectClose(model.softPrompt(images()), o.inputs_opt, 'inputs_opt');
    });
  });

  test('spliced inputs_embeds, mask and targets; the OPT logits at positions cumsum(mask) * mask - 1 (row + offset 2)', () => {
    const { model } = state();
    const positions = (m: tf.Tensor) => m.cumsum(1).mul(m).sub(1);
    tf.tidy(() => expect(positions(tf.tensor2d(o.attention_mask, undefined, 'int32')).add(2).arraySync()).toEqual(o.position_ids));
    expectSplicedForward(model, { ids, mask, labels, softPrompt: model.softPrompt(images()) }, o, positions);
  });

  test('trainingLoss: the loss over the 11 caption targets, and every recorded gradient', () => {
    expectGoldenLoss(state(), golden, labels);
  });

  test('generateFromImages: greedy after [queries; "a photo of"], eos banned at step 0, the ids and every step\'s logits', () => {
    const { model } = state();
    const x = images();
    const prompts = (gen.prompt_ids as number[][]).map((row) => imagePrompt([], row));
    const result = model.generateFromImages(x, prompts, { stopIds: [gen.eos_token_id], keepLogits: true });
    expect(result.tokens).toEqual(gen.output_ids);
    expectStepLogits(result, gen.step_logits, 'steps-first', 'generation');
    expectNoLeak(model, batch, () => model.generateFromImages(x, prompts, { stopIds: [gen.eos_token_id] }));
    x.dispose();
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
  const images = () => tf.tensor4d(golden.inputs.images);
  const text = () => tf.tensor2d(golden.inputs.qformer_input_ids, undefined, 'int32');
  const batch = () => ({ image: images(), lm: tf.tensor2d(ids, undefined, 'int32'), labels: tf.tensor2d(labels, undefined, 'int32'), text: text() });
  /** the generation prompts without LAVIS's left padding (the bridge pads them itself) */
  const prompts = (gen.prompt_ids as number[][]).map((row) => imagePrompt([], row.filter((t) => t !== LM_PAD)));
  const genText = () => tf.tensor2d(gen.qformer_input_ids, undefined, 'int32');
  const state = useGoldenBridge(backend, 'instructblip-tiny', config, 'instructblip', LM_PAD, batch);

  test('loads all 117 stored tensors but position_ids and the two rotary_emb.inv_freq buffers, every variable given', () => {
    expectLoadedAll(state(), [
      'Qformer.bert.embeddings.position_ids', 'llm_model.model.layers.0.self_attn.rotary_emb.inv_freq', 'llm_model.model.layers.1.self_attn.rotary_emb.inv_freq',
    ]);
  });

  test('ViT output; the Q-Former over [queries; instruction] (every row, the instruction mask), llm_proj of the query rows', () => {
    const { model } = state();
    tf.tidy(() => {
      expectClose(model.visual.apply(images()).tokens, o.vit_output, 'vit_output');
      const valid = text().notEqual(0).toInt();
      expect(tf.concat([tf.ones([2, NQ], 'int32'), valid], 1).arraySync()).toEqual(golden.inputs.qformer_attention_mask);
      expectClose(model.qformer.apply({ image: model.imageEmbeds(images()), ids: text(), valid }).hidden, o.qformer_last_hidden_state, 'qformer_last_hidden_state');
      expectClose(model.softPrompt(images(), text()), o.inputs_llm, 'inputs_llm');
    });
  });

  test('spliced inputs_embeds, mask and targets; the LLaMA logits at positions arange(L) under the padded mask', () => {
    const { model } = state();
    expectSplicedForward(model, { ids, mask, labels, softPrompt: model.softPrompt(images(), text()) }, o, arangePositions);
  });

  test('trainingLoss with the instruction as `text`: the loss over the 12 answer targets, and every recorded gradient', () => {
    expectGoldenLoss(state(), golden, labels);
  });

  test('the Q-Former reads the generation prompts: their query output', () => {
    const { model } = state();
    tf.tidy(() => expectClose(model.queryOutput(model.imageEmbeds(images()), genText()), gen.qformer_query_output, 'generation qformer_query_output'));
  });

  test('generateFromImages: repetition penalty 1.5 on generated ids only, eos banned at step 0; padding before the image gives LAVIS\'s ids and logits', () => {
    const { model } = state();
    const x = images();
    const t = genText();
    const result = model.generateFromImages(x, prompts, { text: t, stopIds: [gen.eos_token_id], keepLogits: true });
    // no row ends within 6 tokens, so LAVIS's replacement of pad 0 by eos changes nothing
    expect(gen.output_ids_after_lavis).toEqual(gen.output_ids);
    expect(result.tokens).toEqual(gen.output_ids);
    expectStepLogits(result, gen.step_logits, 'steps-first', 'generation');
    expectNoLeak(model, batch, () => model.generateFromImages(x, prompts, { text: t, stopIds: [gen.eos_token_id] }));
    tf.dispose([x, t]);
  });

  test('LAVIS\'s own layout (left padding between the queries and the prompt) from the bridge\'s soft prompt: same ids and logits', () => {
    const { model } = state();
    const embeds = tf.tidy(() => tf.concat([model.softPrompt(images(), genText()), model.lm.embedTokens(tf.tensor2d(gen.prompt_ids, undefined, 'int32'))], 1));
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
  const images = () => tf.tensor4d(golden.inputs.images);
  const batch = () => ({ image: images(), lm: tf.tensor2d(ids, undefined, 'int32'), labels: tf.tensor2d(labels, undefined, 'int32') });
  const state = useGoldenBridge(backend, 'minigpt4-tiny', config, 'minigpt4', PAD, batch);

  test('loads all 103 stored tensors but position_ids and the two rotary_emb.inv_freq buffers, every variable given', () => {
    expectLoadedAll(state(), [
      'Qformer.bert.embeddings.position_ids', 'llama_model.model.layers.0.self_attn.rotary_emb.inv_freq', 'llama_model.model.layers.1.self_attn.rotary_emb.inv_freq',
    ]);
  });

  test('ln_vision(ViT), the queries-only Q-Former and llama_proj', () => {
    const { model } = state();
    tf.tidy(() => {
      const imageEmbeds = model.imageEmbeds(images());
      expectClose(imageEmbeds, o.image_embeds, 'image_embeds');
      expectClose(model.queryOutput(imageEmbeds), o.query_output, 'query_output');
      expectClose(model.softPrompt(images()), o.inputs_llama, 'inputs_llama');
    });
  });

  test('the image spliced mid-prompt: inputs_embeds, mask and targets; the LLaMA logits at positions arange(39)', () => {
    const { model } = state();
    expectSplicedForward(model, { ids, mask: rows.map((r) => r.mask), labels, softPrompt: model.softPrompt(images()) }, o, arangePositions);
  });

  test('trainingLoss: the loss over the 18 answer targets, and the gradients of llama_proj (our llm_proj)', () => {
    expectGoldenLoss(state(), golden, labels);
  });

  test('chat: both turns in one generateFromImages call, startIds [bos], repetition penalty 1.05, stop on eos, `###` and `##` `#`', () => {
    const { model } = state();
    const x = images();
    const prompts = turns.map((t) => imagePrompt(t.segment_ids[0], t.segment_ids[1]));
    const chat = (keepLogits: boolean) => {
      const last = prompts.map(() => -1);
      return model.generateFromImages(x, prompts, {
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
    expectNoLeak(model, batch, () => chat(false));
    x.dispose();
  });
});

// ----------------------------------------------------------------------------------------------------------------
// loadBridgeWeights refuses what does not fit, and then leaves the bridge as it was.

describe('loadBridgeWeights refusals', () => {
  const mg = readCase('minigpt4-tiny').config;
  const opt = readCase('blip2-opt-tiny').config;
  const minigpt4 = (lm: unknown) => MiniGpt4ConfigSchema.parse({ name: 'minigpt4', ...bridgeVisionQformer(mg, false), lm });
  const llama = llamaConfigFromHf({ ...mg.llama, model_type: 'llama' });
  beforeAll(() => useBackend('cpu'));

  /** `load` throws `message` and no variable of the bridge changes */
  function expectRefused(model: QFormerBridge, load: () => unknown, message: RegExp | string): void {
    const before = new Map([...model.namedParameters()].map(([n, v]) => [n, Array.from(v.dataSync())]));
    expect(load).toThrow(message);
    for (const [n, v] of model.namedParameters()) expect([n, Array.from(v.dataSync())]).toEqual([n, before.get(n)]);
    model.dispose();
  }

  test('the wrong source layout: its projection and LM names are unexpected, ours missing', () => {
    const model = buildQFormerBridge(minigpt4(llama));
    expectRefused(model, () => loadBridgeWeights(model, readWeights('minigpt4-tiny'), 'instructblip'), /^loadStateDict: missing 2 \(in the model, not the checkpoint\): llm_proj\.weight, llm_proj\.bias; unexpected 25 .*: llama_model\.model\.embed_tokens\.weight/);
  });

  test("a LLaMA state dict for an OPT bridge: the LM's family is named", () => {
    const model = buildQFormerBridge(minigpt4(optConfigFromHf({ ...opt.opt, model_type: 'opt' })));
    expectRefused(model, () => loadBridgeWeights(model, readWeights('minigpt4-tiny'), 'minigpt4'), "loadBridgeWeights: a minigpt4 state dict holds a LLaMA under llama_model.*; the bridge's LM class is Opt");
  });

  test('a tensor missing from the LM: the LM loader names it after the rest passed its check', () => {
    const model = buildQFormerBridge(minigpt4(llama));
    const weights = readWeights('minigpt4-tiny');
    weights.delete('llama_model.model.norm.weight');
    expectRefused(model, () => loadBridgeWeights(model, weights, 'minigpt4'), /^loadStateDict: missing 1 \(in the model, not the checkpoint\): norm\.weight$/);
  });
});
