import { tf, Tensor } from '../tf';
import { Rng } from '../data/rng';
import { ImageSet } from '../data/types';
import { buildScenes } from '../data/scenes';
import { resizeImageSet } from '../data/resize';
import { bestConstantCaptions, captionScores } from '../eval/caption-metrics';
import { loadFashionMnist } from './fmnist';
import { ImageTextData, RETRIEVAL_GALLERY_SEED } from './image-text';

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
interface CaptionTestSet {
  images: ImageSet;
  references: string[][];
}

function testSet(data: ImageTextData, imageShape: [number, number, number], count: number, fmnist: boolean): CaptionTestSet | undefined {
  const [, h, w] = imageShape;
  if (fmnist) {
    // the scenes of the retrieval gallery (same seed, prefix-stable), with all their captions as references
    const scenes = buildScenes(loadFashionMnist(data.root, 'test'), count, RETRIEVAL_GALLERY_SEED);
    return { images: resizeImageSet(scenes.images, h, w), references: scenes.scenes.map((s) => s.captions) };
  }
  if (!data.gallery) return undefined;
  const g = data.gallery(count);
  return { images: g.images, references: g.captions.map((c) => [c]) };
}

/**
 * Captions the test split with a model and scores it: BLEU-1..4 and CIDEr-D against each image's reference
 * captions (fmnist: the first `images` scenes of the fixed retrieval gallery, references = all captions of the scene;
 * user data: the test file, one reference each), plus the constant-caption baselines from core's
 * `bestConstantCaptions` over the training captions (one drawn per training sample), scored by the same code.
 * Shared by every captioning model's registry entry (`extraMetrics`).
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
  const test = testSet(data, imageShape, opts.images, fmnist);
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
  const pool: string[] = [];
  for (let i = 0; i < data.train.size; i++) pool.push(data.train.caption(i, new Rng(opts.seed).fork(`caption-${i}`)));
  const constant = bestConstantCaptions(pool, test.references);
  return {
    ...scores,
    bleu4ConstantBaseline: constant.bleu4.score,
    ciderConstantBaseline: constant.cider.score,
    constantCaptions: { bleu4: constant.bleu4.caption, cider: constant.cider.caption },
    captionedImages: images.count,
    examples: generated.slice(0, opts.examples ?? 5).map((g, i) => ({ generated: g, references: test.references[i] })),
  };
}
