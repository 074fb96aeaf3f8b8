import { tf, IMAGE_TOKEN_INDEX, RawTensor, generateFromEmbeds, spliceImageEmbeds } from '@mmzoo/core';
import { Llama, LlamaConfigSchema, buildLlama, loadLlamaWeights } from '@mmzoo/lm';
import { BACKENDS, expectClose, readCase, readWeights, useBackend } from '../helpers/fixtures';

// The language-model side of tests/fixtures/minigpt4-tiny (copied from ../shared/goldens; see its README), from its
// recorded soft prompt `inputs_llama` (the Q-Former and llama_proj are the bridge's, tested with the model): the
// image spliced into the ids (spliceImageEmbeds), a training forward from input embeddings with transformers 4.30's
// arange positions under a right-padded mask (positionIds), and the two greedy chat turns from a context of
// embeddings with input_ids started as [bos], never fed (generateFromEmbeds with startIds).
const golden = readCase('minigpt4-tiny');
const P = IMAGE_TOKEN_INDEX;
const PAD = 3;
const out = golden.outputs;
const inputsLlama = out.inputs_llama as number[][][];

/** The frozen LLaMA of the golden (its `llama_model.*` tensors, HF names: rotate_half RoPE, untied lm_head). */
function buildLm(): Llama {
  const c = golden.config.llama;
  const model = buildLlama(LlamaConfigSchema.parse({
    name: 'llama', dim: c.hidden_size, layers: c.num_hidden_layers, numHeads: c.num_attention_heads, vocabSize: c.vocab_size,
    hiddenDim: c.intermediate_size, normEps: c.rms_norm_eps, ropeLayout: 'half', maxSeqLen: c.max_position_embeddings, tiedEmbeddings: false,
  }));
  const tensors = new Map<string, RawTensor>();
  for (const [name, t] of readWeights('minigpt4-tiny')) if (name.startsWith('llama_model.')) tensors.set(name.slice('llama_model.'.length), t);
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
    model = buildLm();
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
