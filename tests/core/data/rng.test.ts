import { Rng } from '../../../packages/core/src/data/rng';

describe('Rng', () => {
  it('implements SFC32 exactly (vector computed independently with a Python SFC32)', () => {
    const rng = Rng.fromState([1, 2, 3, 4]);
    expect([1, 2, 3, 4, 5].map(() => rng.nextUint32())).toEqual([7, 34, 56623200, 188882296, 3431242869]);
    expect(rng.state).toEqual([3301093142, 1393270099, 4227304151, 9]);
  });

  it('is deterministic per seed and differs between seeds', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const seqA = Array.from({ length: 20 }, () => a.next());
    const seqB = Array.from({ length: 20 }, () => b.next());
    const seqC = Array.from({ length: 20 }, () => c.next());
    expect(seqA).toEqual(seqB);
    expect(seqA).not.toEqual(seqC);
    expect(new Rng(2 ** 40).next()).not.toEqual(new Rng(0).next()); // high bits of the seed count
    expect(new Rng(0.5).next()).not.toEqual(new Rng(0).next());
    expect(() => new Rng(NaN)).toThrow('Rng seed must be a finite number, got NaN');
  });

  it('restores its exact position from a saved state', () => {
    const rng = new Rng(7);
    for (let i = 0; i < 13; i++) rng.next();
    const saved = rng.state;
    const expected = [rng.next(), rng.int(1000), rng.normal(), rng.shuffle([1, 2, 3, 4, 5])];
    rng.setState(saved);
    expect([rng.next(), rng.int(1000), rng.normal(), rng.shuffle([1, 2, 3, 4, 5])]).toEqual(expected);
    const restored = Rng.fromState(JSON.parse(JSON.stringify(saved)));
    expect(restored.next()).toBe(expected[0]);
    expect(() => rng.setState([1, 2, 3])).toThrow('Rng state must be four uint32 words, got [1, 2, 3]');
    expect(() => rng.setState([1, 2, 3, -1])).toThrow(RangeError);
  });

  it('draws with the right ranges and distributions', () => {
    const rng = new Rng(1);
    const n = 100000;
    let sum = 0;
    let min = 1;
    let max = 0;
    const counts = new Array(10).fill(0);
    let nSum = 0;
    let nSq = 0;
    for (let i = 0; i < n; i++) {
      const x = rng.next();
      sum += x;
      min = Math.min(min, x);
      max = Math.max(max, x);
      counts[rng.int(10)]++;
      const z = rng.normal();
      nSum += z;
      nSq += z * z;
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    expect(sum / n).toBeCloseTo(0.5, 2);
    for (const c of counts) expect(Math.abs(c - n / 10)).toBeLessThan(600); // ~6 standard deviations
    expect(nSum / n).toBeCloseTo(0, 1);
    expect(Math.sqrt(nSq / n)).toBeCloseTo(1, 1);
    expect(rng.normal(10, 0)).toBe(10);
    expect(() => rng.int(0)).toThrow(RangeError);
    expect(() => rng.choice([])).toThrow('Rng.choice of an empty array');
  });

  it('shuffles in place into a permutation, and every element can land anywhere', () => {
    const rng = new Rng(3);
    const firsts = new Set<number>();
    for (let t = 0; t < 200; t++) {
      const a = [0, 1, 2, 3, 4];
      const same = rng.shuffle(a);
      expect(same).toBe(a);
      expect([...a].sort()).toEqual([0, 1, 2, 3, 4]);
      firsts.add(a[0]);
    }
    expect(firsts.size).toBe(5);
    expect(Array.from(new Rng(3).permutation(6)).sort()).toEqual([0, 1, 2, 3, 4, 5]);
    const picks = new Set(Array.from({ length: 100 }, () => rng.choice(['a', 'b', 'c'])));
    expect(picks).toEqual(new Set(['a', 'b', 'c']));
  });

  it('forks labelled streams without advancing the parent', () => {
    const parent = new Rng(5);
    const before = parent.state;
    const x = parent.fork('captions').next();
    expect(parent.state).toEqual(before);
    expect(parent.fork('captions').next()).toBe(x);
    expect(parent.fork('scenes').next()).not.toBe(x);
    expect(parent.fork(0).next()).not.toBe(parent.fork(1).next());
    parent.next();
    expect(parent.fork('captions').next()).not.toBe(x); // depends on the parent's position
  });
});
