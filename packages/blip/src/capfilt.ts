/**
 * CapFilt (Li et al. 2022, "BLIP", section 3.3): dataset bootstrapping with a captioner and a filter, both
 * initialised from the same pre-trained BLIP and fine-tuned separately (the captioner with the LM objective, the
 * filter with ITC + ITM). The captioner writes one synthetic caption per training image with nucleus sampling
 * (p = 0.9 in the paper); the filter removes every text, original or synthetic, that its ITM head predicts as
 * unmatched to the image. Browser-safe: data loading and file output live in the CLI (`mmzoo capfilt`).
 */
import { z } from 'zod';
import {
  AdamW, FilterScores, ImageSet, NoisyCaption, cosineLr, filterPrecisionRecall, imageBatch, scorePairs, trainStep,
} from '@mmzoo/train';
import { CaptionDecodingSchema, LossOutput, Rng, Tensor, TextTokenizer, tf, Variable } from '@mmzoo/core';
import type { BLIP, BlipBatch } from './model';
import type { BlipConfig } from './config';
import { blipCaptions } from './captions';

/** The noisy training set: a copy of the run's training scenes with a known share of corrupted captions. */
export const CapFiltNoisySchema = z
  .object({
    /** training scenes to clean (default: the run's `data.scenes.train`: the scenes it was pre-trained on) */
    scenes: z.number().int().positive().optional(),
    /** share of captions replaced by another scene's caption (exactly round(fraction * scenes)) */
    fraction: z.number().min(0).max(1).default(0.3),
    /** seed of the caption choice and of the corruption */
    seed: z.number().int().default(0),
  })
  .strict();

/** Shared settings of the two fine-tuning runs (AdamW, linear warmup then cosine decay, as `train:`). */
export const CapFiltFinetuneSchema = z
  .object({
    /**
     * what the captioner and the filter are fine-tuned on: `noisy` (the noisy set itself) or `clean` (a separate
     * set of `cleanScenes` scenes with their own captions, the stand-in for the paper's human-annotated COCO)
     */
    data: z.enum(['noisy', 'clean']).default('noisy'),
    cleanScenes: z.number().int().positive().default(2000),
    /** scene seed of the clean set (keep it different from the run's data seed) */
    cleanSeed: z.number().int().default(12345),
    batchSize: z.number().int().positive().default(32),
    warmupSteps: z.number().int().nonnegative().default(0),
    weightDecay: z.number().nonnegative().default(0.05),
    gradClipNorm: z.number().positive().nullable().default(5),
    /** seed of the batch order and of the hard-negative draws */
    seed: z.number().int().default(0),
  })
  .strict();

/** Nucleus-sampling settings of the captioner (section 3.3: p = 0.9); the decoding fields of `model.caption`. */
export const CapFiltNucleusSchema = z
  .object({
    topP: z.number().gt(0).max(1).default(0.9),
    temperature: z.number().positive().default(1),
    /** most generated tokens, the end token included (capped at text.contextLength - 1) */
    maxLength: z.number().int().positive().default(27),
    /** BLIP's captioning min_length: 5 */
    minLength: z.number().int().nonnegative().default(5),
    repetitionPenalty: z.number().positive().default(1),
    seed: z.number().int().default(0),
  })
  .strict();

/** The captioner: LM fine-tuning steps, then nucleus sampling over every training image. */
export const CapFiltCaptionerSchema = z
  .object({
    /** LM fine-tuning steps (0: the pre-trained decoder as is) */
    steps: z.number().int().nonnegative().default(0),
    lr: z.number().positive().default(1e-4),
    /** synthetic captions per image (the paper: 1) */
    captionsPerImage: z.number().int().positive().default(1),
    nucleus: CapFiltNucleusSchema.default(CapFiltNucleusSchema.parse({})),
    /** images captioned per batch */
    batchSize: z.number().int().positive().default(100),
  })
  .strict();

