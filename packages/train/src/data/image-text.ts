import { Rng, TextTokenizer, dualEncoderScores, tf } from '@mmzoo/core';
import type { ImageTextBatch } from '@mmzoo/core';
import { ImageSet } from './types';
import { captionFor } from './captions';
import { buildScenes, SceneCaptionStyle, SceneSet } from './scenes';
import { classPrompts, FMNIST_CLASS_NAMES } from './fmnist-classes';
import { resizeImageSet } from './resize';
import { PairSource, batchIndices, concatPairs, imageSetPairs } from './pairs';
import { DataConfig, EvalConfig } from '../config/experiment';
import { DualEncoder, embedInBatches } from '../eval/dual-encoder';
import { ensembleClassEmbeddings, zeroShotAccuracy } from '../eval/zero-shot';
import { retrievalRecall, RecallAtK } from '../eval/retrieval';
import { EMBEDDED_FASHION_MNIST_ROOT, loadFashionMnist } from './fmnist';
import { readCaptions } from './readers';
import { decodeImage } from './image';
import { existsSync } from 'fs';
import * as path from 'path';

/** Seed of the fixed retrieval gallery (the same 1,000 test scenes for every model and run). */
export const RETRIEVAL_GALLERY_SEED = 20240601;

/** Declared in @mmzoo/core (the model-facing run contract); re-exported for the harness's callers. */
export type { ImageTextBatch } from '@mmzoo/core';

/** A held-out gallery for retrieval: images with one caption each and the key that decides a hit. */
export interface RetrievalGallery {
  images: ImageSet;
  captions: string[];
  keys: string[];
}

/** Training data of an image-text experiment. */
export interface ImageTextData {
  train: PairSource;
  /** labelled test images at the model's size, for zero-shot classification (fmnist only) */
  test?: ImageSet;
  /** builds the retrieval gallery of `size` items (fmnist: fixed test scenes; user data: the test file) */
  gallery?: (size: number) => RetrievalGallery;
  /** where the data came from (folder or file) */
  root: string;
  /**
   * fmnist: how the scene captions are worded (`data.scenes.captionStyle`), for the gallery and for what builds
   * test scenes itself (caption references, ITM hard negatives); absent: 'varied'
   */
  sceneCaptionStyle?: SceneCaptionStyle;
}

/**
 * Loads the training pairs of an fmnist experiment: every training image with a caption drawn per sample from
 * templates and synonyms, plus `scenes.train` scenes (built from training images, resized to the model's image
 * size), and the test split.
 * @param imageShape the model's input [C, H, W]
 * @param seed caption/scene seed
 * @throws Error naming the folder when the data root or a file is missing, or a non-fmnist dataset is asked for
 */
export async function loadImageTextData(data: DataConfig, imageShape: [number, number, number], seed: number, configDir = process.cwd()): Promise<ImageTextData> {
  if (data.dataset !== 'fmnist') return loadCaptionFiles(data, imageShape, configDir);
  const root = data.root ? path.resolve(configDir, data.root) : EMBEDDED_FASHION_MNIST_ROOT;
  if (!existsSync(root)) throw new Error(`data.root: folder ${root} does not exist`);
  const [c, h, w] = imageShape;
  if (c !== 1) throw new Error(`Fashion-MNIST images have 1 channel; the model expects ${c} (set model.vision.channels: 1)`);
  let trainSet = loadFashionMnist(root, 'train');
  if (data.trainLimit && data.trainLimit < trainSet.count) trainSet = sliceSet(trainSet, data.trainLimit);
  const test = loadFashionMnist(root, 'test');
  const labels = trainSet.labels!;
  const sources: PairSource[] = [];
  if (data.items) sources.push(imageSetPairs(resizeImageSet(trainSet, h, w), (i, rng) => captionFor(labels[i], rng)));
  if (data.scenes.train > 0) {
    const scenes = buildScenes(trainSet, data.scenes.train, seed, { rows: data.scenes.grid, cols: data.scenes.grid, twins: data.scenes.twins, captionStyle: data.scenes.captionStyle });
    sources.push(scenePairs(scenes, h, w, trainSet.count));
  }
  const gallery = (n: number): RetrievalGallery => {
    const scenes = buildScenes(test, n, RETRIEVAL_GALLERY_SEED, { captionStyle: data.scenes.captionStyle });
    return { images: resizeImageSet(scenes.images, h, w), captions: scenes.scenes.map((s) => s.captions[0]), keys: scenes.scenes.map((s) => s.canonical) };
  };
  if (sources.length === 0) throw new Error('data: no training pairs (data.items is false and data.scenes.train is 0)');
  return { train: concatPairs(sources), test: resizeImageSet(test, h, w), gallery, root, sceneCaptionStyle: data.scenes.captionStyle };
}

