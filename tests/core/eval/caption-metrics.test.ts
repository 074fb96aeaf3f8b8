import {
  ConstantScorer, bestConstantCaptions, captionScores, captionTokens, ciderD, corpusBleu, ngramCounts,
} from '@mmzoo/train';
import { Rng } from '@mmzoo/core';

const w = (s: string) => s.split(' ');
const close = (a: number, b: number) => expect(Math.abs(a - b)).toBeLessThan(1e-12);

describe('BLEU (Papineni et al. 2002)', () => {
  test("modified unigram precision: the paper's 'the the the ...' example is 2/7", () => {
    const r = corpusBleu([w('the the the the the the the')], [[w('the cat is on the mat'), w('there is a cat on the mat')]]);
    close(r.precisions[0], 2 / 7);
    expect(r.bleu[1]).toBe(0); // no bigram matches
  });

  test('corpus BLEU-1..4 with brevity penalty, worked out by hand', () => {
    // c1 "a cat sat on the mat" vs r11 "a cat sat on a mat", r12 "the cat is on the mat":
    //   unigrams 6/6 (each word's count 1 <= its max in one reference), bigrams 5/5 (a cat, cat sat, sat on from
    //   r11; on the, the mat from r12), trigrams 3/4 (sat on the is in neither), 4-grams 1/3 (a cat sat on).
    // c2 "the dog runs" vs "the dog runs fast", "a dog is running in the park": 3/3, 2/2, 1/1, no 4-grams.
    // p = [9/9, 7/7, 4/5, 1/3]; c = 9; r = 6 (c1: both refs 6) + 4 (c2: closest of 4 and 7) = 10 -> BP = exp(1 - 10/9).
    const r = corpusBleu(
      [w('a cat sat on the mat'), w('the dog runs')],
      [[w('a cat sat on a mat'), w('the cat is on the mat')], [w('the dog runs fast'), w('a dog is running in the park')]],
    );
    expect(r.precisions).toEqual([1, 1, 4 / 5, 1 / 3]);
    expect(r.candidateLength).toBe(9);
    expect(r.referenceLength).toBe(10);
    const bp = Math.exp(1 - 10 / 9);
    close(r.brevityPenalty, bp);
    close(r.bleu[0], bp);
    close(r.bleu[1], bp);
    close(r.bleu[2], bp * Math.pow(4 / 5, 1 / 3));
    close(r.bleu[3], bp * Math.pow(4 / 15, 1 / 4));
  });

  test('brevity penalty: 1 for a longer candidate; the closest reference length, the shorter on a tie', () => {
    // length 5 between references of 4 and 6: r = 4 (tie -> shorter), c > r -> BP = 1
    const tie = corpusBleu([w('a b c d e')], [[w('a b c d'), w('a b c d e f')]]);
    expect(tie.referenceLength).toBe(4);
    expect(tie.brevityPenalty).toBe(1);
    // length 2 against 6: BP = exp(1 - 6/2) = e^-2; unigrams 2/2, bigrams 1/1
    const short = corpusBleu([w('a b')], [[w('a b c d e f')]], 2);
    close(short.brevityPenalty, Math.exp(-2));
    close(short.bleu[1], Math.exp(-2));
  });

  test('a zero precision gives 0 for that and every higher order; an empty candidate scores 0', () => {
    const r = corpusBleu([w('x y z w')], [[w('x q z q')]]);
    close(r.bleu[0], 2 / 4);
    expect(r.bleu.slice(1)).toEqual([0, 0, 0]);
    expect(corpusBleu([[]], [[w('a b')]]).bleu).toEqual([0, 0, 0, 0]);
  });

  test('errors name the problem', () => {
    expect(() => corpusBleu([w('a')], [])).toThrow(/1 candidates but 0 reference sets/);
    expect(() => corpusBleu([w('a')], [[]])).toThrow(/image 0 has no reference/);
  });
});