/** The filter: ITC + ITM fine-tuning steps, then the ITM rule. */
export const CapFiltFilterSchema = z
  .object({
    /** ITC + ITM fine-tuning steps (0: the pre-trained ITM head as is) */
    steps: z.number().int().nonnegative().default(0),
    lr: z.number().positive().default(1e-4),
    /**
     * a text is kept when its ITM match probability is above this; 0.5 is the paper's rule (removed when the ITM
     * head predicts unmatched: argmax over {unmatched, matched})
     */
    threshold: z.number().min(0).lt(1).default(0.5),
    /** pairs per ITM batch */
    batchSize: z.number().int().positive().default(256),
  })
  .strict();

/** A `mmzoo capfilt` config file. Paths are relative to the config file. */
export const CapFiltConfigSchema = z
  .object({
    /** the pre-trained BLIP run folder (its latest checkpoint is used), e.g. runs/blip-fmnist-scenes-tiny */
    checkpoint: z.string().min(1),
    noisy: CapFiltNoisySchema.default(CapFiltNoisySchema.parse({})),
    finetune: CapFiltFinetuneSchema.default(CapFiltFinetuneSchema.parse({})),
    captioner: CapFiltCaptionerSchema.default(CapFiltCaptionerSchema.parse({})),
    filter: CapFiltFilterSchema.default(CapFiltFilterSchema.parse({})),
  })
  .strict();

/** A validated CapFilt config. */
export type CapFiltConfig = z.infer<typeof CapFiltConfigSchema>;

/** Loss curve summary of one fine-tuning run. */
export interface FinetuneSummary {
  steps: number;
  /** the objective's terms of the first and the last step; null when steps = 0 */
  first: Record<string, number> | null;
  last: Record<string, number> | null;
}

/** Settings of {@link finetuneBlip}. */
export interface FinetuneOptions {
  steps: number;
  lr: number;
  warmupSteps: number;
  weightDecay: number;
  gradClipNorm: number | null;
}

/**
 * The parameters a CapFilt objective trains: those its loss reaches. `captioner` (LM): the ViT, the text embeddings,
 * the shared cross-attention and feed-forward layers, the decoder's own self-attention and its LM head; not the
 * encoder's self-attention, the ITC projections, the ITM head or tau. `filter` (ITC + ITM): everything but the
 * decoder's own parameters (`text_decoder.*`: its self-attention and LM head transform).
 * @returns name -> variable, a subset of `model.trainableParameters()`
 */
export function capfiltTrainable(model: BLIP, objective: 'captioner' | 'filter'): Map<string, Variable> {
  const skip = objective === 'captioner'
    ? (n: string) => /^(temp|vision_proj\.|text_proj\.|itm_head\.)/.test(n) || /^text_encoder\.encoder\.layer\.\d+\.attention\./.test(n)
    : (n: string) => n.startsWith('text_decoder.');
  return new Map([...model.trainableParameters()].filter(([n]) => !skip(n)));
}

/**
 * Fine-tunes a BLIP in place with one CapFilt objective (section 3.3): `captioner` = the LM loss of the
 * image-grounded decoder (with the model's label smoothing); `filter` = ITC + ITM of the unimodal and image-grounded
 * encoders (with hard negatives). AdamW with linear warmup and cosine decay (core `trainStep`); the momentum
 * encoders and queues follow as in pre-training; only {@link capfiltTrainable} parameters change. Leaves no tensors behind.
 * @param makeBatch micro-batch `index` (a pure function of it; e.g. @mmzoo/train `makeImageTextBatch`)
 * @param disposeBatch frees a batch's tensors
 * @throws Error when the loss is not finite (core `trainStep`)
 */
