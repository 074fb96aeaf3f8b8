import { NextTokenLogits, applyRepetitionPenalty, generate, logSoftmaxRow, nucleus, suppressTokens } from '@mmzoo/core';

const START = 0;
const END = 1;
const V = 6;

/** A toy model from a table: next-token probabilities given the last token (log-probs as logits). */
function markov(table: Record<number, number[]>): { next: NextTokenLogits; calls: { prefixes: number[][]; sources: number[] }[] } {
  const calls: { prefixes: number[][]; sources: number[] }[] = [];
  const next: NextTokenLogits = (prefixes, sources) => {
    calls.push({ prefixes: prefixes.map((p) => [...p]), sources: [...sources] });
    return prefixes.map((p) => Float32Array.from(table[p[p.length - 1]] ?? new Array(V).fill(1 / V), Math.log));
  };
  return { next, calls };
}

describe('logit processing', () => {
  test('repetition penalty divides positive and multiplies negative logits of seen tokens (CTRL)', () => {
    const out = applyRepetitionPenalty(Float32Array.from([2, -1, 0.5]), [0, 1, 1], 2);
    expect(Array.from(out)).toEqual([1, -2, 0.5]);
    expect(Array.from(applyRepetitionPenalty(Float32Array.from([2, -1]), [0], 1))).toEqual([2, -1]);
    expect(() => applyRepetitionPenalty(Float32Array.from([1]), [], 0)).toThrow(/> 0/);
  });

  test('suppression, log-softmax and the nucleus', () => {
    expect(Array.from(suppressTokens(Float32Array.from([1, 2, 3]), [1]))).toEqual([1, -Infinity, 3]);
    const lp = logSoftmaxRow([Math.log(0.25), Math.log(0.75), -Infinity]);
    expect(lp[0]).toBeCloseTo(Math.log(0.25), 12);
    expect(lp[2]).toBe(-Infinity);
    expect(() => logSoftmaxRow([-Infinity])).toThrow(/suppressed/);
    // sorted 0.5, 0.3, 0.15, 0.05: the smallest set with mass >= p
    const probs = [0.15, 0.5, 0.05, 0.3];
    expect(nucleus(probs, 0.75).ids).toEqual([1, 3]);
    expect(nucleus(probs, 0.75).probs.map((p) => +p.toFixed(6))).toEqual([0.625, 0.375]);
    expect(nucleus(probs, 0.81).ids).toEqual([1, 3, 0]);
    expect(nucleus(probs, 0.01).ids).toEqual([1]);
    expect(nucleus(probs, 1).ids).toEqual([1, 3, 0, 2]);
    expect(() => nucleus(probs, 0)).toThrow(/topP/);
  });
});

