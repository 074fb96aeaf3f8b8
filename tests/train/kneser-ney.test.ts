import { KneserNey, brownDocuments, kneserNeyBaselines, splitHeldOut, trainByteLevelBpe } from '@mmzoo/train';

// Issue 16, "Done when": the LM's held-out perplexity is compared with an interpolated Kneser-Ney bigram model over the
// same tokens (one discount per order, D = n1 / (n1 + 2 n2)); a trigram is reported too.

const close = (a: number, b: number) => expect(a).toBeCloseTo(b, 12);

describe('interpolated Kneser-Ney by hand', () => {
  // V = 4; one training sequence 0 1 0 2 0 1.
  // bigrams: (0,1) x2, (1,0), (0,2), (2,0): n1 = 3, n2 = 1, D2 = 3/5.
  // continuation counts N(.w) = distinct ids before w: w=0 {1,2} 2, w=1 {0} 1, w=2 {0} 1, w=3 none: total 4, 3 types;
  //   n1 = 2, n2 = 1, D1 = 2/4 = 1/2.
  // P1(w) = (max(N(.w) - 1/2, 0) + 1/2 * 3 * 1/4) / 4: P1(0) = 15/32, P1(1) = P1(2) = 7/32, P1(3) = 3/32.
  // after 0 (c(0.) = 3, 2 types): P2(w|0) = (max(c(0w) - 3/5, 0) + 3/5 * 2 * P1(w)) / 3
  //   P2(1|0) = (7/5 + 6/5 * 7/32) / 3 = 133/240, P2(2|0) = (2/5 + 21/80) / 3 = 53/240, P2(0|0) = 3/16, P2(3|0) = 3/80.
  // after 1 (c(1.) = 1, 1 type): P2(0|1) = 2/5 + 3/5 * 15/32 = 109/160, P2(3|1) = 3/5 * 3/32 = 9/160.
  // after 3 (never a context): P2(w|3) = P1(w).
  const bigram = KneserNey.fit([[0, 1, 0, 2, 0, 1]], { order: 2, vocabSize: 4 });

  test('bigram: discounts, probabilities and perplexity', () => {
    expect(bigram.discounts).toEqual([1 / 2, 3 / 5]);
    [15 / 32, 7 / 32, 7 / 32, 3 / 32].forEach((p, w) => close(bigram.prob([], w), p));
    [3 / 16, 133 / 240, 53 / 240, 3 / 80].forEach((p, w) => close(bigram.prob([0], w), p));
    close(bigram.prob([1], 0), 109 / 160);
    close(bigram.prob([1], 3), 9 / 160);
    close(bigram.prob([3], 2), 7 / 32);
    // only the last id of a longer context counts
    close(bigram.prob([3, 2, 1], 0), 109 / 160);
    // held out 0 1 3: the first id is context; P(1|0) P(3|1)
    const ppl = bigram.perplexity([[0, 1, 3]]);
    expect(ppl.tokens).toBe(2);
    close(ppl.nll, -(Math.log(133 / 240) + Math.log(9 / 160)) / 2);
    close(ppl.perplexity, Math.exp(ppl.nll));
  });

  test('trigram: discounts, probabilities, contexts seen only at a lower order', () => {
    // V = 4; sequences 0 1 2 0 1 2 0 1 3 and 3 1 2.
    // trigrams: (0,1,2) x2, (1,2,0) x2, (2,0,1) x2, (0,1,3), (3,1,2): n1 = 2, n2 = 3, D3 = 2/8 = 1/4.
    // level 2 (distinct ids before each bigram): (1,2) {0,3} 2, (2,0) {1} 1, (0,1) {2} 1, (1,3) {0} 1: D2 = 3/5.
    //   (the bigram 0 1 at the start of the first sequence has no id before it and adds nothing)
    // level 1: w=0 {2}, w=1 {0}, w=2 {1}, w=3 {1}: all 1, D1 = 1, P1(w) = 4 * 1/4 / 4 = 1/4.
    // after 1 (3 in all, 2 types): P2(w|1) = (max(c - 3/5, 0) + 3/5 * 2 * 1/4) / 3: P2(2|1) = 17/30, P2(3|1) = 7/30, P2(0|1) = P2(1|1) = 1/10.
    // after 0 1 (3 in all, 2 types): P3(w|0 1) = (max(c - 1/4, 0) + 1/4 * 2 * P2(w|1)) / 3:
    //   P3(2|0 1) = (7/4 + 17/60) / 3 = 61/90, P3(3|0 1) = (3/4 + 7/60) / 3 = 13/45, P3(0|0 1) = P3(1|0 1) = 1/60.
    const trigram = KneserNey.fit([[0, 1, 2, 0, 1, 2, 0, 1, 3], [3, 1, 2]], { order: 3, vocabSize: 4 });
    expect(trigram.discounts).toEqual([1, 3 / 5, 1 / 4]);
    [1 / 60, 1 / 60, 61 / 90, 13 / 45].forEach((p, w) => close(trigram.prob([0, 1], w), p));
    [1 / 10, 1 / 10, 17 / 30, 7 / 30].forEach((p, w) => close(trigram.prob([1], w), p));
    // 2 1 is never a context at level 3: P2(2|1); 3 3 at neither level: P1
    close(trigram.prob([2, 1], 2), 17 / 30);
    close(trigram.prob([3, 3], 0), 1 / 4);
    // held out 0 1 2: P2(1|0) (one id of context) then P3(2|0 1); level 2 after 0: only (0,1) once, so
    // P2(1|0) = (1 - 3/5 + 3/5 * 1/4) / 1 = 11/20
    close(trigram.perplexity([[0, 1, 2]]).nll, -(Math.log(11 / 20) + Math.log(61 / 90)) / 2);
  });
});

