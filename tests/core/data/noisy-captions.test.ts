import { Rng } from '../../../packages/core/src/data/rng';
import { buildScenes } from '../../../packages/train/src/data/scenes';
import { corruptCaptions, noisySceneCaptions } from '../../../packages/train/src/data/noisy-captions';
import { ImageSet } from '../../../packages/train/src/data/types';

const CAPTIONS = Array.from({ length: 50 }, (_, i) => `caption number ${i}`);

describe('corruptCaptions (a noisy copy with known corruption)', () => {
  it('corrupts exactly round(fraction * n) captions and flags exactly those', () => {
    for (const [n, fraction, expected] of [[50, 0.3, 15], [10, 0.25, 3], [7, 0.5, 4], [50, 0, 0], [50, 1, 50]] as const) {
      const out = corruptCaptions(CAPTIONS.slice(0, n), { fraction, seed: 3 });
      expect(out).toHaveLength(n);
      expect(out.filter((c) => c.corrupted)).toHaveLength(expected);
      out.forEach((c, i) => {
        expect(c.image).toBe(i);
        // the captions are distinct, so a flag is right exactly when the text changed
        expect(c.corrupted).toBe(c.caption !== CAPTIONS[i]);
        if (c.corrupted) {
          expect(c.from).not.toBe(i);
          expect(c.caption).toBe(CAPTIONS[c.from]);
        } else expect(c.from).toBe(-1);
      });
    }
  });

  it('is deterministic per seed, and another seed corrupts another subset', () => {
    const a = corruptCaptions(CAPTIONS, { fraction: 0.3, seed: 7 });
    expect(corruptCaptions(CAPTIONS, { fraction: 0.3, seed: 7 })).toEqual(a);
    const b = corruptCaptions(CAPTIONS, { fraction: 0.3, seed: 8 });
    expect(b.map((c) => c.corrupted)).not.toEqual(a.map((c) => c.corrupted));
  });

  it('takes a replacement only from an image with a different key', () => {
    // five groups of ten images with the same key: any donor from the own group would not be a mismatch
    const keys = CAPTIONS.map((_, i) => `k${i % 5}`);
    const out = corruptCaptions(CAPTIONS, { fraction: 0.6, seed: 1, keys });
    expect(out.filter((c) => c.corrupted)).toHaveLength(30);
    for (const c of out.filter((x) => x.corrupted)) expect(keys[c.from]).not.toBe(keys[c.image]);
    // two keys, one of them a single image: that image's donors are all the others
    const lone = corruptCaptions(['a', 'b', 'c'], { fraction: 1, seed: 2, keys: ['x', 'y', 'y'] });
    expect(lone[0].from).not.toBe(0);
    expect(lone[1].from).toBe(0);
    expect(lone[2].from).toBe(0);
  });

  it('rejects a bad fraction, mismatched keys and data where no caption can mismatch', () => {
    expect(() => corruptCaptions(CAPTIONS, { fraction: 1.2, seed: 0 })).toThrow(RangeError);
    expect(() => corruptCaptions(CAPTIONS, { fraction: NaN, seed: 0 })).toThrow(/fraction must be in \[0, 1\]/);
    expect(() => corruptCaptions(CAPTIONS, { fraction: 0.3, seed: 0, keys: ['a'] })).toThrow(/keys has 1 entries, captions 50/);
    expect(() => corruptCaptions(['a', 'b'], { fraction: 0.5, seed: 0, keys: ['same', 'same'] })).toThrow(/no image with a different key/);
  });
});

describe('noisySceneCaptions', () => {
  const rng = new Rng(5);
  const source: ImageSet = {
    images: Uint8Array.from({ length: 30 * 16 }, () => 1 + rng.int(255)), count: 30, channels: 1, height: 4, width: 4,
    labels: Int32Array.from({ length: 30 }, (_, i) => i % 10),
  };

  it('gives each scene one of its own captions, and corrupted ones a caption of a different layout', () => {
    const { scenes } = buildScenes(source, 40, 11);
    const noisy = noisySceneCaptions(scenes, { fraction: 0.3, seed: 4 });
    expect(noisy.filter((n) => n.corrupted)).toHaveLength(12);
    noisy.forEach((n, i) => {
      if (n.corrupted) {
        expect(scenes[n.from].canonical).not.toBe(scenes[i].canonical);
        expect(scenes[n.from].captions).toContain(n.caption);
      } else expect(scenes[i].captions).toContain(n.caption);
    });
    expect(noisySceneCaptions(scenes, { fraction: 0.3, seed: 4 })).toEqual(noisy);
  });
});
