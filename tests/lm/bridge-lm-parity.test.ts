import { tf, IMAGE_TOKEN_INDEX, RawTensor, generateFromEmbeds, spliceImageEmbeds, toTensor } from '@mmzoo/core';
import { Llama, LlamaConfigSchema, Opt, OptConfigSchema, buildLlama, buildOpt, loadLlamaWeights, loadOptWeights } from '@mmzoo/lm';
import { BACKENDS, expectClose, readCase, readWeights, useBackend } from '../helpers/fixtures';

// The language-model side of three bridge goldens (tests/fixtures/minigpt4-tiny, instructblip-tiny and
// blip2-opt-tiny, copied from ../shared/goldens; see their READMEs), from their recorded soft prompts (the Q-Former is
// the bridge's, tested with the model): MiniGPT-4's image spliced into the ids (spliceImageEmbeds), its training
// forward from input embeddings with transformers 4.30's arange positions under a right-padded mask (positionIds), its
// two greedy chat turns from a context of embeddings with input_ids started as [bos], never fed (generateFromEmbeds
// with startIds); InstructBLIP's batched greedy generation with the padding between the soft prompt and the
// left-padded prompts; BLIP-2's OPT forward (its own positions, padding at row 1) and generation.
const golden = readCase('minigpt4-tiny');
const P = IMAGE_TOKEN_INDEX;
const PAD = 3;
const out = golden.outputs;
const inputsLlama = out.inputs_llama as number[][][];

/** A golden's frozen LLaMA from its HF config and its tensors under `prefix` (HF names: rotate_half RoPE, untied lm_head). */
function buildLm(config: any, weights: Map<string, RawTensor>, prefix: string): Llama {
  const model = buildLlama(LlamaConfigSchema.parse({
    name: 'llama', dim: config.hidden_size, layers: config.num_hidden_layers, numHeads: config.num_attention_heads, vocabSize: config.vocab_size,
    hiddenDim: config.intermediate_size, normEps: config.rms_norm_eps, ropeLayout: 'half', maxSeqLen: config.max_position_embeddings, tiedEmbeddings: false,
  }));
  const tensors = new Map<string, RawTensor>();
  for (const [name, t] of weights) if (name.startsWith(prefix)) tensors.set(name.slice(prefix.length), t);
  loadLlamaWeights(model, tensors, 'hf');
  return model;
}

/** Training row b's ids: [bos; seg0; image; seg1; answer ids; the prompt's padding] (the README's layout). */
function trainingIds(b: number): { ids: number[]; mask: number[] } {
  const [seg0, seg1] = out.prompt_segment_ids[b] as number[][];
  const n = out.input_lens[b] as number;
  const pads = 28 - n;
  return {
    ids: [1, ...seg0, P, ...seg1, ...out.regress_ids[b], ...new Array<number>(pads).fill(PAD)],
    mask: [1, ...seg0.map(() => 1), 1, ...seg1.map(() => 1), ...out.regress_atts[b], ...new Array<number>(pads).fill(0)],
  };
}

describe.each(BACKENDS)('MiniGPT-4 golden, the LLaMA side, on %s', (backend) => {
  let model: Llama;
  beforeAll(async () => {
    await useBackend(backend);
    model = buildLm(golden.config.llama, readWeights('minigpt4-tiny'), 'llama_model.');
  });
  afterAll(() => model.dispose());

  test('training: the spliced embeddings and mask, then the logits of a forward from them at positions arange(39)', () => {
    tf.tidy(() => {
      const rows = [trainingIds(0), trainingIds(1)];
      const spliced = spliceImageEmbeds(model, tf.tensor2d(rows.map((r) => r.ids), undefined, 'int32'), tf.tensor3d(inputsLlama), {
        attentionMask: tf.tensor2d(rows.map((r) => r.mask), undefined, 'int32'),
      });
      expectClose(spliced.embeds, out.inputs_embeds, 'inputs_embeds');
      expect(spliced.attentionMask!.arraySync()).toEqual(out.attention_mask);
      const positionIds = tf.range(0, 39, 1, 'int32').reshape([1, 39]);
      const { logits } = model.forward(spliced.embeds, { attentionMask: spliced.attentionMask, positionIds });
      expectClose(logits, out.logits, 'logits');
    });
  });

  test('chat: two greedy turns from [seg0; image; seg1], input_ids started as [bos], repetition penalty 1.05, stop words', () => {
    golden.generation.forEach((turn: any, b: number) => {
      const [seg0, seg1] = turn.segment_ids as number[][];
      const embeds = tf.tidy(() => spliceImageEmbeds(model, tf.tensor2d([[...seg0, P, ...seg1]], undefined, 'int32'), tf.tensor3d([inputsLlama[b]])).embeds);
      expect(embeds.shape[1]).toBe(turn.context_len);
      let last = -1;
      const result = generateFromEmbeds(model, { embeds }, {
        maxNewTokens: 10, repetitionPenalty: 1.05, stopIds: [2, 4], startIds: [[1]], keepLogits: true,
        // the stop word [5, 6] (`##` then `#`), as demo.py's StoppingCriteriaSub
        onToken: (_, token) => {
          const stop = last === 5 && token === 6;
          last = token;
          return stop;
        },
      });
      embeds.dispose();
      expect(result.sequences[0]).toEqual(turn.output_ids);
      tf.tidy(() => expectClose(tf.tensor2d(result.stepLogits![0].map((l) => Array.from(l))), turn.step_logits, `turn ${b} step_logits`));
    });
  });
});