/**
 * User image-caption files (`data.dataset` csv | coco | jsonl): `data.train` (required) and `data.test`
 * (optional, for retrieval) are read with the readers (errors name file and line), images decoded and resized
 * with sharp. Captions of one image are grouped; training draws one per sample. The files are decoded as
 * `data.encoding` (default UTF-8; an invalid byte is an error naming file and line).
 * @throws Error naming the config path, file and line for a missing or malformed file
 */
async function loadCaptionFiles(data: DataConfig, imageShape: [number, number, number], configDir: string): Promise<ImageTextData> {
  if (!data.train) throw new Error(`data.train: a ${data.dataset} file is required when data.dataset is '${data.dataset}'`);
  const load = async (file: string) => {
    const recs = readCaptions(path.resolve(configDir, file), { encoding: data.encoding });
    if (recs.length === 0) throw new Error(`${file}: no records`);
    const ids = [...new Set(recs.map((r) => r.imageId))];
    const captions = new Map<string, string[]>(ids.map((id) => [id, []]));
    const paths = new Map<string, string>();
    for (const r of recs) {
      captions.get(r.imageId)!.push(r.caption);
      paths.set(r.imageId, r.imagePath);
    }
    const [c, h, w] = imageShape;
    const per = c * h * w;
    const images = new Uint8Array(ids.length * per);
    for (let i = 0; i < ids.length; i++) {
      const px = await decodeImage(paths.get(ids[i])!, { height: h, width: w, channels: c === 1 ? 1 : 3 });
      for (let k = 0; k < per; k++) images[i * per + k] = Math.round(px[k] * 255);
    }
    const set: ImageSet = { images, count: ids.length, channels: c, height: h, width: w };
    return { set, ids, captions: ids.map((id) => captions.get(id)!) };
  };
  const train = await load(data.train);
  // the same file for both (e.g. `mmzoo eval --data caps.csv`) is read and decoded once
  const sameFile = data.test !== undefined && path.resolve(configDir, data.test) === path.resolve(configDir, data.train);
  const test = sameFile ? train : data.test ? await load(data.test) : undefined;
  return {
    train: imageSetPairs(train.set, (i, rng) => rng.choice(train.captions[i])),
    gallery: test ? (n) => {
      const m = Math.min(n, test.set.count);
      return { images: sliceSet(test.set, m), captions: test.captions.slice(0, m).map((cs) => cs[0]), keys: test.ids.slice(0, m) };
    } : undefined,
    root: path.resolve(configDir, data.train),
  };
}

/**
 * Pairs over rendered scenes (resized to H x W); a caption is drawn from each scene's captions. Image ids are
 * `idOffset + i`, so swapped twins (`scenes.twinOf`) have distinct ids and are valid negatives of each other;
 * each layout and its twin form one group ({@link PairSource.groups}) so that batches keep them together.
 */
export function scenePairs(scenes: SceneSet, height: number, width: number, idOffset = 0): PairSource {
  const pairs = imageSetPairs(resizeImageSet(scenes.images, height, width), (i, rng) => rng.choice(scenes.scenes[i].captions), idOffset);
  const twinOf = scenes.twinOf;
  if (!twinOf) return pairs;
  const starts: number[] = [];
  for (let i = 0; i < twinOf.length; i++) if (i === 0 || twinOf[i] !== i - 1) starts.push(i);
  return { ...pairs, groups: Int32Array.from(starts) };
}

function sliceSet(set: ImageSet, n: number): ImageSet {
  const per = set.channels * set.height * set.width;
  return { ...set, count: n, images: set.images.slice(0, n * per), labels: set.labels?.slice(0, n) };
}

/**
 * Micro-batch `index` of the training stream: indices from the seeded epoch order (grouped samples such as
 * swapped twins stay adjacent), one caption per sample drawn with the sample's own seed (so batches are a pure
 * function of index and seed).
 */
export function makeImageTextBatch(train: PairSource, tokenizer: TextTokenizer, index: number, batchSize: number, contextLength: number, seed: number): ImageTextBatch {
  const { indices, sampleSeeds } = batchIndices(index, batchSize, train.size, seed, train.groups);
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
  return { image: tf.tensor4d(pixels, [batchSize, c, h, w]), text: tf.tensor2d(enc.ids, enc.shape, 'int32'), imageIds, index, seed };
}

