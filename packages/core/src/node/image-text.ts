import { Rng } from '../data/rng';
import { ImageSet } from '../data/types';
import { captionFor } from '../data/captions';
import { buildScenes, SceneSet } from '../data/scenes';
import { classPrompts, FMNIST_CLASS_NAMES } from '../data/fmnist-classes';
import { resizeImageSet } from '../data/resize';
import { PairSource, batchIndices, concatPairs, imageSetPairs } from '../data/pairs';
import { DataConfig, EvalConfig } from '../config/experiment';
import { WordTokenizer } from '../tokenizers/word-tokenizer';
import { TextTokenizer } from '../tokenizers/types';
import { DualEncoder, embedInBatches } from '../eval/dual-encoder';
import { ensembleClassEmbeddings, zeroShotAccuracy } from '../eval/zero-shot';
import { retrievalRecall, RecallAtK } from '../eval/retrieval';
import { tf, Tensor } from '../tf';
import { EMBEDDED_FASHION_MNIST_ROOT, loadFashionMnist } from './fmnist';
import { existsSync } from 'fs';
import * as path from 'path';

/** Seed of the fixed retrieval gallery (the same 1,000 test scenes for every model and run). */
export const RETRIEVAL_GALLERY_SEED = 20240601;

/** A batch of image-text pairs as tensors. */
export interface ImageTextBatch {
  /** float32 [B, C, H, W] in [0, 1] */
  images: Tensor;
  /** int32 [B, L] */
  ids: Tensor;
  /** image id of each pair [B] (same-image pairs share it) */
  imageIds: Int32Array;
}

/** Training data of an image-text experiment. */
export interface ImageTextData {
  train: PairSource;
  /** Fashion-MNIST test split (for zero-shot), when the dataset is fmnist */
  test?: ImageSet;
  /** the data root actually used */
  root: string;
}

/**
 * Loads the training pairs of an fmnist experiment: every training image with a caption drawn per sample from
 * templates and synonyms, plus `scenes.train` scenes (built from training images, resized to the model's image
 * size), and the test split.
 * @param imageShape the model's input [C, H, W]
 * @param seed caption/scene seed
 * @throws Error naming the folder when the data root or a file is missing, or a non-fmnist dataset is asked for
 */
export function loadImageTextData(data: DataConfig, imageShape: [number, number, number], seed: number, configDir = process.cwd()): ImageTextData {
  if (data.dataset !== 'fmnist') throw new Error(`data.dataset: '${data.dataset}' is not wired to training yet; use 'fmnist'`);
  const root = data.root ? path.resolve(configDir, data.root) : EMBEDDED_FASHION_MNIST_ROOT;
  if (!existsSync(root)) throw new Error(`data.root: folder ${root} does not exist`);
  const [c, h, w] = imageShape;
  if (c !== 1) throw new Error(`Fashion-MNIST images have 1 channel; the model expects ${c} (set model.vision.channels: 1)`);
  let trainSet = loadFashionMnist(root, 'train');
  if (data.trainLimit && data.trainLimit < trainSet.count) trainSet = sliceSet(trainSet, data.trainLimit);
  const test = loadFashionMnist(root, 'test');
  const labels = trainSet.labels!;
  const items = imageSetPairs(resizeImageSet(trainSet, h, w), (i, rng) => captionFor(labels[i], rng));
  const sources: PairSource[] = [items];
  if (data.scenes.train > 0) {
    const scenes = buildScenes(trainSet, data.scenes.train, seed, { rows: data.scenes.grid, cols: data.scenes.grid });
    sources.push(scenePairs(scenes, h, w, trainSet.count));
  }
  return { train: concatPairs(sources), test: resizeImageSet(test, h, w), root };
}

/** Pairs over rendered scenes (resized to H x W); a caption is drawn from each scene's captions. */
export function scenePairs(scenes: SceneSet, height: number, width: number, idOffset = 0): PairSource {
  return imageSetPairs(resizeImageSet(scenes.images, height, width), (i, rng) => rng.choice(scenes.scenes[i].captions), idOffset);
}

function sliceSet(set: ImageSet, n: number): ImageSet {
  const per = set.channels * set.height * set.width;
  return { ...set, count: n, images: set.images.slice(0, n * per), labels: set.labels?.slice(0, n) };
}

/**
 * Builds the word tokenizer from the training captions: one caption per training sample (the same draws the
 * first epoch makes) so the vocabulary is a deterministic function of the data and seed.
 */
