import { tf, Tensor, Rng, TextTokenizer, ItmScorer, dualEncoderScores } from '@mmzoo/core';
import { ImageSet } from '../data/types';
import { buildScenes, describeScene, SceneCaptionStyle, swapPositions } from '../data/scenes';
import { EvalConfig } from '../config/experiment';
import { DualEncoder, embedInBatches } from './dual-encoder';
import { RerankedRecall, itmRerankedRecall, scorePairs } from './itm-rerank';
import { loadFashionMnist } from '../data/fmnist';
import { ImageTextData, RETRIEVAL_GALLERY_SEED } from '../data/image-text';

/** Metrics of {@link evaluateItm}. */
export interface ItmMetrics {
  /** retrieval on the same gallery as `metrics.retrieval`, ITC top-k re-ranked by ITM (same shape, plus k) */
  retrievalItmRerank?: RerankedRecall & { gallery: number };
  /** accuracy of the ITM head (match when its log-odds > 0) on a balanced set of positive pairs and hard negatives */
  itmAccuracy?: number;
  /** what the accuracy was measured on */
  itmAccuracyDetail?: {
    pairs: number; positiveAccuracy: number; negativeAccuracy: number; negatives: 'swapped-positions' | 'other-caption';
    /**
     * threshold-free: the fraction of images whose positive caption scores higher than its hard negative (ties
     * count half, so a head that scores everything alike gets chance, 0.5; a NaN score counts as a loss), the
     * two-choice accuracy of compositional benchmarks (e.g. ARO, Yuksekgonul et al., ICLR 2023)
     */
    pairwiseAccuracy: number;
    /** mean ITM log-odds of the positive and of the negative pairs */
    meanPositiveScore: number;
    meanNegativeScore: number;
    /**
     * the same positives against ALBEF's notion of a hard negative (section 3.2): for each image, the non-matching
     * gallery caption (different key) of highest ITC similarity
     */
    itcHardNegatives?: { accuracy: number; negativeAccuracy: number };
  };
}

/** Options of {@link evaluateItm}. */
export interface ItmEvalOptions {
  /** ITC candidates re-ranked per query */
  k: number;
  /** rank by ITM + ITC (BLIP's evaluation) instead of ITM alone (ALBEF's) */
  addItc?: boolean;
  /** pairs per ITM batch (default 256) */
  batchSize?: number;
}

function imagesOf(set: ImageSet, s: number, e: number): Tensor {
  const per = set.channels * set.height * set.width;
  const px = new Float32Array((e - s) * per);
  for (let k = 0; k < px.length; k++) px[k] = set.images[s * per + k] / 255;
  return tf.tensor4d(px, [e - s, set.channels, set.height, set.width]);
}

function concatInBatches(count: number, batchSize: number, make: (s: number, e: number) => Tensor[]): Tensor[] {
  const parts: Tensor[][] = [];
  for (let s = 0; s < count; s += batchSize) parts.push(tf.tidy(() => make(s, Math.min(count, s + batchSize))));
  const out = parts[0].map((_, i) => tf.concat(parts.map((p) => p[i]), 0));
  tf.dispose(parts.flat());
  return out;
}

/**
 * For each gallery scene of the fmnist test split (the {@link RETRIEVAL_GALLERY_SEED} scenes), the caption of the
 * same layout with two items' positions swapped, drawn with the scene's own caption generator so that it differs
 * from the gallery caption only in position and relation words (data/scenes `swapPositions`): a hard negative.
 * @param captionStyle the wording of the gallery captions (data/scenes `SceneCaptionStyle`, default 'varied')
 * @returns one caption per scene, or null when no swap changes the caption
 */
export function swappedSceneCaptions(testImages: ImageSet, count: number, captionStyle: SceneCaptionStyle = 'varied'): (string | null)[] {
  const scenes = buildScenes(testImages, count, RETRIEVAL_GALLERY_SEED, { captionStyle });
  const grid = { rows: scenes.rows, cols: scenes.cols };
  return scenes.scenes.map((scene, s) => {
    const original = scene.captions[0];
    const n = scene.items.length;
    const pairs: [number, number][] = [];
    for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) pairs.push([a, b]);
    new Rng(RETRIEVAL_GALLERY_SEED).fork(`itm-negative-${s}`).shuffle(pairs);
    for (const [a, b] of pairs) {
      const swapped = describeScene(swapPositions(scene.items, a, b), grid, new Rng(RETRIEVAL_GALLERY_SEED).fork(s).fork('text'), 1, captionStyle);
      if (swapped.captions[0] !== original) return swapped.captions[0];
    }
    return null;
  });
}

/**
 * ITM evaluation on the retrieval gallery (`eval.retrievalGallery` items):
 * - `retrievalItmRerank`: ITC top-k re-ranked by ITM ({@link itmRerankedRecall}; ALBEF section 4.1);
 * - `itmAccuracy`: on a balanced set of each gallery image with its caption (positive) and with a hard negative
 *   caption: for Fashion-MNIST scenes the caption of the layout with two items swapped
 *   ({@link swappedSceneCaptions}), for user data the caption of another gallery image.
 * A metric the data cannot give is left out.
 */
