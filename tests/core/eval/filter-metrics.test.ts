import { filterPrecisionRecall } from '../../../packages/train/src/eval/filter-metrics';

describe('filterPrecisionRecall', () => {
  it('counts corrupted among removed (precision) and removed among corrupted (recall)', () => {
    // removed: samples 0, 1, 3; noisy: 0, 2, 3 -> both: 0 and 3
    const T = true;
    const F = false;
    expect(filterPrecisionRecall([T, T, F, T, F, F], [T, F, T, T, F, F])).toEqual({
      total: 6, removed: 3, noisy: 3, truePositives: 2, precision: 2 / 3, recall: 2 / 3,
    });
    // removes one of two noisy samples and nothing else
    const r = filterPrecisionRecall([T, F, F, F, F], [T, T, F, F, F]);
    expect([r.precision, r.recall]).toEqual([1, 0.5]);
    // removes everything: precision is the noise rate, recall 1
    const all = filterPrecisionRecall([T, T, T, T], [F, T, F, F]);
    expect([all.precision, all.recall]).toEqual([0.25, 1]);
  });

  it('reports an empty denominator as null, and rejects lists of different lengths', () => {
    expect(filterPrecisionRecall([false, false], [true, false])).toMatchObject({ precision: null, recall: 0 });
    expect(filterPrecisionRecall([true, false], [false, false])).toMatchObject({ precision: 0, recall: null });
    expect(() => filterPrecisionRecall([true], [true, false])).toThrow(/1 removal flags but 2 noise flags/);
  });
});
