import { tf } from '../tf';
import { Rng } from '../data/rng';
import type { KMeansVisualTokenizer } from '../nn/kmeans-tokenizer';
import type { VisualTokenizerConfig } from '../config/visual-tokenizer';

/** The training images of a run, as a model's `prepare` sees them (the harness's pair source is one). */
export interface TrainingImages {
  /** number of images */
  readonly size: number;
  /** image shape [C, H, W] */
  readonly imageShape: [number, number, number];
  /** pixels of image i as float32 [C, H, W] in [0, 1], written to `out` at `offset` */
  image(i: number, out: Float32Array, offset: number): void;
}

/** What {@link ModelSpec.prepare} is given: the run's training images and its data seed. */
export interface PrepareContext {
  trainImages: TrainingImages;
  /** the run's data seed (`data.seed`, else `train.seed`) */
  seed: number;
}

/**
 * Fits a model's k-means visual tokenizer (BEiT-3's image targets; VLMo's image-only MIM stage) on patches of
 * `cfg.fitImages` training images drawn with `Rng(data seed).fork('visual-tokenizer')` (deterministic, so a rerun
 * fits the same codebook), with `cfg.iterations` Lloyd steps. Does nothing when there is no tokenizer or it is
 * already fitted (e.g. loaded from a checkpoint).
 * @throws RangeError from KMeansVisualTokenizer.fit when the images give fewer patches than codes
 */
export function fitVisualTokenizer(tok: KMeansVisualTokenizer | undefined, cfg: VisualTokenizerConfig, ctx: PrepareContext): void {
  if (!tok || tok.fitted) return;
  const train = ctx.trainImages;
  const rng = new Rng(ctx.seed).fork('visual-tokenizer');
  const n = Math.min(cfg.fitImages, train.size);
  const order = rng.permutation(train.size).subarray(0, n);
  const [c, h, w] = train.imageShape;
  const px = new Float32Array(n * c * h * w);
  order.forEach((i, j) => train.image(i, px, j * c * h * w));
  const patches = tf.tidy(() => tok.patchify(tf.tensor4d(px, [n, c, h, w])).dataSync() as Float32Array);
  tok.fit(patches, rng.fork('kmeans'), cfg.iterations);
}