export function buildTokenizer(train: PairSource, seed: number): WordTokenizer {
  const captions: string[] = [];
  for (let i = 0; i < train.size; i++) captions.push(train.caption(i, new Rng(seed).fork(`caption-${i}`)));
  return WordTokenizer.fromCaptions(captions);
}

/**
 * Micro-batch `index` of the training stream: indices from the seeded epoch order, one caption per sample drawn
 * with the sample's own seed (so batches are a pure function of index and seed).
 */
export function makeImageTextBatch(train: PairSource, tokenizer: TextTokenizer, index: number, batchSize: number, contextLength: number, seed: number): ImageTextBatch {
  const { indices, sampleSeeds } = batchIndices(index, batchSize, train.size, seed);
  const [c, h, w] = train.imageShape;
  const pixels = new Float32Array(batchSize * c * h * w);
  const captions: string[] = [];
  const imageIds = new Int32Array(batchSize);
  indices.forEach((i, j) => {
    train.image(i, pixels, j * c * h * w);
    captions.push(train.caption(i, new Rng(seed).fork(`sample-${sampleSeeds[j]}`)));
    imageIds[j] = train.imageId(i);
  });
  const enc = tokenizer.encodeBatch(captions, contextLength);
  return { images: tf.tensor4d(pixels, [batchSize, c, h, w]), ids: tf.tensor2d(enc.ids, enc.shape, 'int32'), imageIds };
}

/** Metrics of {@link evaluateDualEncoder}. */
export interface DualEncoderMetrics {
  zeroShotTop1?: number;
  zeroShotTop5?: number;
  retrieval?: { imageToText: RecallAtK; textToImage: RecallAtK; gallery: number };
}

/**
 * Zero-shot classification on the whole Fashion-MNIST test split (class-prompt ensembling, CLIP section 3.1.4)
 * and image-text retrieval on a fixed gallery of `retrievalGallery` test scenes with one caption each (hits by
 * canonical description).
 */
export function evaluateDualEncoder(
  model: DualEncoder, tokenizer: TextTokenizer, test: ImageSet, testRaw: ImageSet, evalCfg: EvalConfig, contextLength: number,
): DualEncoderMetrics {
  const out: DualEncoderMetrics = {};
  const [c, h, w] = [test.channels, test.height, test.width];
  const imagesOf = (set: ImageSet) => (s: number, e: number) => {
    const per = c * h * w;
    const px = new Float32Array((e - s) * per);
    for (let k = 0; k < px.length; k++) px[k] = set.images[s * per + k] / 255;
    return tf.tensor4d(px, [e - s, c, h, w]);
  };
  const textsOf = (texts: string[]) => (s: number, e: number) => {
    const enc = tokenizer.encodeBatch(texts.slice(s, e), contextLength);
    return tf.tensor2d(enc.ids, enc.shape, 'int32');
  };
  const bs = evalCfg.batchSize;
  if (evalCfg.zeroShot) {
    const prompts = FMNIST_CLASS_NAMES.flatMap((_, k) => classPrompts(k));
    const promptEmb = embedInBatches(prompts.length, bs, textsOf(prompts), (x) => model.encodeText(x));
    const classEmb = ensembleClassEmbeddings(promptEmb, FMNIST_CLASS_NAMES.length);
    const imgEmb = embedInBatches(test.count, bs, imagesOf(test), (x) => model.encodeImage(x));
    const acc = zeroShotAccuracy(imgEmb, classEmb, test.labels!, [1, 5]);
    out.zeroShotTop1 = acc.top1;
    out.zeroShotTop5 = acc.top5;
    tf.dispose([promptEmb, classEmb, imgEmb]);
  }
  if (evalCfg.retrievalGallery > 0) {
    const n = evalCfg.retrievalGallery;
    const scenes = buildScenes(testRaw, n, RETRIEVAL_GALLERY_SEED);
    const gallery = resizeImageSet(scenes.images, h, w);
    const captions = scenes.scenes.map((s) => s.captions[0]);
    const imgEmb = embedInBatches(n, bs, imagesOf(gallery), (x) => model.encodeImage(x));
    const txtEmb = embedInBatches(n, bs, textsOf(captions), (x) => model.encodeText(x));
    out.retrieval = { ...retrievalRecall(imgEmb, txtEmb, scenes.scenes.map((s) => s.canonical)), gallery: n };
    tf.dispose([imgEmb, txtEmb]);
  }
  return out;
}