export function finetuneBlip(
  model: BLIP, objective: 'captioner' | 'filter', opts: FinetuneOptions, makeBatch: (index: number) => BlipBatch, disposeBatch: (b: BlipBatch) => void,
  onStep?: (step: number, parts: Record<string, number>) => void,
): FinetuneSummary {
  const summary: FinetuneSummary = { steps: opts.steps, first: null, last: null };
  if (opts.steps === 0) return summary;
  const optimizer = new AdamW(capfiltTrainable(model, objective), { weightDecay: opts.weightDecay });
  const loss = (batch: BlipBatch): LossOutput => {
    const rng = new Rng(batch.seed).fork(`capfilt-${objective}-${batch.index}`);
    return tf.tidy(() => {
      const out = model.step({ images: batch.image, ids: batch.text, imageIds: batch.imageIds, alpha: model.opts.alpha, rng });
      const p = out.parts;
      const parts: Record<string, Tensor> = objective === 'captioner' ? { lm: p.lm, lmNll: p.lmNll } : { itc: p.itc, itm: p.itm };
      return { total: objective === 'captioner' ? p.lm : p.itc.add(p.itm), parts };
    });
  };
  try {
    for (let step = 0; step < opts.steps; step++) {
      const batch = makeBatch(step);
      let r;
      try {
        r = trainStep(model, optimizer, [batch], loss, cosineLr(step, opts.lr, opts.steps, opts.warmupSteps), opts.gradClipNorm ?? undefined);
      } finally {
        disposeBatch(batch);
      }
      if (step === 0) summary.first = r.parts;
      summary.last = r.parts;
      onStep?.(step + 1, r.parts);
    }
  } finally {
    optimizer.dispose();
  }
  return summary;
}

/** float32 [n, C, H, W] in [0, 1] of images start..end-1 of a set. */
function imageTensor(images: ImageSet, start: number, end: number): Tensor {
  const idx = Array.from({ length: end - start }, (_, k) => start + k);
  return tf.tensor4d(imageBatch(images, idx), [idx.length, images.channels, images.height, images.width]);
}

/**
 * The captioner's synthetic captions (section 3.3): `perImage` nucleus-sampled captions of every image, in batches.
 * Batch b, sample k draws from seed `new Rng(nucleus.seed).fork('capfilt-' + k + '-' + start)`, so the result does
 * not depend on anything but the settings and the images.
 * @param images uint8 [N, C, H, W] at the model's input size
 * @returns per image, its `perImage` captions
 */
export function syntheticCaptions(
  model: BLIP, images: ImageSet, tokenizer: TextTokenizer, modelCfg: BlipConfig,
  opts: { nucleus: z.infer<typeof CapFiltNucleusSchema>; perImage: number; batchSize: number },
): string[][] {
  const out: string[][] = Array.from({ length: images.count }, () => []);
  for (let start = 0; start < images.count; start += opts.batchSize) {
    const end = Math.min(images.count, start + opts.batchSize);
    const x = imageTensor(images, start, end);
    try {
      for (let k = 0; k < opts.perImage; k++) {
        const seed = new Rng(opts.nucleus.seed).fork(`capfilt-${k}-${start}`).nextUint32() >>> 1;
        const decoding = CaptionDecodingSchema.parse({ ...opts.nucleus, strategy: 'nucleus', seed });
        blipCaptions(model, x, tokenizer, modelCfg, decoding).forEach((c, j) => out[start + j].push(c));
      }
    } finally {
      x.dispose();
    }
  }
  return out;
}

/**
 * ITM match probabilities of (image, text) pairs from the filter's image-grounded encoder (section 3.3): softmax of
 * the ITM head's two logits, class "matched"; image features are computed once per image.
 * @param images uint8 [N, C, H, W] at the model's input size
 * @param imageIndex for each text, the index of its image in `images`
 * @param texts the K texts
 * @returns float32 [K] probabilities in (0, 1)
 * @throws RangeError when imageIndex and texts differ in length
 */