describe('generate: greedy', () => {
  // 0 (start) -> 2 (0.6) | 3 (0.4); 2 -> 4 (0.7) | end (0.3); 4 -> end (0.9); 3 -> end
  const table = {
    0: [0, 0, 0.6, 0.4, 0, 0],
    2: [0, 0.3, 0, 0, 0.7, 0],
    3: [0, 1, 0, 0, 0, 0],
    4: [0, 0.9, 0, 0, 0, 0.1],
    5: [0, 0.5, 0, 0, 0, 0.5],
  };
  test('follows the argmax, stops after the end token, scores the log-probabilities', () => {
    const { next, calls } = markov(table);
    const out = generate(next, [[START]], { maxLength: 10, endId: END });
    expect(out.sequences).toEqual([[0, 2, 4, 1]]);
    expect(out.tokens).toEqual([[2, 4, 1]]);
    expect(out.scores[0]).toBeCloseTo(Math.log(0.6 * 0.7 * 0.9), 6);
    expect(calls.map((c) => c.prefixes[0].length)).toEqual([1, 2, 3]);
  });

  test('maxLength, minLength and suppressed ids', () => {
    const { next } = markov(table);
    expect(generate(next, [[START]], { maxLength: 2, endId: END }).tokens).toEqual([[2, 4]]);
    // end is forbidden for the first 3 tokens: 2, 4, then 5 (the only other option after 4), then end
    expect(generate(next, [[START]], { maxLength: 10, endId: END, minLength: 3 }).tokens).toEqual([[2, 4, 5, 1]]);
    expect(generate(next, [[START]], { maxLength: 10, endId: END, suppressIds: [2] }).tokens).toEqual([[3, 1]]);
  });

  test('repetition penalty steers away from repeats', () => {
    // from 5 the model prefers 5 (0.6) over end (0.4); with penalty 2 the repeat falls below end
    const { next } = markov({ 0: [0, 0, 0, 0, 0, 1], 5: [0, 0.4, 0, 0, 0, 0.6] });
    expect(generate(next, [[START]], { maxLength: 4, endId: END }).tokens).toEqual([[5, 5, 5, 5]]);
    expect(generate(next, [[START]], { maxLength: 4, endId: END, repetitionPenalty: 2 }).tokens).toEqual([[5, 1]]);
  });

  test('several sources at once, grouped by prefix length, each row tagged with its source', () => {
    const { next, calls } = markov(table);
    const out = generate(next, [[START], [3], [START, 2]], { maxLength: 5, endId: END });
    expect(out.sequences).toEqual([[0, 2, 4, 1], [3, 1], [0, 2, 4, 1]]);
    for (const c of calls) expect(new Set(c.prefixes.map((p) => p.length)).size).toBe(1);
    expect(calls[0].sources).toEqual([0, 1]);
  });

  test('invalid options and misbehaving models are errors', () => {
    const { next } = markov(table);
    expect(() => generate(next, [[START]], { maxLength: 0 })).toThrow(/maxLength/);
    expect(() => generate(next, [[START]], { maxLength: 2, minLength: 3 })).toThrow(/minLength/);
    expect(() => generate(next, [[START]], { maxLength: 2, strategy: 'beam', beamSize: 0 })).toThrow(/beamSize/);
    expect(() => generate(next, [[START]], { maxLength: 2, strategy: 'nucleus', topP: 1.5 })).toThrow(/topP/);
    expect(() => generate(next, [[START]], { maxLength: 2, strategy: 'nucleus', temperature: 0 })).toThrow(/temperature/);
    expect(() => generate(next, [[]], { maxLength: 2 })).toThrow(/prompt/);
    expect(() => generate(() => [], [[START]], { maxLength: 2 })).toThrow(/returned 0 rows for 1/);
  });
});

