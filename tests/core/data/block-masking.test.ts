import { Rng, blockMask, maskCount, maskTokens } from '@mmzoo/core';

/** Size of the largest 4-connected component of masked patches. */
function largestBlob(mask: Uint8Array, rows: number, cols: number): number {
  const seen = new Uint8Array(mask.length);
  let best = 0;
  for (let s = 0; s < mask.length; s++) {
    if (!mask[s] || seen[s]) continue;
    let size = 0;
    const stack = [s];
    seen[s] = 1;
    while (stack.length) {
      const k = stack.pop()!;
      size += 1;
      const r = Math.floor(k / cols);
      const c = k % cols;
      for (const [dr, dc] of [[1, 0], [-1, 0], [0, 1], [0, -1]]) {
        const rr = r + dr;
        const cc = c + dc;
        if (rr < 0 || cc < 0 || rr >= rows || cc >= cols) continue;
        const j = rr * cols + cc;
        if (mask[j] && !seen[j]) {
          seen[j] = 1;
          stack.push(j);
        }
      }
    }
    best = Math.max(best, size);
  }
  return best;
}

describe('data/block-masking (BEiT block-wise masking)', () => {
  test.each([
    ['BEiT 14x14, 40%', [14, 14], 0.4],
    ['BEiT 14x14, 75 patches', [14, 14], 75 / 196],
    ['tiny config 7x7, 40%', [7, 7], 0.4],
    ['vlmo/beit3 fixtures 4x4, 40%', [4, 4], 0.4],
    ['14x14, 90%', [14, 14], 0.9],
  ] as [string, [number, number], number][])('%s: exactly the requested count for 500 seeds', (_, grid, ratio) => {
    const count = maskCount(grid, ratio);
    for (let seed = 0; seed < 500; seed++) {
      const m = blockMask(grid, count, new Rng(seed));
      expect(m.length).toBe(grid[0] * grid[1]);
      const ones = m.reduce((a, v) => a + v, 0);
      if (ones !== count) throw new Error(`seed ${seed}: ${ones} masked, requested ${count}`);
    }
  });

  test('masks come in blocks, not scattered patches (14x14, 40%)', () => {
    let blobs = 0;
    for (let seed = 0; seed < 100; seed++) blobs += largestBlob(blockMask([14, 14], 78, new Rng(seed)), 14, 14);
    // i.i.d. random masking of 78/196 patches gives a largest blob of ~15 on average; blocks give far more
    expect(blobs / 100).toBeGreaterThan(30);
  });

  test('deterministic for a generator state; edge counts 0 and all', () => {
    expect(Array.from(blockMask([14, 14], 78, new Rng(7)))).toEqual(Array.from(blockMask([14, 14], 78, new Rng(7))));
    expect(Array.from(blockMask([14, 14], 78, new Rng(7)))).not.toEqual(Array.from(blockMask([14, 14], 78, new Rng(8))));
    expect(blockMask([4, 4], 0, new Rng(1)).every((v) => v === 0)).toBe(true);
    expect(blockMask([4, 4], 16, new Rng(1)).every((v) => v === 1)).toBe(true);
    expect(() => blockMask([4, 4], 17, new Rng(1))).toThrow(RangeError);
    expect(maskCount([14, 14], 0.4)).toBe(78);
  });
});

describe('data/token-masking (BERT MLM corruption)', () => {
  test('specials are never selected; labels hold originals; 80/10/10 split; at least one per row', () => {
    const b = 400;
    const l = 16;
    const ids = new Int32Array(b * l);
    for (let r = 0; r < b; r++) {
      ids[r * l] = 2;
      for (let c = 1; c < 11; c++) ids[r * l + c] = 5 + ((r * 7 + c) % 50);
      ids[r * l + 11] = 3; // end, then padding 0
    }
    const m = maskTokens(ids, [b, l], new Rng(3), { probability: 0.15, maskId: 4, vocabSize: 55, special: [0, 2, 3], firstRandomId: 5 });
    let selected = 0;
    let asMask = 0;
    let kept = 0;
    for (let k = 0; k < b * l; k++) {
      if (m.labels[k] === -100) {
        expect(m.ids[k]).toBe(ids[k]);
        continue;
      }
      expect([0, 2, 3]).not.toContain(ids[k]);
      expect(m.labels[k]).toBe(ids[k]);
      selected += 1;
      if (m.ids[k] === 4) asMask += 1;
      else if (m.ids[k] === ids[k]) kept += 1;
      else expect(m.ids[k]).toBeGreaterThanOrEqual(5);
    }
    expect(selected).toBe(m.count);
    expect(selected / (b * 10)).toBeGreaterThan(0.13);
    expect(selected / (b * 10)).toBeLessThan(0.18);
    expect(asMask / selected).toBeGreaterThan(0.74);
    expect(asMask / selected).toBeLessThan(0.86);
    expect(kept / selected).toBeLessThan(0.16);
    for (let r = 0; r < b; r++) expect(Array.from(m.labels.slice(r * l, r * l + l)).some((v) => v !== -100)).toBe(true);
  });
});