/** Metrics of {@link evaluateDualEncoder}. */
export interface DualEncoderMetrics {
  zeroShotTop1?: number;
  zeroShotTop5?: number;
  retrieval?: { imageToText: RecallAtK; textToImage: RecallAtK; gallery: number };
}

function imageBatches(set: ImageSet) {
  return (s: number, e: number) => {
    const [c, h, w] = [set.channels, set.height, set.width];
    const per = c * h * w;
    const px = new Float32Array((e - s) * per);
    for (let k = 0; k < px.length; k++) px[k] = set.images[s * per + k] / 255;
    return tf.tensor4d(px, [e - s, c, h, w]);
  };
}

function textBatches(tokenizer: TextTokenizer, contextLength: number, texts: string[]) {
  return (s: number, e: number) => {
    const enc = tokenizer.encodeBatch(texts.slice(s, e), contextLength);
    return tf.tensor2d(enc.ids, enc.shape, 'int32');
  };
}

/**
 * Zero-shot classification on the whole Fashion-MNIST test split (class-prompt ensembling, CLIP section 3.1.4):
 * `zeroShotTop1`, `zeroShotTop5`; nothing when `eval.zeroShot` is off or the data has no labelled test split.
 */
export function evaluateZeroShot(
  model: DualEncoder, tokenizer: TextTokenizer, data: ImageTextData, evalCfg: EvalConfig, contextLength: number,
): Pick<DualEncoderMetrics, 'zeroShotTop1' | 'zeroShotTop5'> {
  const test = data.test;
  if (!(evalCfg.zeroShot && test)) return {};
  const bs = evalCfg.batchSize;
  const prompts = FMNIST_CLASS_NAMES.flatMap((_, k) => classPrompts(k));
  const promptEmb = embedInBatches(prompts.length, bs, textBatches(tokenizer, contextLength, prompts), (x) => model.encodeText(x));
  const classEmb = ensembleClassEmbeddings(promptEmb, FMNIST_CLASS_NAMES.length);
  const imgEmb = embedInBatches(test.count, bs, imageBatches(test), (x) => model.encodeImage(x));
  const acc = zeroShotAccuracy(imgEmb, classEmb, test.labels!, [1, 5], (a, b) => dualEncoderScores(model, a, b));
  tf.dispose([promptEmb, classEmb, imgEmb]);
  return { zeroShotTop1: acc.top1, zeroShotTop5: acc.top5 };
}

/**
 * Image-text retrieval on the data's gallery (fmnist: a fixed set of `retrievalGallery` test scenes with one caption
 * each, hits by canonical description; user data: the test file, hits by image id): `retrieval`; nothing when
 * `eval.retrievalGallery` is 0 or the data has no gallery.
 */
export function evaluateRetrieval(
  model: DualEncoder, tokenizer: TextTokenizer, data: ImageTextData, evalCfg: EvalConfig, contextLength: number,
): Pick<DualEncoderMetrics, 'retrieval'> {
  if (!(evalCfg.retrievalGallery > 0 && data.gallery)) return {};
  const bs = evalCfg.batchSize;
  const g = data.gallery(evalCfg.retrievalGallery);
  const n = g.captions.length;
  const imgEmb = embedInBatches(n, bs, imageBatches(g.images), (x) => model.encodeImage(x));
  const txtEmb = embedInBatches(n, bs, textBatches(tokenizer, contextLength, g.captions), (x) => model.encodeText(x));
  const retrieval = { ...retrievalRecall(imgEmb, txtEmb, g.keys, (a, b) => dualEncoderScores(model, a, b)), gallery: n };
  tf.dispose([imgEmb, txtEmb]);
  return { retrieval };
}

/**
 * Zero-shot classification ({@link evaluateZeroShot}) and image-text retrieval ({@link evaluateRetrieval}). A
 * metric the data cannot give is left out (reported as n/a), never 0.
 */
export function evaluateDualEncoder(
  model: DualEncoder, tokenizer: TextTokenizer, data: ImageTextData, evalCfg: EvalConfig, contextLength: number,
): DualEncoderMetrics {
  return {
    ...evaluateZeroShot(model, tokenizer, data, evalCfg, contextLength),
    ...evaluateRetrieval(model, tokenizer, data, evalCfg, contextLength),
  };
}
