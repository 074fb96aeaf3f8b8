import { tf, Tensor, Rng } from '@mmzoo/core';
import { ImageSet } from '../data/types';
import { buildScenes } from '../data/scenes';
import { resizeImageSet } from '../data/resize';
import { bestConstantCaptions, captionScores } from './caption-metrics';
import { loadFashionMnist } from '../data/fmnist';
import { ImageTextData, RETRIEVAL_GALLERY_SEED } from '../data/image-text';

/** Options of {@link evaluateCaptioning}. */
export interface CaptionEvalOptions {
  /** test images to caption: the first `images` scenes of the fixed retrieval gallery (fmnist), or of the test file */
  images: number;
  /** images per captioning call */
  batchSize: number;
  /** the run's data seed: the constant-baseline pool is one caption per training sample, drawn as buildTokenizer draws them */
  seed: number;
  /** how many (generated, references) examples to return (default 5) */
  examples?: number;
}

/** Captioning metrics on the test split, with the constant-caption baselines beside them. */
export interface CaptionMetrics {
  /** corpus BLEU-1..4 of the generated captions (Papineni et al. 2002) */
  bleu1: number;
  bleu2: number;
  bleu3: number;
  bleu4: number;
  /** CIDEr-D of the generated captions (Vedantam et al. 2015) */
  cider: number;
  /** BLEU-4 / CIDEr-D of the single training caption that scores best when given to every test image */
  bleu4ConstantBaseline: number;
  ciderConstantBaseline: number;
  /** those best constant captions */
  constantCaptions: { bleu4: string; cider: string };
  /** number of captioned test images */
  captionedImages: number;
  /** a few generated captions with their references */
  examples: { generated: string; references: string[] }[];
}

/** Test images with every reference caption each. */
export interface CaptionTestSet {
  /** uint8 [count, C, H, W] at the model's size */
  images: ImageSet;
  /** the reference captions of each image */
  references: string[][];
}

/**
 * The images to caption and their references: for fmnist the first `count` scenes of the retrieval gallery (seed
 * {@link RETRIEVAL_GALLERY_SEED}, prefix-stable, worded in `data.sceneCaptionStyle`) with all their captions as
 * references; for user data the first `count` test images with their first caption each.
 * @param imageShape the model's input [C, H, W]
 * @returns the set, or undefined when user data has no test file
 */
export function captionTestSet(data: ImageTextData, imageShape: [number, number, number], count: number, fmnist: boolean): CaptionTestSet | undefined {
  const [, h, w] = imageShape;
  if (fmnist) {
    const scenes = buildScenes(loadFashionMnist(data.root, 'test'), count, RETRIEVAL_GALLERY_SEED, { captionStyle: data.sceneCaptionStyle });
    return { images: resizeImageSet(scenes.images, h, w), references: scenes.scenes.map((s) => s.captions) };
  }
  if (!data.gallery) return undefined;
  const g = data.gallery(count);
  return { images: g.images, references: g.captions.map((c) => [c]) };
}

/**
 * The constant-baseline pool: one caption per training sample, drawn as `buildTokenizer` draws them (the first
 * epoch's captions) with the run's data `seed`.
 */
export function constantCaptionPool(data: ImageTextData, seed: number): string[] {
  const pool: string[] = [];
  for (let i = 0; i < data.train.size; i++) pool.push(data.train.caption(i, new Rng(seed).fork(`caption-${i}`)));
  return pool;
}

