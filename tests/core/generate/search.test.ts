import { NextTokenLogits, TokenSearch, checkSearchSettings, generate, logSoftmaxRow, topK } from '@mmzoo/core';
import type { SearchSettings } from '@mmzoo/core';

// core's one token search (generate/search.ts), checked against independent computations: beam search against an
// exhaustive enumeration on a tiny vocabulary, top-k masks against hand-computed ones, and the sampler's frequencies
// against the processed distribution (temperature, top-k, top-p) by a chi-square test.

const V = 3;
const STOP = 0;

/** A toy model whose logits depend on the whole prefix (not only its last token), deterministically. */
const prefixModel: NextTokenLogits = (prefixes) => prefixes.map((p) => {
  const h = p.reduce((a, t, i) => (a * 31 + t * 7 + i) % 97, 13);
  return Float32Array.from({ length: V }, (_, v) => Math.sin(h * 1.7 + v * 2.3) * 2);
});

/** Every complete hypothesis after `prompt`: ended by STOP, or maxNew tokens long; with its log-probability. */
function enumerate(prompt: number[], maxNew: number): { tokens: number[]; logp: number }[] {
  const out: { tokens: number[]; logp: number }[] = [];
  const walk = (tokens: number[], logp: number) => {
    const lp = logSoftmaxRow(prefixModel([[...prompt, ...tokens]], [0])[0]);
    for (let t = 0; t < V; t++) {
      const next = [...tokens, t];
      if (t === STOP || next.length === maxNew) out.push({ tokens: next, logp: logp + lp[t] });
      else walk(next, logp + lp[t]);
    }
  };
  walk([], 0);
  return out;
}

describe('beam search against exhaustive enumeration', () => {
  // with numBeams above every candidate count (at most 3 * 2^3 = 24 at step 4) nothing is pruned: the search must find
  // the best hypothesis under its score sum(log p) / length^lengthPenalty
  test.each([0, 0.5, 1, 2])('length penalty %s: the best-scoring hypothesis and its score', (lengthPenalty) => {
    for (const prompt of [[1], [2, 1], [1, 1, 2]]) {
      const all = enumerate(prompt, 4).map((h) => ({ ...h, score: h.logp / Math.pow(h.tokens.length, lengthPenalty) }));
      const best = all.reduce((a, b) => (b.score > a.score ? b : a));
      const out = generate(prefixModel, [prompt], { strategy: 'beam', beamSize: 32, lengthPenalty, maxLength: 4, endId: STOP });
      expect(out.tokens[0]).toEqual(best.tokens);
      expect(out.scores[0]).toBeCloseTo(best.score, 9);
    }
  });

  test('with 2 beams and no length penalty the result is never worse than greedy, and scores what it generated', () => {
    for (const prompt of [[1], [2], [1, 2], [2, 2, 1]]) {
      const all = enumerate(prompt, 5);
      const logpOf = (tokens: number[]) => all.find((h) => h.tokens.join() === tokens.join())!.logp;
      const greedy = generate(prefixModel, [prompt], { maxLength: 5, endId: STOP });
      const beam = generate(prefixModel, [prompt], { strategy: 'beam', beamSize: 2, lengthPenalty: 0, maxLength: 5, endId: STOP });
      expect(beam.scores[0]).toBeCloseTo(logpOf(beam.tokens[0]), 9);
      expect(beam.scores[0]).toBeGreaterThanOrEqual(logpOf(greedy.tokens[0]) - 1e-12);
    }
  });
});

describe('top-k', () => {
  test('keeps the k largest logits and any tied with the k-th; the rest become -Infinity', () => {
    const x = Float32Array.from([1, 3, 2, 3, 0]);
    expect(Array.from(topK(x, 1))).toEqual([-Infinity, 3, -Infinity, 3, -Infinity]);
    expect(Array.from(topK(x, 2))).toEqual([-Infinity, 3, -Infinity, 3, -Infinity]);
    expect(Array.from(topK(x, 3))).toEqual([-Infinity, 3, 2, 3, -Infinity]);
    expect(Array.from(topK(x, 5))).toEqual([1, 3, 2, 3, 0]);
    expect(Array.from(topK(x, 9))).toEqual([1, 3, 2, 3, 0]);
    expect(Array.from(x)).toEqual([1, 3, 2, 3, 0]);
    expect(() => topK(x, 0)).toThrow('topK must be an integer >= 1, got 0');
  });
});

