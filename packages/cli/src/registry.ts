import { z } from 'zod';
import { DualEncoder } from '@mmzoo/train';
import { LossOutput, Module, StageData, StageSelection, TrainableModel } from '@mmzoo/core';
import type { ImageTextBatch } from '@mmzoo/train';
import { ClipConfigSchema, buildClip, CLIP } from '@mmzoo/clip';
import { vlmoEntry } from './models/vlmo';
import { beit3Entry } from './models/beit3';
import { cocaEntry } from './models/coca';
import { albefEntry } from './models/albef';
import { blipEntry } from './models/blip';

/** Ids the tokenizer provides to a builder when the config leaves them out. */
export interface BuildContext {
  vocabSize?: number;
  eotId?: number;
  padId?: number;
}

/**
 * A model trainable on image-text pairs and evaluable as a dual encoder. `stage` (stagewise runs, models with
 * `stageObjectives`) names the objectives to run and the data they see.
 */
export type ImageTextModel = Module & TrainableModel & DualEncoder & {
  trainingLoss(batch: ImageTextBatch, stage?: StageSelection): LossOutput;
};

/** One registry entry: the `model:` schema, the builder, and facts the CLI needs. */
export interface ModelEntry<C = any> {
  /** zod schema of the `model:` section */
  schema: z.ZodType<C>;
  /** builds a model from a validated config */
  build(cfg: C, ctx: BuildContext): ImageTextModel;
  /** input image shape [C, H, W] */
  imageShape(cfg: C): [number, number, number];
  /** token context length */
  contextLength(cfg: C): number;
  /** trainable parameter count per tower (component) of a built model */
  towers(model: ImageTextModel): Record<string, number>;
  /** one-line description for `mmzoo configs` and `info` */
  describe: string;
  /**
   * Model-specific metrics added to results.json `metrics` beside the dual-encoder ones (e.g. ALBEF's
   * `itmAccuracy`, `retrievalItmRerank`; captioners' `bleu4`, `cider`). Optional.
   */
  extraMetrics?(model: ImageTextModel, session: import('./session').Session): Promise<Record<string, unknown>> | Record<string, unknown>;
  /**
   * Captions a batch of images float32 [B, C, H, W] in [0, 1] with the model's text decoder and the config's
   * decoding settings (`mmzoo caption`); models without a decoder leave it out. Optional.
   */
  caption?(model: ImageTextModel, images: import('@mmzoo/core').Tensor, tokenizer: import('@mmzoo/core').TextTokenizer, cfg: C): string[];
  /**
   * Runs once before training starts from scratch (not on --resume, whose checkpoint restores what it made),
   * e.g. BEiT-3 fits its k-means visual tokenizer on training images. Optional.
   */
  prepare?(model: ImageTextModel, session: import('./session').Session): Promise<void> | void;
  /**
   * The objectives a `stages:` list may select for a model built from `cfg`, each with the data kinds it accepts
   * (e.g. VLMo `{ mim: ['images', 'pairs'], mlm: ['texts', 'pairs'], itc: ['pairs'], ... }`). Models without it do
   * not support stagewise training. Optional.
   */
  stageObjectives?(cfg: C): Record<string, readonly StageData[]>;
}

function countWhere(model: Module, pred: (name: string) => boolean): number {
  let n = 0;
  for (const [name, v] of model.trainableParameters()) if (pred(name)) n += v.size;
  return n;
}

const clip: ModelEntry<z.infer<typeof ClipConfigSchema>> = {
  schema: ClipConfigSchema,
  build: (cfg, ctx) => buildClip(cfg, { vocabSize: ctx.vocabSize, eotId: ctx.eotId }) as CLIP & ImageTextModel,
  imageShape: (cfg) => {
    const [h, w] = typeof cfg.vision.imageSize === 'number' ? [cfg.vision.imageSize, cfg.vision.imageSize] : cfg.vision.imageSize;
    return [cfg.vision.channels, h, w];
  },
  contextLength: (cfg) => cfg.text.contextLength,
  towers: (m) => ({
    vision: countWhere(m, (n) => n.startsWith('visual.')),
    text: countWhere(m, (n) => !n.startsWith('visual.') && n !== 'logit_scale'),
    logitScale: countWhere(m, (n) => n === 'logit_scale'),
  }),
  describe: 'CLIP (Radford et al. 2021): ViT + causal text transformer, symmetric contrastive loss',
};

/**
 * The model registry: `model.name` -> entry. An explicit map; a miss throws and lists the valid names.
 */
export const MODELS: Record<string, ModelEntry> = {
  clip,
  albef: albefEntry,
  blip: blipEntry,
  coca: cocaEntry,
  vlmo: vlmoEntry,
  beit3: beit3Entry,
};

/** @throws Error naming the unknown model and listing the registered names */
export function getModel(name: string, where = 'model.name'): ModelEntry {
  const entry = MODELS[name];
  if (!entry) throw new Error(`${where}: unknown model '${name}'; registered models: ${Object.keys(MODELS).join(', ')}`);
  return entry;
}
