import { Rng, maskTextTokens, maskTokens, stepRng } from '@mmzoo/core';

// Issue 15 "fold the repeats": VLMo's and BEiT-3's word masking and their step randomness, one copy in core.
const TOKENS = { padId: 0, startId: 2, endId: 3, maskId: 4, firstWordId: 5 };
// rows: [start, words..., end, pad, pad]
const IDS = Int32Array.from([2, 7, 8, 9, 3, 0, 0, 2, 11, 12, 13, 14, 15, 3]);

describe('data/maskTextTokens and stepRng', () => {
  test('is maskTokens with pad, start and end never selected and replacements from the first word id', () => {
    const got = maskTextTokens(IDS, [2, 7], new Rng(1), { probability: 0.5, vocabSize: 20, tokens: TOKENS });
    const want = maskTokens(IDS, [2, 7], new Rng(1), { probability: 0.5, maskId: 4, vocabSize: 20, special: [0, 2, 3], firstRandomId: 5 });
    expect(got).toEqual(want);
  });

  test('special ids never change; labels only where selected; random replacements stay in [firstWordId, V)', () => {
    for (let seed = 0; seed < 20; seed++) {
      const m = maskTextTokens(IDS, [2, 7], new Rng(seed), { probability: 0.9, vocabSize: 20, tokens: TOKENS });
      IDS.forEach((id, k) => {
        if (id === 0 || id === 2 || id === 3) {
          expect([m.ids[k], m.labels[k]]).toEqual([id, -100]);
        } else if (m.labels[k] === -100) {
          expect(m.ids[k]).toBe(id);
        } else {
          expect(m.labels[k]).toBe(id);
          expect(m.ids[k] === 4 || (m.ids[k] >= 5 && m.ids[k] < 20)).toBe(true);
        }
      });
      // every row has words, so every row has at least one selected token
      expect(m.labels.slice(0, 7).some((v) => v !== -100) && m.labels.slice(7).some((v) => v !== -100)).toBe(true);
    }
  });

  test('a first word id beyond the vocabulary draws replacements from V - 1', () => {
    const ids = Int32Array.from([2, 1, 1, 1, 1, 1, 1, 1, 3]);
    const seen = new Set<number>();
    for (let seed = 0; seed < 40; seed++) {
      const m = maskTextTokens(ids, [1, 9], new Rng(seed), { probability: 1, vocabSize: 6, tokens: { ...TOKENS, firstWordId: 9 } });
      m.ids.forEach((v, k) => { if (m.labels[k] !== -100 && v !== 4 && v !== 1) seen.add(v); });
    }
    expect([...seen]).toEqual([5]);
  });

  test("stepRng is new Rng(seed).fork('<model>-<index>'): same stream for the same step, another for the next", () => {
    const a = stepRng('vlmo', { seed: 11, index: 3 });
    const b = new Rng(11).fork('vlmo-3');
    const c = stepRng('vlmo', { seed: 11, index: 4 });
    const xs = [a.next(), a.next(), a.next()];
    expect([b.next(), b.next(), b.next()]).toEqual(xs);
    expect([c.next(), c.next(), c.next()]).not.toEqual(xs);
  });
});
