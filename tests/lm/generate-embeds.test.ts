import { tf, Tensor, generateCausal, generateFromEmbeds } from '@mmzoo/core';
import type { CausalGenerateOptions, CausalGenerateResult } from '@mmzoo/core';
import type { LmModel } from '@mmzoo/lm';
import { useBackend } from '../helpers/fixtures';
import { TINY_LMS, randomLm } from '../helpers/random-lm';

// core generateFromEmbeds (generation from a context of input embeddings, HF generate(inputs_embeds=...)) against
// generateCausal on the same prompts: a context that is embedTokens of the left-padded prompts, with startIds the
// prompts, is generateCausal's search (greedy, beam, seeded sampling; with and without the cache) on a LLaMA (RoPE)
// and an OPT (learned positions, offset 2); padding in the middle of a context; startIds; errors; no leaks.
const PROMPTS = [[11, 6, 5, 33], [7, 30]];
const GREEDY: CausalGenerateOptions = { maxNewTokens: 6, repetitionPenalty: 1.3 };
const SEEDS = [7, 8];
const SAMPLE: CausalGenerateOptions = { strategy: 'sample', maxNewTokens: 6, temperature: 1.5, topK: 20, topP: 0.95, seed: SEEDS };
const BEAM: CausalGenerateOptions = { strategy: 'beam', maxNewTokens: 5, numBeams: 3, stopIds: [33] };

/** The prompts left-padded with 0 as a context of embeddings, and its mask. */
function embedPrompts(model: LmModel, prompts: number[][]): { embeds: Tensor; mask: number[][] } {
  const longest = Math.max(...prompts.map((p) => p.length));
  const padded = prompts.map((p) => [...new Array<number>(longest - p.length).fill(0), ...p]);
  const mask = prompts.map((p) => [...new Array<number>(longest - p.length).fill(0), ...p.map(() => 1)]);
  return { embeds: tf.tidy(() => model.embedTokens(tf.tensor2d(padded, undefined, 'int32'))), mask };
}

function expectSameResult(got: CausalGenerateResult, want: CausalGenerateResult): void {
  expect(got.sequences).toEqual(want.sequences);
  expect(got.tokens).toEqual(want.tokens);
  got.scores.forEach((s, i) => expect(s).toBeCloseTo(want.scores[i], 4));
}

beforeAll(() => useBackend('wasm'));