/**
 * Captions the test split with a model and scores it: BLEU-1..4 and CIDEr-D against each image's reference
 * captions (fmnist: the first `images` scenes of the fixed retrieval gallery, references = all captions of the scene
 * in the data's caption style, COCO-style multiple references; user data: the test file, one reference each),
 * plus the constant-caption baselines from core's `bestConstantCaptions` over the training captions (one drawn
 * per training sample, {@link constantCaptionPool}), scored by the same code.
 * The `captioning` evaluation task (session/tasks.ts) of every model spec with a `caption`.
 *
 * Which scene caption style to evaluate on (`data.scenes.captionStyle`, data/scenes `SceneCaptionStyle`): measured
 * with `npx tsx bench/caption-oracles.ts` (no training; 300 test scenes, 4 references each, pool = 6,000 training
 * scenes, seed 0), BLEU-4 / CIDEr-D as a multiple of the best constant caption:
 *
 * | candidate                                  | varied BLEU-4 | varied CIDEr | layout BLEU-4 | layout CIDEr |
 * |--------------------------------------------|---------------|--------------|---------------|--------------|
 * | best constant caption                      | 0.440 (1.00x) | 0.451 (1.00x)| 0.338 (1.00x) | 0.883 (1.00x)|
 * | true caption, held out (fresh draw)        | 0.478 (1.08x) | 0.981 (2.18x)| 0.838 (2.48x) | 3.034 (3.43x)|
 * | true caption, short names (= reference 1)  |               |              | 1.000 (2.95x) | 4.396 (4.98x)|
 * | two items swap cells                       | 0.469 (1.06x) | 0.951 (2.11x)| 0.614 (1.81x) | 1.960 (2.22x)|
 * | right items, every one in a wrong cell     | 0.421 (0.96x) | 0.932 (2.07x)| 0.362 (1.07x) | 1.462 (1.65x)|
 * | one item of a wrong class, right cells     | 0.422 (0.96x) | 0.643 (1.43x)| 0.671 (1.98x) | 2.054 (2.33x)|
 * | the next scene's true caption              | 0.308 (0.70x) | 0.224 (0.50x)| 0.282 (0.83x) | 0.459 (0.52x)|
 *
 * With the `varied` captions (random templates, synonyms, item order, relation chains) BLEU-4 is decided by
 * template n-grams ("a scene with", "at the top left"): a true caption scores barely above the best constant
 * one and a caption with every item in the wrong cell scores like the true one, so no captioner can reach 1.5x
 * the constant on BLEU-4. `layout` captions ("top left: a sneaker, top right: a bag.") name every occupied cell
 * in reading order in one fixed wording (the references differ only in synonyms): every 4-gram holds a class
 * noun or the order of cells, so the true caption scores 2.5-3x the constant on BLEU-4 and 3.4-5x on CIDEr,
 * half-right captions fall in between, and a caption with the right items in wrong cells stays near the
 * constant on BLEU-4. Tiny scene configs that report BLEU / CIDEr therefore set `captionStyle: layout`.
 * (Other fixed wordings measured the same way, with one reference: "a sneaker at the top left, a bag at the top
 * right and ..." gave the true caption only 1.78x the constant on BLEU-4, as "at the top left and a" is shared
 * by most scenes; references restricted to the varied generator's positional captions 1.40x.)
 * @param caption captions a batch of images float32 [B, C, H, W] in [0, 1]; the function owns no tensor it is given
 * @param data the session's data (its `root` is the Fashion-MNIST folder for fmnist)
 * @param imageShape the model's input [C, H, W]
 * @param fmnist whether the data is Fashion-MNIST (scenes) rather than user caption files
 * @returns the metrics, or undefined when the data has no test split to caption or `images` is 0
 */
export async function evaluateCaptioning(
  caption: (images: Tensor) => string[] | Promise<string[]>,
  data: ImageTextData, imageShape: [number, number, number], fmnist: boolean, opts: CaptionEvalOptions,
): Promise<CaptionMetrics | undefined> {
  if (opts.images <= 0) return undefined;
  const test = captionTestSet(data, imageShape, opts.images, fmnist);
  if (!test) return undefined;
  const { images } = test;
  const per = images.channels * images.height * images.width;
  const generated: string[] = [];
  for (let s = 0; s < images.count; s += opts.batchSize) {
    const e = Math.min(images.count, s + opts.batchSize);
    const px = new Float32Array((e - s) * per);
    for (let k = 0; k < px.length; k++) px[k] = images.images[s * per + k] / 255;
    const batch = tf.tensor4d(px, [e - s, images.channels, images.height, images.width]);
    try {
      generated.push(...(await caption(batch)));
    } finally {
      batch.dispose();
    }
  }
  const scores = captionScores(generated, test.references);
  const constant = bestConstantCaptions(constantCaptionPool(data, opts.seed), test.references);
  return {
    ...scores,
    bleu4ConstantBaseline: constant.bleu4.score,
    ciderConstantBaseline: constant.cider.score,
    constantCaptions: { bleu4: constant.bleu4.caption, cider: constant.cider.caption },
    captionedImages: images.count,
    examples: generated.slice(0, opts.examples ?? 5).map((g, i) => ({ generated: g, references: test.references[i] })),
  };
}
