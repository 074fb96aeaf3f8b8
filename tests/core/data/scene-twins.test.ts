import { Rng } from '../../../packages/core/src/data/rng';
import {
  SceneItem, buildScenes, canonicalDescription, describeScene, swapPositions, twinSwap,
} from '../../../packages/train/src/data/scenes';
import { batchIndices, concatPairs, epochOrder, groupedPairs, imageSetPairs } from '../../../packages/train/src/data/pairs';
import { ImageSet, imageBytes } from '../../../packages/train/src/data/types';
import { GRID, sceneItem, syntheticSceneSource } from '../../helpers/scenes';

// Swapped-twin scenes (data.scenes.twins): hard negatives that differ from their layout only in positions.

const key = (it: SceneItem) => `${it.label}:${it.sourceIndex}`;
const POSITION_WORDS = new Set([
  'top', 'bottom', 'left', 'right', 'above', 'below', 'over', 'under', 'beneath', 'underneath', 'upper', 'lower',
  'directly', 'just', 'on', 'beside', 'to', 'the', 'of', 'and', 'in', 'at',
]);

describe('twinSwap', () => {
  it('swaps the only pair of a two-item scene', () => {
    for (let s = 0; s < 20; s++) expect(twinSwap([sceneItem(1, 0, 0), sceneItem(2, 1, 1)], new Rng(s))).toEqual([0, 1]);
  });

  it('draws each of the 6 pairs of a four-item scene with probability 1/6', () => {
    const items = [sceneItem(0, 0, 0), sceneItem(1, 0, 1), sceneItem(2, 1, 0), sceneItem(3, 1, 1)];
    const counts = new Map<string, number>();
    for (let s = 0; s < 6000; s++) {
      const [a, b] = twinSwap(items, new Rng(s));
      expect(a).toBeLessThan(b);
      counts.set(`${a}${b}`, (counts.get(`${a}${b}`) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual(['01', '02', '03', '12', '13', '23']);
    // binomial(6000, 1/6): mean 1000, sd 29
    for (const c of counts.values()) expect(Math.abs(c - 1000)).toBeLessThan(150);
  });

  it('needs two items', () => {
    expect(() => twinSwap([sceneItem(1, 0, 0)], new Rng(0))).toThrow('twinSwap: a twin needs at least 2 items to swap, got 1');
  });
});

describe('buildScenes with twins', () => {
  const source = syntheticSceneSource(41);
  const set = buildScenes(source, 40, 7, { twins: 1 });

  it('interleaves the plain build\'s layouts (even scenes) with their twins (odd scenes)', () => {
    const plain = buildScenes(source, 20, 7);
    expect(Array.from(set.twinOf!)).toEqual(Array.from({ length: 40 }, (_, i) => i ^ 1));
    expect(plain.twinOf).toBeUndefined();
    expect(set.images.count).toBe(40);
    for (let k = 0; k < 20; k++) {
      expect(set.scenes[2 * k]).toEqual(plain.scenes[k]);
      expect(Array.from(imageBytes(set.images, 2 * k))).toEqual(Array.from(imageBytes(plain.images, k)));
    }
  });

  it('gives each twin the same items with exactly two of them exchanging cells', () => {
    for (let k = 0; k < 20; k++) {
      const base = set.scenes[2 * k];
      const twin = set.scenes[2 * k + 1];
      expect(twin.items.map(key).sort()).toEqual(base.items.map(key).sort());
      const cellOf = (items: SceneItem[], it: SceneItem) => {
        const m = items.find((x) => key(x) === key(it))!;
        return `${m.row},${m.col}`;
      };
      const moved = base.items.filter((it) => cellOf(base.items, it) !== cellOf(twin.items, it));
      expect(moved).toHaveLength(2);
      // the two moved items exchanged cells
      expect(cellOf(twin.items, moved[0])).toBe(cellOf(base.items, moved[1]));
      expect(cellOf(twin.items, moved[1])).toBe(cellOf(base.items, moved[0]));
      expect(twin.canonical).toBe(canonicalDescription(twin.items));
      expect(twin.canonical).not.toBe(base.canonical);
    }
  });

  it('renders each twin from the same source images in the swapped cells', () => {
    for (let s = 1; s < 40; s += 2) {
      const canvas = imageBytes(set.images, s);
      for (let row = 0; row < 2; row++) {
        for (let col = 0; col < 2; col++) {
          const it = set.scenes[s].items.find((x) => x.row === row && x.col === col);
          const src = it ? imageBytes(source, it.sourceIndex) : new Uint8Array(16);
          for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) expect(canvas[(row * 4 + y) * 8 + col * 4 + x]).toBe(src[y * 4 + x]);
        }
      }
    }
  });

  it('words the twin\'s captions like its layout\'s, apart from position and relation words', () => {
    let differing = 0;
    for (let k = 0; k < 20; k++) {
      const a = set.scenes[2 * k].captions;
      const b = set.scenes[2 * k + 1].captions;
      expect(b).toHaveLength(a.length);
      for (let c = 0; c < a.length; c++) {
        // the same words in the same order once position and relation words (and the articles, conjunctions and
        // prepositions around them) are dropped: the twin names the same items with the same synonyms
        const content = (t: string) => t.split(' ').map((w) => w.replace(/[.,]$/, '')).filter((w) => !POSITION_WORDS.has(w)).join(' ');
        expect(content(b[c])).toBe(content(a[c]));
        if (a[c] !== b[c]) differing++;
      }
    }
    expect(differing).toBeGreaterThan(60); // of 80: a caption of the twin rarely repeats its layout's
  });

  it('matches a hand-built twin: sneaker and bag swapped', () => {
    const layout = [sceneItem(7, 0, 0, 7), sceneItem(8, 0, 1, 8), sceneItem(3, 1, 0, 3)];
    const twin = describeScene(swapPositions(layout, 0, 1), GRID, new Rng(3));
    expect(twin.canonical).toBe('bag@0,0 sneaker@0,1 dress@1,0 | bag left-of sneaker, bag above dress');
  });

  it('is deterministic from the seed', () => {
    const again = buildScenes(source, 40, 7, { twins: 1 });
    expect(again.scenes).toEqual(set.scenes);
    expect(Array.from(again.images.images)).toEqual(Array.from(set.images.images));
    const other = buildScenes(source, 40, 8, { twins: 1 });
    expect(other.scenes.map((s) => s.canonical)).not.toEqual(set.scenes.map((s) => s.canonical));
  });

  it('gives a fraction of the layouts a twin, drawn per layout, and fills the count exactly', () => {
    const half = buildScenes(source, 41, 7, { twins: 0.5 });
    const full = buildScenes(source, 82, 7, { twins: 1 });
    expect(half.scenes).toHaveLength(41);
    const twinOf = Array.from(half.twinOf!);
    // layout k has a twin exactly when its 'twin' stream's first draw is below 0.5
    let layout = 0;
    let withTwin = 0;
    for (let i = 0; i < 41; layout++) {
      const expected = new Rng(7).fork(layout).fork('twin').next() < 0.5 && i + 1 < 41;
      expect(half.scenes[i]).toEqual(full.scenes[2 * layout]);
      if (expected) {
        expect(twinOf.slice(i, i + 2)).toEqual([i + 1, i]);
        expect(half.scenes[i + 1]).toEqual(full.scenes[2 * layout + 1]);
        withTwin++;
        i += 2;
      } else {
        expect(twinOf[i]).toBe(-1);
        i += 1;
      }
    }
    expect(withTwin).toBeGreaterThan(5);
    expect(withTwin).toBeLessThan(layout - 5);
    // an odd count with twins = 1 leaves the last layout without its twin
    const odd = buildScenes(source, 5, 7, { twins: 1 });
    expect(Array.from(odd.twinOf!)).toEqual([1, 0, 3, 2, -1]);
  });

  it('gives single-item layouts no twin and rejects fractions outside [0, 1]', () => {
    const single = buildScenes(source, 6, 0, { twins: 1, minItems: 1, maxItems: 1 });
    expect(Array.from(single.twinOf!)).toEqual([-1, -1, -1, -1, -1, -1]);
    expect(() => buildScenes(source, 4, 0, { twins: 1.5 })).toThrow('buildScenes: twins is the fraction of layouts with a twin, in [0, 1], got 1.5');
  });
});

describe('grouped epoch order', () => {
  it('leaves the ungrouped order a plain shuffle of the samples', () => {
    const expected = Array.from({ length: 9 }, (_, i) => i);
    new Rng(4).fork('epoch-2').shuffle(expected);
    expect(Array.from(epochOrder(9, 4, 2))).toEqual(expected);
  });

  it('shuffles whole groups with the epoch stream and keeps each group\'s samples in order', () => {
    // groups {0, 1} {2} {3, 4} {5, 6}
    const groups = Int32Array.from([0, 2, 3, 5]);
    const members = [[0, 1], [2], [3, 4], [5, 6]];
    for (let epoch = 0; epoch < 4; epoch++) {
      const perm = new Rng(11).fork(`epoch-${epoch}`).permutation(4);
      const expected = Array.from(perm).flatMap((g) => members[g]);
      expect(Array.from(epochOrder(7, 11, epoch, groups))).toEqual(expected);
    }
  });

  it('keeps twin pairs in one batch when the batch size is even', () => {
    const groups = groupedPairs(imageSetPairs({ images: new Uint8Array(12 * 4), count: 12, channels: 1, height: 2, width: 2 }, () => 'x'), 2).groups!;
    expect(Array.from(groups)).toEqual([0, 2, 4, 6, 8, 10]);
    for (let batch = 0; batch < 9; batch++) {
      const { indices } = batchIndices(batch, 4, 12, 5, groups);
      const sorted = Array.from(indices).sort((a, b) => a - b);
      for (let j = 0; j < 4; j += 2) expect(sorted[j + 1]).toBe(sorted[j] + 1);
      expect(sorted[0] % 2).toBe(0);
    }
    // every sample once per epoch
    const epoch0 = [0, 1, 2].flatMap((b) => Array.from(batchIndices(b, 4, 12, 5, groups).indices)).sort((a, b) => a - b);
    expect(epoch0).toEqual(Array.from({ length: 12 }, (_, i) => i));
  });

  it('offsets the groups of concatenated sources and makes the others groups of one', () => {
    const set = (n: number): ImageSet => ({ images: new Uint8Array(n), count: n, channels: 1, height: 1, width: 1 });
    const singles = imageSetPairs(set(3), () => 'a');
    const twins = groupedPairs(imageSetPairs(set(4), () => 'b', 100), 2);
    const both = concatPairs([singles, twins]);
    expect(Array.from(both.groups!)).toEqual([0, 1, 2, 3, 5]);
    expect([both.imageId(3), both.imageId(4)]).toEqual([100, 101]);
    expect(concatPairs([singles, singles]).groups).toBeUndefined();
  });

  it('rejects bad groups', () => {
    const src = imageSetPairs({ images: new Uint8Array(5), count: 5, channels: 1, height: 1, width: 1 }, () => 'a');
    expect(() => groupedPairs(src, 2)).toThrow('groupedPairs: groupSize must be a positive integer dividing the 5 samples, got 2');
    expect(() => epochOrder(5, 0, 0, Int32Array.from([0, 3, 2]))).toThrow('epochOrder: group starts must ascend from 0 within [0, 5); entry 2 is 2');
    expect(() => epochOrder(5, 0, 0, Int32Array.from([1, 3]))).toThrow('entry 0 is 1');
  });
});