describe('generate: beam search', () => {
  // greedy takes 2 (0.5) then must spread (each 0.2); the beam finds 3 (0.4) -> end (0.9) = 0.36 > 0.5 * 0.2
  const table = {
    0: [0, 0, 0.5, 0.4, 0.1, 0],
    2: [0, 0.2, 0.2, 0.2, 0.2, 0.2],
    3: [0, 0.9, 0, 0, 0.1, 0],
    4: [0, 1, 0, 0, 0, 0],
  };
  test('finds a better sequence than greedy', () => {
    const { next } = markov(table);
    expect(generate(next, [[START]], { maxLength: 5, endId: END }).tokens[0]).toEqual([2, 1]);
    const beam = generate(next, [[START]], { strategy: 'beam', beamSize: 2, lengthPenalty: 0, maxLength: 5, endId: END });
    expect(beam.tokens[0]).toEqual([3, 1]);
    expect(beam.scores[0]).toBeCloseTo(Math.log(0.36), 6);
  });

  test('beam size 1 without length penalty is greedy', () => {
    const { next } = markov(table);
    const greedy = generate(next, [[START], [3]], { maxLength: 5, endId: END });
    const beam = generate(next, [[START], [3]], { strategy: 'beam', beamSize: 1, lengthPenalty: 0, maxLength: 5, endId: END });
    expect(beam.sequences).toEqual(greedy.sequences);
  });

  test('the length penalty divides by length^alpha', () => {
    // [end] has log 0.5 (length 1); [2, end] has log(0.5 * 0.8) (length 2)
    const { next } = markov({ 0: [0, 0.5, 0.5, 0, 0, 0], 2: [0, 0.8, 0.2, 0, 0, 0] });
    const sum = generate(next, [[START]], { strategy: 'beam', beamSize: 2, lengthPenalty: 0, maxLength: 4, endId: END });
    expect(sum.tokens[0]).toEqual([1]);
    const mean = generate(next, [[START]], { strategy: 'beam', beamSize: 2, lengthPenalty: 1, maxLength: 4, endId: END });
    expect(mean.tokens[0]).toEqual([2, 1]);
    expect(mean.scores[0]).toBeCloseTo(Math.log(0.4) / 2, 6);
  });

  test('unfinished beams at maxLength compete; every source is decoded in one call per step', () => {
    const { next, calls } = markov({ 0: [0, 0, 0.5, 0.5, 0, 0], 2: [0, 0, 0.9, 0.1, 0, 0], 3: [0, 0, 0.1, 0.9, 0, 0] });
    const out = generate(next, [[START], [START]], { strategy: 'beam', beamSize: 2, maxLength: 3, endId: END });
    expect(out.tokens.map((t) => t.length)).toEqual([3, 3]);
    expect(out.scores[0]).toBeCloseTo(Math.log(0.5 * 0.81) / 3, 6);
    expect(calls.length).toBe(3);
    expect(calls[1].sources).toEqual([0, 0, 1, 1]);
  });
});

describe('generate: nucleus sampling', () => {
  // a fixed distribution at every step: 0.5, 0.3, 0.15, 0.05 over tokens 2..5
  const fixed: NextTokenLogits = (prefixes) => prefixes.map(() => Float32Array.from([0, 0, 0.5, 0.3, 0.15, 0.05], Math.log));

  test('samples only inside the nucleus, with the renormalised probabilities, reproducibly', () => {
    const prompts = Array.from({ length: 4000 }, () => [START]);
    const out = generate(fixed, prompts, { strategy: 'nucleus', topP: 0.75, maxLength: 1, seed: 7 });
    const first = out.tokens.map((t) => t[0]);
    expect(new Set(first)).toEqual(new Set([2, 3]));
    const share = first.filter((t) => t === 2).length / first.length;
    expect(Math.abs(share - 0.625)).toBeLessThan(0.03); // 5 sigma of a binomial with n = 4000
    const again = generate(fixed, prompts.slice(0, 50), { strategy: 'nucleus', topP: 0.75, maxLength: 3, seed: 7 });
    expect(again.tokens.map((t) => t[0])).toEqual(first.slice(0, 50));
    const other = generate(fixed, prompts.slice(0, 50), { strategy: 'nucleus', topP: 0.75, maxLength: 3, seed: 8 });
    expect(other.tokens).not.toEqual(again.tokens);
  });

  test('top-p 1 reaches the tail; a low temperature concentrates on the mode', () => {
    const prompts = Array.from({ length: 2000 }, () => [START]);
    const all = generate(fixed, prompts, { strategy: 'nucleus', topP: 1, maxLength: 1, seed: 1 }).tokens.map((t) => t[0]);
    expect(new Set(all)).toEqual(new Set([2, 3, 4, 5]));
    const cold = generate(fixed, prompts, { strategy: 'nucleus', topP: 1, temperature: 0.05, maxLength: 1, seed: 1 }).tokens.map((t) => t[0]);
    expect(new Set(cold)).toEqual(new Set([2]));
  });

  test('stops at the end token', () => {
    const { next } = markov({ 0: [0, 0.5, 0.5, 0, 0, 0], 2: [0, 1, 0, 0, 0, 0] });
    const out = generate(next, Array.from({ length: 20 }, () => [START]), { strategy: 'nucleus', topP: 1, maxLength: 5, endId: END, seed: 3 });
    for (const t of out.tokens) expect(t[t.length - 1]).toBe(END);
  });
});
