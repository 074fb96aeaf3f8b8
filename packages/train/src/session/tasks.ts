import {
  DualEncoder, EvalTaskName, EvalTaskOptions, EvalTaskRequest, ImageFeatureExtractor, Tensor, TrainingModel,
  isCausalLM, isDualEncoder, isImageFeatureExtractor, isImagePromptedLM, isItmScorer, tf,
} from '@mmzoo/core';
import { ImageSet } from '../data/types';
import { resizeImageSet } from '../data/resize';
import { EMBEDDED_FASHION_MNIST_ROOT, loadFashionMnist } from '../data/fmnist';
import { evaluateRetrieval, evaluateZeroShot } from '../data/image-text';
import { evaluateItm } from '../eval/itm-eval';
import { evaluateCaptioning } from '../eval/caption-eval';
import { linearProbe } from '../eval/linear-probe';
import { imageTextOf } from './session';
import type { TrainingSpec, Session } from './session';
import { textPerplexity } from './perplexity-task';
import { chatMetrics } from './chat-task';
import { sceneVqaMetrics } from './scene-vqa-task';

/** One evaluation task: its metrics (results.json `metrics` keys, all among the task's columns) for a session's model. */
export type EvalTask<T extends EvalTaskName> = (model: TrainingModel, s: Session, options: EvalTaskOptions[T]) => object | Promise<object>;

/** The model as a dual encoder. @throws Error naming the task and model when it is not one */
function dualEncoder(m: TrainingModel, s: Session, task: string): TrainingModel & DualEncoder {
  if (!isDualEncoder(m)) throw new Error(`evaluation task '${task}': model '${s.spec.name}' has no image and text embeddings (DualEncoder)`);
  return m;
}

/**
 * The evaluation tasks a spec's `evalTasks` may request, by name (@mmzoo/core `EvalTaskOptions` documents each).
 * A task the data cannot serve returns no metrics (reported as n/a), never 0.
 */
export const EVAL_TASKS: { readonly [T in EvalTaskName]: EvalTask<T> } = {
  zeroShot: (m, s) => evaluateZeroShot(dualEncoder(m, s, 'zeroShot'), s.tokenizer, imageTextOf(s, 'zeroShot').data, s.config.eval, s.contextLength),
  retrieval: (m, s) => evaluateRetrieval(dualEncoder(m, s, 'retrieval'), s.tokenizer, imageTextOf(s, 'retrieval').data, s.config.eval, s.contextLength),
  itm: (m, s, o) => {
    const dual = dualEncoder(m, s, 'itm');
    if (!isItmScorer(dual)) throw new Error(`evaluation task 'itm': model '${s.spec.name}' has no ITM head (ItmScorer)`);
    // ITC top-k re-ranked by ITM (+ ITC), and ITM accuracy against hard negatives
    return evaluateItm(dual, s.tokenizer, imageTextOf(s, 'itm').data, s.config.eval, s.contextLength, o);
  },
  captioning: async (m, s, o) => {
    const spec = s.spec;
    if (!spec.caption) throw new Error(`evaluation task 'captioning': model '${spec.name}' has no caption()`);
    const caption = spec.caption.bind(spec);
    const { data, imageShape } = imageTextOf(s, 'captioning');
    const metrics = await evaluateCaptioning(
      (images) => caption(m, images, s.tokenizer, s.config.model),
      data, imageShape, s.config.data.dataset === 'fmnist',
      { images: o.images, batchSize: Math.min(100, s.config.eval.batchSize), seed: s.config.data.seed ?? s.config.train.seed },
    );
    return metrics ?? {};
  },
  linearProbe: (m, s, o) => {
    if (!isImageFeatureExtractor(m)) throw new Error(`evaluation task 'linearProbe': model '${s.spec.name}' gives no image features (ImageFeatureExtractor)`);
    const top1 = linearProbeTop1(m, s, o.trainImages);
    return top1 === undefined ? {} : { linearProbeTop1: top1 };
  },
  perplexity: (m, s) => {
    if (!isCausalLM(m)) throw new Error(`evaluation task 'perplexity': model '${s.spec.name}' is no causal language model (CausalLM)`);
    return textPerplexity(m, s);
  },
  chat: (m, s) => {
    if (!isCausalLM(m)) throw new Error(`evaluation task 'chat': model '${s.spec.name}' is no causal language model (CausalLM)`);
    return chatMetrics(m, s);
  },
  sceneVqa: (m, s) => {
    if (!isImagePromptedLM(m)) throw new Error(`evaluation task 'sceneVqa': model '${s.spec.name}' does not answer prompts about images (ImagePromptedLM)`);
    return sceneVqaMetrics(m, s);
  },
};

