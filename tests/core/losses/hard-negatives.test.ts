import { Rng, hardNegativeWeights, itmPairs, sampleHardNegatives, sampleItmPairs } from '@mmzoo/core';

describe('hard-negative sampling (ALBEF section 3.2)', () => {
  const sim = [
    [5, 1, 0, 2],
    [1, 5, 3, 0],
    [0, 3, 5, 1],
    [2, 0, 1, 5],
  ];
  const flat = sim.flat();

  test('weights are the row softmax (+ eps) with the positive and every same-id candidate zeroed', () => {
    const ids = [7, 7, 3, 4];
    const w = hardNegativeWeights(flat, ids);
    for (let i = 0; i < 4; i++) {
      const z = sim[i].reduce((a, v) => a + Math.exp(v), 0);
      for (let j = 0; j < 4; j++) {
        const expected = ids[i] === ids[j] ? 0 : Math.exp(sim[i][j]) / z;
        expect(w[i * 4 + j]).toBeCloseTo(expected, 6);
      }
    }
    const we = hardNegativeWeights(flat, ids, ids, { eps: 1e-4 });
    expect(we[0 * 4 + 2]).toBeCloseTo(w[2] + 1e-4, 7);
    expect(we[0 * 4 + 1]).toBe(0);
  });

  test('draws never return the positive or a same-id sample, and follow the weights', () => {
    const ids = [7, 7, 3, 4];
    const rng = new Rng(1);
    const counts = [0, 0, 0, 0];
    const n = 20000;
    for (let t = 0; t < n; t++) {
      const neg = sampleHardNegatives(flat, ids, rng);
      expect(neg[0]).not.toBe(0);
      expect(neg[0]).not.toBe(1);
      expect(neg[1]).not.toBe(1);
      expect(neg[1]).not.toBe(0);
      expect(neg[2]).not.toBe(2);
      counts[neg[0]]++;
    }
    // row 0 may only pick 2 or 3, in proportion exp(0) : exp(2)
    const p3 = Math.exp(2) / (Math.exp(0) + Math.exp(2));
    expect(counts[3] / n).toBeCloseTo(p3, 1.5);
    expect(counts[2] + counts[3]).toBe(n);
  });

  test('same seed, same draws', () => {
    const a = sampleHardNegatives(flat, [0, 1, 2, 3], new Rng(5).fork('negatives'));
    const b = sampleHardNegatives(flat, [0, 1, 2, 3], new Rng(5).fork('negatives'));
    expect(Array.from(a)).toEqual(Array.from(b));
  });

  test('no valid negative gives -1: a batch of one, or all ids equal; no NaN even when the softmax underflows', () => {
    expect(Array.from(sampleHardNegatives([3], [0], new Rng(0)))).toEqual([-1]);
    expect(Array.from(sampleHardNegatives(flat, [1, 1, 1, 1], new Rng(0)))).toEqual([-1, -1, -1, -1]);
    const w = hardNegativeWeights(flat, [1, 1, 1, 1]);
    expect(Array.from(w).every((v) => v === 0)).toBe(true);
    // the only valid candidate underflows to weight 0: still chosen (uniform fallback), never NaN or -1
    expect(Array.from(sampleHardNegatives([0, -1e5, -1e5, 0], [0, 1], new Rng(0)))).toEqual([1, 0]);
  });

  test('a NaN or infinite similarity is an error naming the row, never a silent uniform draw (issue 15)', () => {
    // each row's one strongly similar non-self candidate (logit 50 vs 0) is drawn with probability 1 - 3e-22
    const t2i = [
      [9, 50, 0, 0],
      [0, 9, 50, 0],
      [0, 0, 9, 50],
      [50, 0, 0, 9],
    ];
    const i2t = t2i.map((_, i) => t2i.map((row) => row[i])); // the transpose: image i's text j = text j's image i
    const host = (rows: number[][]) => ({ dataSync: () => Float32Array.from(rows.flat()), shape: [rows.length, rows[0].length] });
    const ok = sampleItmPairs(host(i2t), host(t2i), [0, 1, 2, 3], new Rng(0));
    expect(Array.from(ok.negImageForText)).toEqual([1, 2, 3, 0]);
    expect(Array.from(ok.negTextForImage)).toEqual([3, 0, 1, 2]);
    expect(Array.from(ok.labels)).toEqual([1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);

    const bad = t2i.map((row) => [...row]);
    bad[3][1] = NaN;
    expect(() => sampleItmPairs(host(i2t), host(bad), [0, 1, 2, 3], new Rng(0))).toThrow(
      "sampleItmPairs: ITC text-to-image similarity row 3 holds NaN (column 1); the model's embeddings are not finite " +
        '(check the learning rate, or resume from an earlier checkpoint)',
    );
    const inf = i2t.map((row) => [...row]);
    inf[2][0] = Infinity;
    expect(() => sampleItmPairs(host(inf), host(t2i), [0, 1, 2, 3], new Rng(0))).toThrow(
      /^sampleItmPairs: ITC image-to-text similarity row 2 holds Infinity \(column 0\)/,
    );
    const flatBad = [...flat];
    flatBad[2 * 4 + 3] = NaN;
    expect(() => sampleHardNegatives(flatBad, [0, 1, 2, 3], new Rng(0))).toThrow(/^sampleHardNegatives: ITC similarity row 2 holds NaN/);
  });

  test('itmPairs: positives, then a negative image per text, then a negative text per image; -1 is left out', () => {
    const p = itmPairs([1, 0, -1], [2, -1, 0]);
    expect(Array.from(p.textIndex)).toEqual([0, 1, 2, 0, 1, 2, 0]);
    expect(Array.from(p.imageIndex)).toEqual([0, 1, 2, 1, 0, 0, 2]);
    expect(Array.from(p.labels)).toEqual([1, 1, 1, 0, 0, 0, 0]);
    const one = itmPairs([-1], [-1]);
    expect(Array.from(one.labels)).toEqual([1]);
  });
});
