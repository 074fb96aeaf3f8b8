import { ImageSet, linearProbe, resizeImageSet, EMBEDDED_FASHION_MNIST_ROOT, loadFashionMnist } from '@mmzoo/train';
import { Module, Tensor, tf } from '@mmzoo/core';
import { BEiT3, Beit3Config, Beit3ConfigSchema, beit3StageObjectives, buildBeit3 } from '@mmzoo/beit3';
import { fitVisualTokenizer } from './visual-tokenizer';
import type { ImageTextModel, ModelEntry } from '../registry';
import type { Session } from '../session';

/**
 * Fits BEiT-3's k-means visual tokenizer before training (see {@link fitVisualTokenizer}); does nothing when the
 * model has no tokenizer or it is already fitted.
 */
export function fitBeit3Tokenizer(model: BEiT3, s: Session): void {
  fitVisualTokenizer(model.visualTokenizer, model.cfg.tokenizer, s);
}

function featuresOf(model: BEiT3, set: ImageSet, batchSize: number): Tensor {
  const per = set.channels * set.height * set.width;
  const parts: Tensor[] = [];
  for (let s = 0; s < set.count; s += batchSize) {
    const e = Math.min(set.count, s + batchSize);
    const px = new Float32Array((e - s) * per);
    for (let k = 0; k < px.length; k++) px[k] = set.images[s * per + k] / 255;
    parts.push(tf.tidy(() => {
      const out = model.forward({ images: tf.tensor4d(px, [e - s, set.channels, set.height, set.width]) }).encoderOut;
      return out.slice([0, 0, 0], [-1, 1, -1]).reshape([e - s, -1]);
    }));
  }
  const all = tf.concat(parts, 0);
  tf.dispose(parts);
  return all;
}

/**
 * Linear probe on Fashion-MNIST classes (BEiT section 3.1 protocol, frozen encoder): the image-only class token
 * of the final layer (after the vision LayerNorm) of `trainImages` training images fits a logistic regression,
 * scored top-1 on the whole test split. Only for the `fmnist` dataset (the split and labels come from its IDX files).
 * @returns top-1 in [0, 1], or undefined for other datasets
 */
export function linearProbeTop1(model: BEiT3, s: Session, trainImages = 5000): number | undefined {
  if (s.config.data.dataset !== 'fmnist' || !s.data.test) return undefined;
  const [, h, w] = s.data.train.imageShape;
  const full = loadFashionMnist(s.config.data.root ?? EMBEDDED_FASHION_MNIST_ROOT, 'train');
  const n = Math.min(trainImages, full.count);
  const per = full.channels * full.height * full.width;
  const train = resizeImageSet({ ...full, count: n, images: full.images.slice(0, n * per), labels: full.labels!.slice(0, n) }, h, w);
  const bs = s.config.eval.batchSize;
  const trainFeats = featuresOf(model, train, bs);
  const testFeats = featuresOf(model, s.data.test, bs);
  try {
    return linearProbe({ features: trainFeats, labels: train.labels! }, { features: testFeats, labels: s.data.test.labels! }, { numClasses: 10 }).top1;
  } finally {
    tf.dispose([trainFeats, testFeats]);
  }
}

function count(model: Module, pred: (name: string) => boolean): number {
  let n = 0;
  for (const [name, v] of model.trainableParameters()) if (pred(name)) n += v.size;
  return n;
}

/**
 * The `beit3` entry of the model registry: schema, builder, input facts, parameter counts per component,
 * `prepare` (fits the k-means visual tokenizer before training), the objectives stages may select (`mim`, `mlm`,
 * `vlm`, `itc`) and the extra metric `linearProbeTop1`.
 */
export const beit3Entry: ModelEntry<Beit3Config> = {
  schema: Beit3ConfigSchema,
  build: (cfg, ctx) => buildBeit3(cfg, { vocabSize: ctx.vocabSize, endId: ctx.eotId }) as BEiT3 & ImageTextModel,
  imageShape: (cfg) => [cfg.vision.channels, cfg.vision.imageSize, cfg.vision.imageSize],
  contextLength: (cfg) => cfg.text.contextLength,
  towers: (m) => ({
    visionEmbedding: count(m, (n) => /^(vision_embed|embed_positions\.vision)/.test(n)),
    textEmbedding: count(m, (n) => /^(text_embed|embed_positions\.language)/.test(n)),
    attention: count(m, (n) => /^encoder\.blocks\.\d+\.(norm1|attn)\./.test(n)),
    visionFfn: count(m, (n) => /^encoder\.blocks\.\d+\.(norm2|ffn)\.vision\./.test(n)),
    languageFfn: count(m, (n) => /^encoder\.blocks\.\d+\.(norm2|ffn)\.language\./.test(n)),
    visionLanguageFfn: count(m, (n) => /^encoder\.blocks\.\d+\.(norm2|ffn)\.vl\./.test(n)),
    finalNorm: count(m, (n) => n.startsWith('encoder.norm.')),
    mdmHeads: count(m, (n) => /^(mlm_head|mim_head)\./.test(n)),
    retrievalHeads: count(m, (n) => /^(vision_head|language_head|logit_scale)/.test(n)),
  }),
  describe: 'BEiT-3 (Wang et al. 2023): multiway transformer, masked data modeling on images, texts and pairs (+ ITC)',
  prepare: (m, s) => fitBeit3Tokenizer(m as unknown as BEiT3, s),
  stageObjectives: (cfg) => beit3StageObjectives(cfg),
  extraMetrics: (m, s) => {
    const top1 = linearProbeTop1(m as unknown as BEiT3, s);
    return top1 === undefined ? {} : { linearProbeTop1: top1 };
  },
};