describe('a level without n-grams of count 1', () => {
  test('takes the fallback discount 1/2 instead of n1 / (n1 + 2 n2) = 0', () => {
    // 0 1 0 1 0 1: bigrams (0,1) x3, (1,0) x2: n1 = 0, D2 = 1/2. Continuations: 1 after {0}, 0 after {1}: D1 = 2/2 = 1,
    // P1(w) = 2 * 1/4 / 2 = 1/4. P2(1|0) = (3 - 1/2 + 1/2 * 1 * 1/4) / 3 = 7/8; the three others 1/24 each.
    const lm = KneserNey.fit([[0, 1, 0, 1, 0, 1]], { order: 2, vocabSize: 4 });
    expect(lm.discounts).toEqual([1, 1 / 2]);
    [1 / 24, 7 / 8, 1 / 24, 1 / 24].forEach((p, w) => close(lm.prob([0], w), p));
  });
});

describe('a distribution over the vocabulary for every context', () => {
  // a pseudo-random sequence over 30 ids, of which 25 occur; contexts seen, seen only at lower orders, never seen
  let seed = 7;
  const next = () => (seed = (seed * 48271) % 2147483647);
  const seqs = [Array.from({ length: 400 }, () => next() % 25), Array.from({ length: 50 }, () => next() % 25)];

  test.each([2, 3])('order %i: sums to 1 and every id has probability > 0', (order) => {
    const lm = KneserNey.fit(seqs, { order, vocabSize: 30 });
    const contexts = [[], [seqs[0][10]], [seqs[0][10], seqs[0][11]], [27], [27, 28], [seqs[0][5], 29], [0, 0, 0]];
    for (const ctx of contexts) {
      const p = Array.from({ length: 30 }, (_, w) => lm.prob(ctx, w));
      expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      expect(Math.min(...p)).toBeGreaterThan(0);
    }
    expect(lm.discounts.every((d) => d > 0 && d <= 1)).toBe(true);
  });
});

describe('on real text', () => {
  test('Kneser-Ney beats an add-one bigram on held-out Brown files; the trigram beats the bigram', () => {
    // BPE tokens of 30 Brown training files (vocabulary 512); held out: 3 held-out Brown files. A sequence per file.
    const brown = splitHeldOut(brownDocuments());
    const train = brown.train.slice(0, 30).map((d) => d.text);
    const bpe = trainByteLevelBpe(train, { vocabSize: 512, specials: ['<|endoftext|>'], end: '<|endoftext|>' });
    const trainIds = train.map((t) => bpe.encode(t));
    const heldIds = brown.heldOut.slice(0, 3).map((d) => bpe.encode(d.text));
    const V = bpe.vocabSize;

    // add-one (Laplace) bigram: P(w|v) = (c(v w) + 1) / (c(v .) + V)
    const pair = new Map<number, number>();
    const ctx = new Map<number, number>();
    for (const s of trainIds) {
      for (let i = 1; i < s.length; i++) {
        pair.set(s[i - 1] * V + s[i], (pair.get(s[i - 1] * V + s[i]) ?? 0) + 1);
        ctx.set(s[i - 1], (ctx.get(s[i - 1]) ?? 0) + 1);
      }
    }
    let nll = 0;
    let n = 0;
    for (const s of heldIds) {
      for (let i = 1; i < s.length; i++, n++) nll -= Math.log(((pair.get(s[i - 1] * V + s[i]) ?? 0) + 1) / ((ctx.get(s[i - 1]) ?? 0) + V));
    }
    const addOne = Math.exp(nll / n);

    const { bigram, trigram } = kneserNeyBaselines(trainIds, heldIds, V);
    expect(bigram.tokens).toBe(n);
    expect(bigram.perplexity).toBeLessThan(0.8 * addOne);
    expect(trigram.perplexity).toBeLessThan(bigram.perplexity);
  });
});

describe('bad input', () => {
  test('one-line errors naming what is wrong', () => {
    expect(() => KneserNey.fit([[0, 1, 5]], { order: 2, vocabSize: 4 })).toThrow(/^Kneser-Ney: training sequence 0, position 2: id 5 is not an integer in \[0, 4\)$/);
    expect(() => KneserNey.fit([[0, 1]], { order: 0, vocabSize: 4 })).toThrow(/^Kneser-Ney: order must be an integer >= 1, got 0$/);
    expect(() => KneserNey.fit([[0, 1]], { order: 3, vocabSize: 4 })).toThrow(/^Kneser-Ney: the training ids hold no 3-gram \(every sequence is shorter than 3\)$/);
    expect(() => KneserNey.fit([[0]], { order: 3, vocabSize: 1e8 })).toThrow(/^Kneser-Ney: vocabSize 100000000 \^ 2 is too large to number the contexts$/);
    const lm = KneserNey.fit([[0, 1, 0, 2, 0, 1]], { order: 2, vocabSize: 4 });
    expect(() => lm.perplexity([[0, 1], [2, -1]])).toThrow(/^Kneser-Ney: held-out sequence 1, position 1: id -1 is not an integer in \[0, 4\)$/);
    expect(() => lm.perplexity([[0], []])).toThrow(/^Kneser-Ney: no held-out token to score/);
    expect(() => lm.prob([0], 4)).toThrow(/^Kneser-Ney: token 4 is not an integer in \[0, 4\)$/);
    expect(() => lm.prob([0, 1.5], 1)).toThrow(/^Kneser-Ney: context, position 1: id 1\.5 is not an integer in \[0, 4\)$/);
  });
});