describe('the seeded sampler', () => {
  const probs = [0.4, 0.3, 0.15, 0.1, 0.05];
  const logits = Float32Array.from(probs, Math.log);
  const base: SearchSettings = {
    strategy: 'sample', maxNewTokens: 1, minNewTokens: 0, stopIds: [], suppressIds: [], repetitionPenalty: 1, numBeams: 1,
    lengthPenalty: 1, temperature: 1, topK: 0, topP: 1, seed: 3,
  };
  const N = 6000;
  /** first-token frequencies of N sources drawn under `over` */
  function draw(over: Partial<SearchSettings>): number[] {
    const prompts = Array.from({ length: N }, () => [0]);
    const search = new TokenSearch(prompts, checkSearchSettings({ ...base, ...over }, 'test', { maxNewTokens: 'maxNewTokens', minNewTokens: 'minNewTokens', numBeams: 'numBeams' }, N));
    search.advance(prompts.map(() => logits));
    const counts = new Array(probs.length).fill(0);
    for (const t of search.result().tokens) counts[t[0]]++;
    return counts;
  }
  /** Pearson's chi-square of counts against expected probabilities (cells with probability 0 must be empty) */
  function chiSquare(counts: number[], expected: number[]): number {
    let x2 = 0;
    counts.forEach((c, i) => {
      if (expected[i] === 0) expect(c).toBe(0);
      else x2 += (c - N * expected[i]) ** 2 / (N * expected[i]);
    });
    return x2;
  }

  // hand-computed distributions; the bound is chi-square's 0.999 quantile for (kept cells - 1) degrees of freedom
  test.each([
    ['plain', {}, probs, 18.47],
    // top-k 3: 0.4, 0.3, 0.15 renormalised by 0.85
    ['top-k 3', { topK: 3 }, [0.4 / 0.85, 0.3 / 0.85, 0.15 / 0.85, 0, 0], 13.82],
    // top-k 3 then top-p 0.8: 0.4706 + 0.3529 = 0.8235 >= 0.8, so two tokens, 0.4 : 0.3
    ['top-k 3, top-p 0.8', { topK: 3, topP: 0.8 }, [4 / 7, 3 / 7, 0, 0, 0], 10.83],
    // temperature 2: p^(1/2) renormalised
    ['temperature 2', { temperature: 2 }, probs.map((p) => Math.sqrt(p) / probs.reduce((a, q) => a + Math.sqrt(q), 0)), 18.47],
  ] as const)('%s: frequencies fit the processed distribution (chi-square)', (_, over, expected, bound) => {
    expect(chiSquare(draw(over), [...expected])).toBeLessThan(bound);
  });

  test('the same seed draws the same tokens; another seed others', () => {
    expect(draw({ seed: 5 })).toEqual(draw({ seed: 5 }));
    expect(draw({ seed: 5 })).not.toEqual(draw({ seed: 6 }));
  });
});

describe('empty prompts (a context of input embeddings: nothing counted before the first token)', () => {
  test('greedy and beam search run from empty prompts: the sequences are the generated tokens; greedy with a repetition penalty by hand', () => {
    const model: NextTokenLogits = (prefixes) => prefixModel(prefixes.map((p) => [1, ...p]), [0]);
    const settings = (strategy: 'greedy' | 'beam'): SearchSettings => checkSearchSettings({
      strategy, maxNewTokens: 3, minNewTokens: 0, stopIds: [STOP], suppressIds: [], repetitionPenalty: 1.5, numBeams: 32,
      lengthPenalty: 1, temperature: 1, topK: 0, topP: 1, seed: 0,
    }, 'test', { maxNewTokens: 'maxNewTokens', minNewTokens: 'minNewTokens', numBeams: 'numBeams' }, 2);
    for (const strategy of ['greedy', 'beam'] as const) {
      const search = new TokenSearch([[], []], settings(strategy));
      while (!search.done) search.advance(model(search.rows.map((r) => [...r.seq]), [0]));
      const out = search.result();
      expect(out.sequences).toEqual(out.tokens);
      out.tokens.forEach((t) => expect(t.length).toBeGreaterThanOrEqual(1));
    }
    // the greedy search by hand: the penalty sees the generated tokens only
    const greedy = new TokenSearch([[]], { ...settings('greedy'), stopIds: [] });
    const want: number[] = [];
    for (let s = 0; s < 3; s++) {
      const row = model([want], [0])[0].map((v, t) => (want.includes(t) ? (v > 0 ? v / 1.5 : v * 1.5) : v));
      greedy.advance(model([want], [0]));
      want.push(row.indexOf(Math.max(...row)));
    }
    expect(greedy.result().sequences).toEqual([want]);
  });
});
