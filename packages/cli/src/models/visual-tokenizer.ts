import { KMeansVisualTokenizer, Rng, VisualTokenizerConfig, tf } from '@mmzoo/core';
import type { Session } from '../session';

/**
 * Fits a model's k-means visual tokenizer (BEiT-3's image targets; VLMo's image-only MIM stage) on patches of
 * `cfg.fitImages` training images drawn with `Rng(data seed).fork('visual-tokenizer')` (deterministic, so a rerun
 * fits the same codebook), with `cfg.iterations` Lloyd steps. Does nothing when there is no tokenizer or it is
 * already fitted (e.g. loaded from a checkpoint).
 * @throws RangeError from KMeansVisualTokenizer.fit when the images give fewer patches than codes
 */
export function fitVisualTokenizer(tok: KMeansVisualTokenizer | undefined, cfg: VisualTokenizerConfig, s: Session): void {
  if (!tok || tok.fitted) return;
  const train = s.data.train;
  const rng = new Rng(s.config.data.seed ?? s.config.train.seed).fork('visual-tokenizer');
  const n = Math.min(cfg.fitImages, train.size);
  const order = rng.permutation(train.size).subarray(0, n);
  const [c, h, w] = train.imageShape;
  const px = new Float32Array(n * c * h * w);
  order.forEach((i, j) => train.image(i, px, j * c * h * w));
  const patches = tf.tidy(() => tok.patchify(tf.tensor4d(px, [n, c, h, w])).dataSync() as Float32Array);
  tok.fit(patches, rng.fork('kmeans'), cfg.iterations);
}