export function evaluateItm(
  model: DualEncoder & ItmScorer, tokenizer: TextTokenizer, data: ImageTextData, evalCfg: EvalConfig, contextLength: number, opts: ItmEvalOptions,
): ItmMetrics {
  if (!(evalCfg.retrievalGallery > 0 && data.gallery)) return {};
  const g = data.gallery(evalCfg.retrievalGallery);
  const n = g.captions.length;
  const bs = evalCfg.batchSize;
  const textsOf = (texts: string[]) => (s: number, e: number) => {
    const enc = tokenizer.encodeBatch(texts.slice(s, e), contextLength);
    return tf.tensor2d(enc.ids, enc.shape, 'int32');
  };
  const imgEmb = embedInBatches(n, bs, (s, e) => imagesOf(g.images, s, e), (x) => model.encodeImage(x));
  const txtEmb = embedInBatches(n, bs, textsOf(g.captions), (x) => model.encodeText(x));
  const itc = tf.tidy(() => dualEncoderScores(model, imgEmb, txtEmb).dataSync());
  tf.dispose([imgEmb, txtEmb]);
  const [imageFeatures] = concatInBatches(n, bs, (s, e) => [model.itmImageFeatures(imagesOf(g.images, s, e))]);
  const textFeatures = concatInBatches(n, bs, (s, e) => model.itmTextFeatures(textsOf(g.captions)(s, e)));
  const score = (ii: ArrayLike<number>, ti: ArrayLike<number>) => scorePairs(model, imageFeatures, textFeatures, ii, ti, opts.batchSize);
  const out: ItmMetrics = {};
  out.retrievalItmRerank = { ...itmRerankedRecall(itc, g.keys, opts.k, score, { addItc: opts.addItc }), gallery: n };

  // balanced ITM accuracy
  let negatives: (string | null)[];
  let kind: 'swapped-positions' | 'other-caption';
  if (data.test) {
    negatives = swappedSceneCaptions(loadFashionMnist(data.root, 'test'), n, data.sceneCaptionStyle);
    kind = 'swapped-positions';
  } else {
    const order = new Rng(RETRIEVAL_GALLERY_SEED).fork('itm-negatives').permutation(n);
    negatives = Array.from({ length: n }, (_, i) => (g.keys[order[i]] !== g.keys[i] ? g.captions[order[i]] : null));
    kind = 'other-caption';
  }
  const keep = negatives.map((c, i) => (c === null ? -1 : i)).filter((i) => i >= 0);
  if (keep.length > 0) {
    const posScores = score(Int32Array.from(keep), Int32Array.from(keep));
    const negCaptions = keep.map((i) => negatives[i]!);
    const negText = concatInBatches(keep.length, bs, (s, e) => model.itmTextFeatures(textsOf(negCaptions)(s, e)));
    const negScores = scorePairs(model, imageFeatures, negText, Int32Array.from(keep), Int32Array.from(keep.map((_, j) => j)), opts.batchSize);
    tf.dispose(negText);
    // a NaN score is never a correct prediction (NaN > 0 and NaN <= 0 are both false)
    const posOk = posScores.filter((v) => v > 0).length;
    const negOk = negScores.filter((v) => v <= 0).length;
    out.itmAccuracy = (posOk + negOk) / (2 * keep.length);
    let wins = 0;
    posScores.forEach((v, k) => {
      // a NaN on either side is a loss (NaN compares false and is never === itself)
      wins += v > negScores[k] ? 1 : v === negScores[k] ? 0.5 : 0;
    });
    const mean = (v: ArrayLike<number>) => Array.from(v).reduce((a, b) => a + b, 0) / v.length;
    out.itmAccuracyDetail = {
      pairs: 2 * keep.length, positiveAccuracy: posOk / keep.length, negativeAccuracy: negOk / keep.length, negatives: kind,
      pairwiseAccuracy: wins / keep.length, meanPositiveScore: mean(posScores), meanNegativeScore: mean(negScores),
    };
    const hard = keep.map((i) => {
      let best = -1;
      // NaN similarities rank below every number
      const sim = (j: number) => (Number.isNaN(itc[i * n + j]) ? -Infinity : itc[i * n + j]);
      for (let j = 0; j < n; j++) if (g.keys[j] !== g.keys[i] && (best < 0 || sim(j) > sim(best))) best = j;
      return best;
    });
    const withHard = keep.filter((_, k) => hard[k] >= 0);
    if (withHard.length > 0) {
      const hardScores = score(Int32Array.from(withHard), Int32Array.from(hard.filter((j) => j >= 0)));
      const hardOk = hardScores.filter((v) => v <= 0).length;
      const posOkHard = withHard.filter((i) => posScores[keep.indexOf(i)] > 0).length;
      out.itmAccuracyDetail.itcHardNegatives = { accuracy: (posOkHard + hardOk) / (2 * withHard.length), negativeAccuracy: hardOk / withHard.length };
    }
  }
  tf.dispose([imageFeatures, ...textFeatures]);
  return out;
}
