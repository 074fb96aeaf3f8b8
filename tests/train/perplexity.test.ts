import { tf, manualSeed } from '@mmzoo/core';
import { buildLlama, LlamaConfigSchema } from '@mmzoo/lm';
import { causalLmPerplexity } from '@mmzoo/train';

describe('causalLmPerplexity (eval/perplexity)', () => {
  manualSeed(3);
  const model = buildLlama(LlamaConfigSchema.parse({ name: 'llama', dim: 16, layers: 1, numHeads: 2, vocabSize: 11, multipleOf: 8, maxSeqLen: 8 }));
  afterAll(() => model.dispose());

  /** -log P(next id) summed over one window, each window forwarded alone (no batching, no padding) */
  function windowNll(w: number[]): number {
    const logp = tf.tidy(() => tf.logSoftmax(model.forward(tf.tensor2d([w.slice(0, -1)], undefined, 'int32')).logits.squeeze([0])).arraySync() as number[][]);
    return w.slice(1).reduce((s, id, t) => s - logp[t][id], 0);
  }

  test('equals the hand computation over windows of contextLength + 1 ids sharing one id, each id but the first scored once', () => {
    const sequences = [[0, 3, 5, 7, 9, 2, 4, 6, 8, 10, 1, 0], [0, 4, 0], [0, 6, 2, 9, 0]];
    // contextLength 4: [0 3 5 7 9] [9 2 4 6 8] [8 10 1 0], [0 4 0], [0 6 2 9 0]
    const windows = [[0, 3, 5, 7, 9], [9, 2, 4, 6, 8], [8, 10, 1, 0], [0, 4, 0], [0, 6, 2, 9, 0]];
    const tokens = 11 + 2 + 4;
    const nll = windows.reduce((s, w) => s + windowNll(w), 0) / tokens;
    const before = tf.memory().numTensors;
    // a small budget forces several forward passes with padded windows
    const got = causalLmPerplexity(model, sequences.map((s) => Int32Array.from(s)), { contextLength: 4, padId: 1, tokensPerBatch: 9 });
    expect(tf.memory().numTensors).toBe(before);
    expect(got.tokens).toBe(tokens);
    expect(got.nll).toBeCloseTo(nll, 5);
    expect(got.perplexity).toBeCloseTo(Math.exp(nll), 4);
    // an untrained model is near chance (11 ids)
    expect(got.perplexity).toBeGreaterThan(8);
    expect(got.perplexity).toBeLessThan(14);
  });

  test('refuses a context longer than the model and sequences with nothing to score', () => {
    expect(() => causalLmPerplexity(model, [Int32Array.from([0, 1])], { contextLength: 9, padId: 1 })).toThrow("perplexity: contextLength 9 exceeds the model's maxSeqLen 8");
    expect(() => causalLmPerplexity(model, [Int32Array.from([0])], { contextLength: 4, padId: 1 })).toThrow(/no token to score/);
  });
});