describe('CIDEr-D (Vedantam et al. 2015)', () => {
  test('two images, one reference each, worked out by hand', () => {
    // N = 2; every n-gram is in one image's references -> idf = ln 2 for all.
    // image 1: "red shoe" vs "red shoe": cosine 1 for n = 1, 2; n = 3, 4 have no n-grams -> 10 * (1 + 1) / 4 = 5
    // image 2: "blue shoe" vs "blue bag": n = 1: ln2^2 / (sqrt2 ln2 * sqrt2 ln2) = 1/2; n = 2: 0 -> 10 * 0.5 / 4 = 1.25
    const r = ciderD([w('red shoe'), w('blue shoe')], [[w('red shoe')], [w('blue bag')]]);
    close(r.perImage[0], 5);
    close(r.perImage[1], 1.25);
    close(r.score, 3.125);
  });

  test('clipping of repeated n-grams and the Gaussian length penalty (sigma 6)', () => {
    // "red red shoe" vs "red shoe": n = 1: g_c = {red: 2 ln2, shoe: ln2}, g_s = {red: ln2, shoe: ln2};
    //   sum min(g_c, g_s) g_s = 2 ln2^2 (the clip turns red's 2 ln2 * ln2 into ln2 * ln2); norms sqrt5 ln2, sqrt2 ln2
    //   -> 2 / sqrt10. n = 2: {red red, red shoe} vs {red shoe} -> 1 / sqrt2. n = 3: 0.
    // length penalty exp(-(3 - 2)^2 / 72).
    const r = ciderD([w('red red shoe'), w('blue bag')], [[w('red shoe')], [w('blue bag')]]);
    close(r.perImage[0], 2.5 * Math.exp(-1 / 72) * (2 / Math.sqrt(10) + 1 / Math.sqrt(2)));
    close(r.perImage[1], 5);
  });

  test('several references are averaged; an n-gram in every image has idf 0', () => {
    // "a" is in both images' references: idf log(2/2) = 0, so it carries no weight.
    // image 1 "a shoe" vs "a red shoe" (n=1: 1/sqrt2, length penalty e^(-1/72); n=2: 0) and "a shoe" (1, 1)
    //   -> 10/4 * [ (e^(-1/72)/sqrt2 + 1) / 2 + (0 + 1) / 2 ]
    // image 2 "a bag" vs "a blue bag" -> 10/4 * e^(-1/72) / sqrt2
    const r = ciderD([w('a shoe'), w('a bag')], [[w('a red shoe'), w('a shoe')], [w('a blue bag')]]);
    const e = Math.exp(-1 / 72);
    close(r.perImage[0], 2.5 * ((e / Math.SQRT2 + 1) / 2 + 1 / 2));
    close(r.perImage[1], 2.5 * (e / Math.SQRT2));
    close(r.score, (r.perImage[0] + r.perImage[1]) / 2);
  });

  test('a single image gives idf 0 everywhere and so 0', () => {
    expect(ciderD([w('a b')], [[w('a b')]]).score).toBe(0);
  });
});

describe('caption strings and constant baselines', () => {
  test('captionTokens lower-cases and drops punctuation; ngramCounts counts', () => {
    expect(captionTokens('A Bag, left of the SHOE.')).toEqual(['a', 'bag', 'left', 'of', 'the', 'shoe']);
    expect([...ngramCounts(w('a b a b'), 2)]).toEqual([['a b', 2], ['b a', 1]]);
  });

  test('captionScores on text equals the token-level functions', () => {
    const s = captionScores(['Red shoe.', 'blue shoe'], [['red shoe'], ['Blue bag!']]);
    close(s.cider, 3.125);
    expect(s.bleu1).toBeGreaterThan(0);
  });

  test('the fast constant-caption scorer equals corpusBleu and ciderD', () => {
    const rng = new Rng(3);
    const vocab = ['a', 'bag', 'shoe', 'left', 'of', 'the', 'red', 'above', 'and'];
    const sentence = () => Array.from({ length: 2 + rng.int(7) }, () => rng.choice(vocab));
    const refs = Array.from({ length: 12 }, () => Array.from({ length: 1 + rng.int(3) }, sentence));
    const scorer = new ConstantScorer(refs);
    for (let k = 0; k < 30; k++) {
      const cand = sentence();
      const all = refs.map(() => cand);
      expect(Math.abs(scorer.bleu4(cand) - corpusBleu(all, refs).bleu[3])).toBeLessThan(1e-12);
      expect(Math.abs(scorer.cider(cand) - ciderD(all, refs).score)).toBeLessThan(1e-9);
    }
  });

  test('bestConstantCaptions picks the best pool caption per metric and rescores it with the plain code', () => {
    const references = [['a red shoe', 'a shoe on the left'], ['a red bag', 'a bag'], ['a red hat', 'the hat']];
    const pool = ['a blue coat', 'a red shoe', 'a red', 'the hat', 'a red shoe'];
    const best = bestConstantCaptions(pool, references);
    const score = (c: string) => captionScores(references.map(() => c), references);
    for (const c of pool) {
      expect(score(c).bleu4).toBeLessThanOrEqual(best.bleu4.score + 1e-12);
      expect(score(c).cider).toBeLessThanOrEqual(best.cider.score + 1e-12);
    }
    expect(best.bleu4.score).toBe(score(best.bleu4.caption).bleu4);
    expect(best.cider.score).toBe(score(best.cider.caption).cider);
    expect(() => bestConstantCaptions([], references)).toThrow(/pool is empty/);
  });
});