export function itmMatchProbabilities(
  model: BLIP, images: ImageSet, imageIndex: ArrayLike<number>, texts: readonly string[], tokenizer: TextTokenizer, contextLength: number, batchSize = 256,
): Float32Array {
  if (imageIndex.length !== texts.length) throw new RangeError(`itmMatchProbabilities: ${imageIndex.length} image indices but ${texts.length} texts`);
  const parts: Tensor[] = [];
  for (let s = 0; s < images.count; s += batchSize) {
    parts.push(tf.tidy(() => model.itmImageFeatures(imageTensor(images, s, Math.min(images.count, s + batchSize)))));
  }
  const imageFeatures = tf.concat(parts, 0);
  tf.dispose(parts);
  const textParts: Tensor[][] = [];
  for (let s = 0; s < texts.length; s += batchSize) {
    textParts.push(tf.tidy(() => {
      const enc = tokenizer.encodeBatch(texts.slice(s, s + batchSize), contextLength);
      return model.itmTextFeatures(tf.tensor2d(enc.ids, enc.shape, 'int32'));
    }));
  }
  const textFeatures = textParts.length > 0 ? textParts[0].map((_, i) => tf.concat(textParts.map((p) => p[i]), 0)) : [];
  tf.dispose(textParts.flat());
  try {
    const logOdds = texts.length > 0
      ? scorePairs(model, imageFeatures, textFeatures, imageIndex, Int32Array.from({ length: texts.length }, (_, k) => k), batchSize)
      : new Float32Array(0);
    return logOdds.map((v) => 1 / (1 + Math.exp(-v)));
  } finally {
    tf.dispose([imageFeatures, ...textFeatures]);
  }
}

/** One text of the bootstrapped dataset with the filter's verdict. */
export interface CapFiltText {
  /** index of the image */
  image: number;
  caption: string;
  /** `web`: the original (possibly corrupted) caption; `synthetic`: written by the captioner */
  source: 'web' | 'synthetic';
  /** ITM match probability from the filter */
  pMatch: number;
  kept: boolean;
  /** for web captions: whether the noisy copy corrupted it (the ground truth the filter is scored against) */
  corrupted?: boolean;
}

/** Counts of one text source in a {@link CapFiltReport}. */
export interface CapFiltCounts {
  total: number;
  kept: number;
  removed: number;
}

/** What {@link runCapFilt} reports. */
export interface CapFiltReport {
  images: number;
  /** the noisy copy: share asked for and captions actually corrupted */
  noise: { fraction: number; corrupted: number };
  original: CapFiltCounts;
  synthetic: CapFiltCounts;
  /** the cleaned dataset: kept web + kept synthetic texts */
  cleaned: number;
  /** the filter at removing the corrupted original captions: precision = corrupted among removed, recall = removed among corrupted */
  filter: FilterScores & {
    threshold: number; meanPMatchClean: number | null; meanPMatchCorrupted: number | null;
    /** the same scores had the threshold been 0.1, 0.2, ..., 0.9 (the trade-off; the verdicts use `threshold`) */
    sweep: { threshold: number; removed: number; precision: number | null; recall: number | null }[];
  };
  finetune: { captioner: FinetuneSummary; filter: FinetuneSummary };
}

/** Inputs of {@link runCapFilt}. */
export interface CapFiltInputs {
  /** two copies of the same pre-trained BLIP: fine-tuned in place */
  captioner: BLIP;
  filter: BLIP;
  modelConfig: BlipConfig;
  tokenizer: TextTokenizer;
  /** the training images at the model's input size, uint8 [N, C, H, W] */
  images: ImageSet;
  /** the noisy web caption of each image (length N) */
  noisy: readonly NoisyCaption[];
  cfg: CapFiltConfig;
  /** fine-tuning micro-batch `index` for an objective */
  finetuneBatch: (objective: 'captioner' | 'filter', index: number) => BlipBatch;
  disposeBatch: (b: BlipBatch) => void;
  log?: (msg: string) => void;
}

/**
 * CapFilt end to end (section 3.3, figure 3): fine-tune the captioner (LM) and the filter (ITC + ITM), caption every
 * image with nucleus sampling, score every original and synthetic text with the filter's ITM head, keep a text
 * when its match probability exceeds `filter.threshold`, and score the filter against the corruption flags.
 * @returns every text with its verdict (web texts first, in image order, then synthetic ones) and the report
 * @throws RangeError when `noisy` and `images` differ in length
 */