/**
 * Runs one requested task on a session's model.
 * @throws Error when the task writes a metric its request does not declare among its columns
 */
export async function runEvalTask<T extends EvalTaskName>(request: EvalTaskRequest<T>, s: Session): Promise<object> {
  const task: EvalTask<T> = EVAL_TASKS[request.task];
  const metrics = await task(s.model, s, request.options);
  const undeclared = Object.keys(metrics).filter((k) => !request.columns.includes(k));
  if (undeclared.length > 0) {
    throw new Error(`evaluation task '${request.task}' of model '${s.spec.name}' wrote ${undeclared.join(', ')}, not among its columns (${request.columns.join(', ')})`);
  }
  return metrics;
}

/**
 * Checks that a built model has what each evaluation task its spec requests for `cfg` needs: image and text
 * embeddings for `zeroShot`, `retrieval` and `itm`, an ITM head for `itm`, the spec's `caption` for `captioning`,
 * image features for `linearProbe`, a causal-LM forward for `perplexity` and `chat`, generation from images for
 * `sceneVqa`.
 * @throws Error naming the model and the task
 */
export function checkEvalTasks(spec: TrainingSpec, cfg: unknown, model: TrainingModel): void {
  for (const { task } of spec.evalTasks(cfg)) {
    const missing = (task === 'zeroShot' || task === 'retrieval' || task === 'itm') && !isDualEncoder(model) ? 'image and text embeddings (DualEncoder)'
      : task === 'itm' && !isItmScorer(model) ? 'an ITM head (ItmScorer)'
      : task === 'captioning' && !spec.caption ? 'a caption()'
        : task === 'linearProbe' && !isImageFeatureExtractor(model) ? 'image features (ImageFeatureExtractor)'
          : (task === 'perplexity' || task === 'chat') && !isCausalLM(model) ? 'a causal-LM forward (CausalLM)'
            : task === 'sceneVqa' && !isImagePromptedLM(model) ? 'generation from images (ImagePromptedLM)'
              : undefined;
    if (missing) throw new Error(`model '${spec.name}' requests the evaluation task '${task}' but has no ${missing}`);
  }
}

function featuresOf(model: ImageFeatureExtractor, set: ImageSet, batchSize: number): Tensor {
  const per = set.channels * set.height * set.width;
  const parts: Tensor[] = [];
  for (let s = 0; s < set.count; s += batchSize) {
    const e = Math.min(set.count, s + batchSize);
    const px = new Float32Array((e - s) * per);
    for (let k = 0; k < px.length; k++) px[k] = set.images[s * per + k] / 255;
    parts.push(tf.tidy(() => model.imageFeatures(tf.tensor4d(px, [e - s, set.channels, set.height, set.width]))));
  }
  const all = tf.concat(parts, 0);
  tf.dispose(parts);
  return all;
}

/**
 * Linear probe on Fashion-MNIST classes (BEiT section 3.1 protocol, frozen encoder): the image features
 * (`imageFeatures`) of `trainImages` training images fit a logistic regression, scored top-1 on the whole test split.
 * Only for the `fmnist` dataset (the split and labels come from its IDX files).
 * @returns top-1 in [0, 1], or undefined for other datasets
 */
export function linearProbeTop1(model: ImageFeatureExtractor, s: Session, trainImages = 5000): number | undefined {
  if (s.config.data.dataset !== 'fmnist') return undefined;
  const { data } = imageTextOf(s, 'linearProbe');
  if (!data.test) return undefined;
  const [, h, w] = data.train.imageShape;
  const full = loadFashionMnist(s.config.data.root ?? EMBEDDED_FASHION_MNIST_ROOT, 'train');
  const n = Math.min(trainImages, full.count);
  const per = full.channels * full.height * full.width;
  const train = resizeImageSet({ ...full, count: n, images: full.images.slice(0, n * per), labels: full.labels!.slice(0, n) }, h, w);
  const bs = s.config.eval.batchSize;
  const trainFeats = featuresOf(model, train, bs);
  const testFeats = featuresOf(model, data.test, bs);
  try {
    return linearProbe({ features: trainFeats, labels: train.labels! }, { features: testFeats, labels: data.test.labels! }, { numClasses: 10 }).top1;
  } finally {
    tf.dispose([trainFeats, testFeats]);
  }
}