describe.each(['Llama', 'Opt'] as const)('%s: generateFromEmbeds', (name) => {
  let model: LmModel;
  beforeAll(() => {
    model = randomLm(TINY_LMS[name]);
  });
  afterAll(() => model.dispose());

  test.each([
    ['greedy with a repetition penalty', GREEDY],
    ['beam search', BEAM],
    ['seeded sampling', SAMPLE],
  ] as const)('%s: embedTokens of left-padded prompts, startIds the prompts, is generateCausal (cache and no cache)', (_, opts) => {
    const context = embedPrompts(model, PROMPTS);
    for (const useCache of [true, false]) {
      const want = generateCausal(model, PROMPTS, { ...opts, useCache });
      expectSameResult(generateFromEmbeds(model, context, { ...opts, useCache, startIds: PROMPTS }), want);
      // each row is its prompt alone, without a mask (row 1 is the padded one)
      PROMPTS.forEach((prompt, r) => {
        const alone = tf.tidy(() => model.embedTokens(tf.tensor2d([prompt], undefined, 'int32')));
        const one = generateFromEmbeds(model, { embeds: alone }, { ...opts, useCache, startIds: [prompt], seed: [SEEDS[r]] });
        expect(one.sequences[0]).toEqual(want.sequences[r]);
        expect(one.scores[0]).toBeCloseTo(want.scores[r], 4);
        alone.dispose();
      });
    }
    context.embeds.dispose();
  });

  test('greedy step logits are those of generateCausal', () => {
    const context = embedPrompts(model, PROMPTS);
    const got = generateFromEmbeds(model, context, { maxNewTokens: 3, keepLogits: true });
    const want = generateCausal(model, PROMPTS, { maxNewTokens: 3, keepLogits: true });
    got.stepLogits!.forEach((row, r) => row.forEach((l, s) => l.forEach((v, i) => expect(v).toBeCloseTo(want.stepLogits![r][s][i], 4))));
    context.embeds.dispose();
  });

  test('padding anywhere in the context: a soft prompt, two padded positions, then the text is the context without them', () => {
    const [soft, text] = [[3, 9], [21, 4, 17]];
    const gapped = tf.tidy(() => model.embedTokens(tf.tensor2d([[...soft, 0, 0, ...text]], undefined, 'int32')));
    const plain = tf.tidy(() => model.embedTokens(tf.tensor2d([[...soft, ...text]], undefined, 'int32')));
    for (const opts of [GREEDY, BEAM, { ...SAMPLE, seed: 5, useCache: false }]) {
      const got = generateFromEmbeds(model, { embeds: gapped, mask: [[1, 1, 0, 0, 1, 1, 1]] }, opts);
      expectSameResult(got, generateFromEmbeds(model, { embeds: plain }, opts));
      expect(got.sequences).toEqual(got.tokens); // no startIds: the sequences are the generated tokens
    }
    tf.dispose([gapped, plain]);
  });

  test('startIds change only the repetition penalty and the start of the returned sequences', () => {
    const context = embedPrompts(model, PROMPTS);
    const none = generateFromEmbeds(model, context, { maxNewTokens: 6 });
    const started = generateFromEmbeds(model, context, { maxNewTokens: 6, startIds: [[1], [2, 3]] });
    expect(started.tokens).toEqual(none.tokens);
    expect(started.sequences).toEqual([[1, ...none.tokens[0]], [2, 3, ...none.tokens[1]]]);
    started.scores.forEach((s, i) => expect(s).toBeCloseTo(none.scores[i], 5));
    // a strong penalty on the first token greedy picks moves it
    const first = none.tokens[0][0];
    const penalised = generateFromEmbeds(model, context, { maxNewTokens: 1, repetitionPenalty: 1e6, startIds: [[first], []] });
    expect(penalised.tokens[0][0]).not.toBe(first);
    expect(penalised.tokens[1][0]).toBe(none.tokens[1][0]);
    context.embeds.dispose();
  });

  test('one-line errors', () => {
    const context = embedPrompts(model, PROMPTS);
    const wide = tf.zeros([1, 2, 8]);
    expect(() => generateFromEmbeds(model, { embeds: wide }, { maxNewTokens: 1 })).toThrow('generateFromEmbeds: context.embeds must be float32 [B, S, 32] with B, S >= 1, got float32 [1,2,8]');
    expect(() => generateFromEmbeds(model, { embeds: context.embeds, mask: [[1, 1, 1, 1]] }, { maxNewTokens: 1 })).toThrow('generateFromEmbeds: context.mask has 1 rows for the 2 rows of context.embeds');
    expect(() => generateFromEmbeds(model, { embeds: context.embeds, mask: [[1, 1, 1, 1], [0, 0, 0, 0]] }, { maxNewTokens: 1 })).toThrow('generateFromEmbeds: context.mask row 1 must be 4 zeros and ones with at least one 1, got [0,0,0,0]');
    expect(() => generateFromEmbeds(model, context, { maxNewTokens: 1, startIds: [[1]] })).toThrow('generateFromEmbeds: startIds must be 2 lists of integer ids >= 0 (one per context row), got [[1]]');
    expect(() => generateFromEmbeds(model, context, { maxNewTokens: 13 })).toThrow('generateFromEmbeds: a context of 4 tokens plus 13 new tokens exceeds the context length 16');
    expect(() => generateFromEmbeds(model, context, { maxNewTokens: 2, strategy: 'beam', numBeams: 0 })).toThrow('generateFromEmbeds: numBeams must be an integer >= 1, got 0');
    tf.dispose([wide, context.embeds]);
  });

  test('no tensors are left behind by any strategy, with or without the cache', () => {
    const context = embedPrompts(model, PROMPTS);
    generateFromEmbeds(model, context, { maxNewTokens: 2 }); // warm-up
    const before = tf.memory().numTensors;
    for (const opts of [{ maxNewTokens: 3 }, { ...SAMPLE, maxNewTokens: 3 }, { ...BEAM, maxNewTokens: 3 }]) {
      generateFromEmbeds(model, context, opts);
      generateFromEmbeds(model, context, { ...opts, useCache: false });
    }
    expect(tf.memory().numTensors).toBe(before);
    context.embeds.dispose();
  });
});