export function runCapFilt(x: CapFiltInputs): { texts: CapFiltText[]; report: CapFiltReport } {
  const { cfg, images, noisy } = x;
  const log = x.log ?? (() => {});
  if (noisy.length !== images.count) throw new RangeError(`runCapFilt: ${noisy.length} noisy captions for ${images.count} images`);
  const ft = cfg.finetune;
  const every = (name: string, total: number) => (step: number, parts: Record<string, number>) => {
    if (step % 20 === 0 || step === total) log(`${name} fine-tuning step ${step}/${total} ${Object.entries(parts).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(' ')}`);
  };
  const common = { warmupSteps: ft.warmupSteps, weightDecay: ft.weightDecay, gradClipNorm: ft.gradClipNorm };
  const capSummary = finetuneBlip(x.captioner, 'captioner', { ...common, steps: cfg.captioner.steps, lr: cfg.captioner.lr },
    (i) => x.finetuneBatch('captioner', i), x.disposeBatch, every('captioner', cfg.captioner.steps));
  const filtSummary = finetuneBlip(x.filter, 'filter', { ...common, steps: cfg.filter.steps, lr: cfg.filter.lr },
    (i) => x.finetuneBatch('filter', i), x.disposeBatch, every('filter', cfg.filter.steps));

  log(`captioning ${images.count} images (nucleus sampling, p = ${cfg.captioner.nucleus.topP}, ${cfg.captioner.captionsPerImage} per image)`);
  const synthetic = syntheticCaptions(x.captioner, images, x.tokenizer, x.modelConfig, {
    nucleus: cfg.captioner.nucleus, perImage: cfg.captioner.captionsPerImage, batchSize: cfg.captioner.batchSize,
  });
  const texts: CapFiltText[] = [
    ...noisy.map((n, i) => ({ image: i, caption: n.caption, source: 'web' as const, pMatch: 0, kept: false, corrupted: n.corrupted })),
    ...synthetic.flatMap((cs, i) => cs.map((caption) => ({ image: i, caption, source: 'synthetic' as const, pMatch: 0, kept: false }))),
  ];
  log(`filtering ${texts.length} texts with the ITM head`);
  const p = itmMatchProbabilities(x.filter, images, texts.map((t) => t.image), texts.map((t) => t.caption), x.tokenizer, x.modelConfig.text.contextLength, cfg.filter.batchSize);
  texts.forEach((t, k) => {
    t.pMatch = p[k];
    t.kept = p[k] > cfg.filter.threshold;
  });
  const web = texts.filter((t) => t.source === 'web');
  const syn = texts.filter((t) => t.source === 'synthetic');
  const counts = (ts: CapFiltText[]): CapFiltCounts => ({ total: ts.length, kept: ts.filter((t) => t.kept).length, removed: ts.filter((t) => !t.kept).length });
  const mean = (ts: CapFiltText[]) => (ts.length ? ts.reduce((s, t) => s + t.pMatch, 0) / ts.length : null);
  const scores = filterPrecisionRecall(web.map((t) => !t.kept), web.map((t) => t.corrupted === true));
  const report: CapFiltReport = {
    images: images.count,
    noise: { fraction: cfg.noisy.fraction, corrupted: web.filter((t) => t.corrupted).length },
    original: counts(web),
    synthetic: counts(syn),
    cleaned: texts.filter((t) => t.kept).length,
    filter: {
      ...scores, threshold: cfg.filter.threshold,
      meanPMatchClean: mean(web.filter((t) => !t.corrupted)), meanPMatchCorrupted: mean(web.filter((t) => t.corrupted)),
      sweep: Array.from({ length: 9 }, (_, k) => {
        const th = (k + 1) / 10;
        const sc = filterPrecisionRecall(web.map((t) => !(t.pMatch > th)), web.map((t) => t.corrupted === true));
        return { threshold: th, removed: sc.removed, precision: sc.precision, recall: sc.recall };
      }),
    },
    finetune: { captioner: capSummary, filter: filtSummary },
  };
  return { texts, report };
}