describe.each(BACKENDS)('InstructBLIP golden, the LLaMA side of generation, on %s', (backend) => {
  const ib = readCase('instructblip-tiny');
  const gen = ib.generation;
  const weights = readWeights('instructblip-tiny');
  let model: Llama;
  beforeAll(async () => {
    await useBackend(backend);
    model = buildLm(ib.config.llm, weights, 'llm_model.');
  });
  afterAll(() => model.dispose());

  test('[llm_proj(queries); left-padded prompt]: padding mid-context, no startIds, repetition penalty 1.5, eos banned at step 0', () => {
    const embeds = tf.tidy(() => {
      const proj = tf.tensor3d(gen.qformer_query_output).matMul(toTensor(weights.get('llm_proj.weight')!), false, true).add(toTensor(weights.get('llm_proj.bias')!));
      return tf.concat([proj, model.embedTokens(tf.tensor2d(gen.prompt_ids, undefined, 'int32'))], 1);
    });
    const result = generateFromEmbeds(model, { embeds, mask: gen.attention_mask }, {
      maxNewTokens: 6, minNewTokens: 1, stopIds: [gen.eos_token_id], repetitionPenalty: 1.5, keepLogits: true,
    });
    embeds.dispose();
    expect(result.sequences).toEqual(gen.output_ids); // no row generates eos within 6 tokens
    // step_logits are [steps, B, V]
    result.stepLogits!.forEach((row, b) => tf.tidy(() => {
      expectClose(tf.tensor2d(row.map((l) => Array.from(l))), (gen.step_logits as number[][][]).map((step) => step[b]), `row ${b} step_logits`);
    }));
  });
});

describe.each(BACKENDS)('BLIP-2 OPT golden, the OPT side, on %s', (backend) => {
  const b2 = readCase('blip2-opt-tiny');
  const o = b2.outputs;
  const gen = b2.generation;
  let model: Opt;
  beforeAll(async () => {
    await useBackend(backend);
    const c = b2.config.opt;
    model = buildOpt(OptConfigSchema.parse({
      name: 'opt', dim: c.hidden_size, layers: c.num_hidden_layers, numHeads: c.num_attention_heads, vocabSize: c.vocab_size, hiddenDim: c.ffn_dim,
      maxSeqLen: c.max_position_embeddings,
    }));
    const tensors = new Map<string, RawTensor>();
    for (const [name, t] of readWeights('blip2-opt-tiny')) if (name.startsWith('opt_model.')) tensors.set(name.slice('opt_model.'.length), t);
    loadOptWeights(model, tensors);
  });
  afterAll(() => model.dispose());

  test('training forward from inputs_embeds: OPT\'s positions cumsum(mask) * mask - 1 as positionIds (padding at row -1 + 2 = 1) give every logit', () => {
    tf.tidy(() => {
      const mask = tf.tensor2d(o.attention_mask, undefined, 'int32');
      const positionIds = mask.cumsum(1).mul(mask).sub(1);
      expect(positionIds.add(2).arraySync()).toEqual(o.position_ids);
      const { logits } = model.forward(tf.tensor3d(o.inputs_embeds), { attentionMask: mask, positionIds });
      expectClose(logits, o.logits, 'logits');
    });
  });

  test('generation from [inputs_opt; prompt]: greedy, eos banned at step 0, only new tokens', () => {
    const embeds = tf.tidy(() => tf.concat([tf.tensor3d(o.inputs_opt), model.embedTokens(tf.tensor2d(gen.prompt_ids, undefined, 'int32'))], 1));
    const result = generateFromEmbeds(model, { embeds, mask: gen.attention_mask }, { maxNewTokens: 6, minNewTokens: 1, stopIds: [gen.eos_token_id], keepLogits: true });
    embeds.dispose();
    expect(result.sequences).toEqual(gen.output_ids);
    result.stepLogits!.forEach((row, b) => tf.tidy(() => {
      expectClose(tf.tensor2d(row.map((l) => Array.from(l))), (gen.step_logits as number[][][]).map((step) => step[b]), `row ${b} step_logits`);
    }));
  });
});
