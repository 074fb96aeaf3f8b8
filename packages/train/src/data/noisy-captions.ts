/**
 * Noisy copies of image-caption data with known corruption (browser-safe): the test bed of caption filtering
 * such as BLIP's CapFilt (Li et al. 2022, section 3.3), where web alt-texts often do not describe their image.
 */
import { Rng } from '@mmzoo/core';
import type { Scene } from './scenes';

/** One image's caption in a noisy copy of a dataset. */
export interface NoisyCaption {
  /** index of the image (and of its clean caption) in the source data */
  image: number;
  /** the caption as it stands in the noisy copy: the clean one, or another image's caption when corrupted */
  caption: string;
  /** whether `caption` was replaced */
  corrupted: boolean;
  /** the image whose caption replaced this one (a different key); -1 when not corrupted */
  from: number;
}

/** Options of {@link corruptCaptions}. */
export interface CorruptionOptions {
  /** share of captions to corrupt, in [0, 1]; exactly round(fraction * n) are corrupted */
  fraction: number;
  /** seed of the draws: the same seed and inputs give the same noisy copy */
  seed: number;
  /**
   * a key per image (e.g. a scene's canonical description): a replacement caption always comes from an image with
   * a different key, so that a corrupted caption really mismatches its image. Default: every image its own key.
   */
  keys?: readonly string[];
}

/**
 * A noisy copy of one-caption-per-image data: exactly `round(fraction * n)` images, a uniformly drawn subset, get
 * the caption of another image (uniformly drawn among images with a different key); the others keep theirs. The
 * corruption flags are returned so that a filter can be scored against them. Deterministic: the subset comes from
 * `new Rng(seed).fork('corrupt-subset')`, the donor of image i from `new Rng(seed).fork('corrupt-' + i)`, so a
 * larger fraction is not a superset of a smaller one, but the same (captions, keys, fraction, seed) always give the
 * same copy.
 * @param captions the clean caption of each image, length n
 * @returns one {@link NoisyCaption} per image, in image order
 * @throws RangeError when fraction is outside [0, 1] or keys has a different length than captions
 * @throws Error when a caption must be corrupted but every image has the same key (no mismatching donor exists)
 */
export function corruptCaptions(captions: readonly string[], opts: CorruptionOptions): NoisyCaption[] {
  const n = captions.length;
  const { fraction, seed } = opts;
  if (!(fraction >= 0 && fraction <= 1)) throw new RangeError(`corruptCaptions: fraction must be in [0, 1], got ${fraction}`);
  const keys = opts.keys ?? captions.map((_, i) => String(i));
  if (keys.length !== n) throw new RangeError(`corruptCaptions: keys has ${keys.length} entries, captions ${n}`);
  const count = Math.round(fraction * n);
  const out: NoisyCaption[] = captions.map((caption, image) => ({ image, caption, corrupted: false, from: -1 }));
  if (count === 0) return out;
  const chosen = new Rng(seed).fork('corrupt-subset').permutation(n).slice(0, count);
  for (const i of chosen) {
    const rng = new Rng(seed).fork(`corrupt-${i}`);
    let from = -1;
    // rejection sampling: almost always one or two draws; fall back to a scan when keys are nearly all equal
    for (let attempt = 0; attempt < 64 && from < 0; attempt++) {
      const j = rng.int(n);
      if (keys[j] !== keys[i]) from = j;
    }
    if (from < 0) {
      const others = Array.from({ length: n }, (_, j) => j).filter((j) => keys[j] !== keys[i]);
      if (others.length === 0) throw new Error(`corruptCaptions: image ${i} has no image with a different key to take a caption from`);
      from = rng.choice(others);
    }
    out[i] = { image: i, caption: captions[from], corrupted: true, from };
  }
  return out;
}

/**
 * A noisy copy of a scene set's captions (the CapFilt test bed): one clean caption per scene, drawn from its
 * captions with `new Rng(seed).fork('caption-' + i)`, then {@link corruptCaptions} with the scenes' canonical
 * descriptions as keys, so a corrupted caption always describes a different layout.
 * @param scenes e.g. `buildScenes(trainImages, n, seed).scenes`
 * @returns one {@link NoisyCaption} per scene
 * @throws RangeError when fraction is outside [0, 1]; Error when a scene has no caption
 */
export function noisySceneCaptions(scenes: readonly Scene[], opts: { fraction: number; seed: number }): NoisyCaption[] {
  const clean = scenes.map((s, i) => {
    if (s.captions.length === 0) throw new Error(`noisySceneCaptions: scene ${i} has no caption`);
    return new Rng(opts.seed).fork(`caption-${i}`).choice(s.captions);
  });
  return corruptCaptions(clean, { fraction: opts.fraction, seed: opts.seed, keys: scenes.map((s) => s.canonical) });
}
