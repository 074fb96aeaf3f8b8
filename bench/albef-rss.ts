/**
 * Section 6 of `npm run bench` (`--albef-rss N`): resident set size over N training steps of a micro ALBEF (issue
 * 14: ALBEF's RSS grew about 4 MB per 1,000 steps while tf.memory().numTensors stayed flat).
 *
 * The model is built from @mmzoo/albef as the CLI builds it (manualSeed, then buildAlbef from a `model:` config;
 * vocabulary size and pad id are in the config instead of coming from a tokenizer) and trained with trainStep and
 * AdamW from @mmzoo/train (weight decay 0.02, lr 1e-3, gradient clipping at 1), batch 8, on the model's own
 * trainingLoss (ITC with queues and momentum distillation, ITM with hard negatives, MLM), the batch stream as the
 * trainer gives it: a new batch `index` each step, image ids from a finite "dataset", images and captions copied from
 * a few pre-made host batches into new tensors each step. Every `every` steps it reads RSS, runs a full garbage
 * collection when `global.gc` exists (run.ts exposes it), and samples RSS again, V8's heapUsed, external and
 * arrayBuffers memory, tf.memory().numTensors / numBytes and, on the native backend, its output-buffer pool; the
 * slopes are least-squares fits (MB per 1,000 steps) over the samples after the warm-up. RSS before the GC includes
 * garbage V8 has not collected yet (it rises for the first few thousand steps of this micro model while V8 sizes
 * its heap, then levels off); RSS after it is what the process really keeps.
 */
import { performance } from 'perf_hooks';
import { tf, manualSeed } from '@mmzoo/core';
import { AdamW, trainStep } from '@mmzoo/train';
import { buildAlbef, ALBEF, AlbefBatch, AlbefConfigInput } from '@mmzoo/albef';

/**
 * The micro ALBEF: every width tiny, so that a step takes milliseconds and 10,000 steps a few minutes. The queue
 * holds 256 batches, so the write pointer visits 256 positions.
 */
export const MICRO_ALBEF: AlbefConfigInput = {
  name: 'albef',
  embedDim: 16,
  queueSize: 2048,
  momentum: 0.99,
  alpha: 0.4,
  alphaRampSteps: 100,
  learnableTemp: true,
  hardNegativeEps: 0.02,
  vision: { imageSize: 16, patchSize: 8, channels: 1, width: 16, layers: 1, numHeads: 2, mlpRatio: 2 },
  text: { contextLength: 8, vocabSize: 40, width: 16, textLayers: 1, fusionLayers: 1, numHeads: 2, mlpRatio: 2, initStd: 0.1, padId: 0 },
};

const BATCH_SIZE = 8;
/** distinct image ids of the stream (a dataset of this many images) */
const DATASET = 6000;
/** pre-made batches cycled by the stream */
const BATCHES = 8;

/** One RSS sample. */
export interface AlbefRssSample {
  step: number;
  /** RSS just before the forced GC, MB: what a monitor of the process sees (garbage not yet collected included) */
  rssBeforeGcMB: number;
  /** process.memoryUsage() after the forced GC (the same as before when GC is not exposed), MB */
  rssMB: number;
  heapUsedMB: number;
  externalMB: number;
  arrayBuffersMB: number;
  numTensors: number;
  numBytes: number;
  /** native backend only: output buffers allocated so far (pool misses) and bytes of free pooled buffers */
  poolMisses?: number;
  pooledMB?: number;
}

/** What {@link benchAlbefRss} measured. */
export interface AlbefRssRow {
  backend: string;
  steps: number;
  warmup: number;
  /** whether samples were taken after a full GC (node --expose-gc) */
  gc: boolean;
  samples: AlbefRssSample[];
  /** least-squares slopes over the samples after the warm-up, MB per 1,000 steps (rssBeforeGcSlope: without GC) */
  rssSlope: number;
  rssBeforeGcSlope: number;
  heapSlope: number;
  externalSlope: number;
  /** numTensors of the samples after the warm-up are all equal */
  tensorsFlat: boolean;
  msPerStep: number;
  firstLoss: number;
  lastLoss: number;
  /** tf.engine().registeredVariables count before the first step and after the last */
  variables: [number, number];
}

function slope(points: [number, number][]): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  return (sxy / sxx) * 1000;
}

/** Deterministic host batches: caption rows [CLS]=2 words [SEP]=3 [PAD]=0..., words in [5, vocab); pixels in [0, 1). */
function makeBatches(batch: number, vocab: number, context: number, channels: number, size: number): { pixels: Float32Array; ids: Int32Array }[] {
  let s = 4242;
  const rnd = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
  const out: { pixels: Float32Array; ids: Int32Array }[] = [];
  for (let k = 0; k < BATCHES; k++) {
    const ids = new Int32Array(batch * context);
    for (let r = 0; r < batch; r++) {
      const words = 2 + Math.floor(rnd() * (context - 3)); // 2 .. context - 2
      ids[r * context] = 2;
      for (let j = 1; j <= words; j++) ids[r * context + j] = 5 + Math.floor(rnd() * (vocab - 5));
      ids[r * context + words + 1] = 3;
    }
    out.push({ pixels: new Float32Array(batch * channels * size * size).map(() => rnd()), ids });
  }
  return out;
}

/**
 * Trains the micro ALBEF for `steps` steps on the active backend and samples memory every `every` steps.
 * @param onSample called with each sample as it is taken (progress output)
 */
export function benchAlbefRss(
  backend: string, steps: number, opts: { every?: number; warmup?: number; config?: AlbefConfigInput; batchSize?: number; onSample?: (s: AlbefRssSample) => void } = {},
): AlbefRssRow {
  const every = opts.every ?? Math.max(1, Math.min(1000, Math.round(steps / 10)));
  const warmup = opts.warmup ?? Math.min(1000, Math.floor(steps / 2));
  const cfg = opts.config ?? MICRO_ALBEF;
  const batchSize = opts.batchSize ?? BATCH_SIZE;
  const gc = (globalThis as { gc?: () => void }).gc;
  manualSeed(0);
  const model: ALBEF = buildAlbef(cfg);
  const bert = model.online.text.bert.opts;
  const [channels, size] = [cfg.vision.channels ?? 3, cfg.vision.imageSize];
  const batches = makeBatches(batchSize, bert.vocabSize, bert.maxPositions, channels, size);
  const optimizer = new AdamW(model.trainableParameters(), { betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.02 });
  const registered = () => Object.keys(tf.engine().registeredVariables).length;
  const variablesBefore = registered();
  const samples: AlbefRssSample[] = [];
  const pool = tf.backend() as unknown as { poolStats?: () => { misses: number; pooledBytes: number } };
  const sample = (step: number) => {
    const rssBeforeGcMB = process.memoryUsage.rss() / 2 ** 20;
    if (gc) {
      gc();
      gc();
    }
    const mu = process.memoryUsage();
    const mem = tf.memory();
    const ps = pool.poolStats?.();
    const s: AlbefRssSample = {
      step, rssBeforeGcMB, rssMB: mu.rss / 2 ** 20, heapUsedMB: mu.heapUsed / 2 ** 20, externalMB: mu.external / 2 ** 20,
      arrayBuffersMB: mu.arrayBuffers / 2 ** 20, numTensors: mem.numTensors, numBytes: mem.numBytes,
      ...(ps ? { poolMisses: ps.misses, pooledMB: ps.pooledBytes / 2 ** 20 } : {}),
    };
    samples.push(s);
    opts.onSample?.(s);
  };
  let firstLoss = NaN;
  let lastLoss = NaN;
  const t0 = performance.now();
  for (let step = 1; step <= steps; step++) {
    const index = step - 1;
    // a new batch per step from new host arrays, as the trainer's makeImageTextBatch makes them
    const data = batches[index % BATCHES];
    const imageIds = new Int32Array(batchSize);
    for (let i = 0; i < batchSize; i++) imageIds[i] = (index * batchSize + i) % DATASET;
    const batch: AlbefBatch = {
      image: tf.tensor4d(data.pixels.slice(), [batchSize, channels, size, size]), text: tf.tensor2d(data.ids.slice(), [batchSize, bert.maxPositions], 'int32'),
      imageIds, index, seed: 7,
    };
    let r;
    try {
      r = trainStep(model, optimizer, [batch], (b) => model.trainingLoss(b), 1e-3, 1.0);
    } finally {
      tf.dispose([batch.image, batch.text]);
    }
    if (step === 1) firstLoss = r.loss;
    lastLoss = r.loss;
    if (step % every === 0) sample(step);
  }
  const msPerStep = (performance.now() - t0) / steps;
  const variablesAfter = registered();
  optimizer.dispose();
  model.dispose();
  const after = samples.filter((s) => s.step >= warmup);
  const fit = (f: (s: AlbefRssSample) => number) => slope(after.map((s) => [s.step, f(s)]));
  return {
    backend, steps, warmup, gc: Boolean(gc), samples, msPerStep, firstLoss, lastLoss,
    rssSlope: fit((s) => s.rssMB), rssBeforeGcSlope: fit((s) => s.rssBeforeGcMB), heapSlope: fit((s) => s.heapUsedMB), externalSlope: fit((s) => s.externalMB),
    tensorsFlat: after.every((s) => s.numTensors === after[0].numTensors), variables: [variablesBefore, variablesAfter],
  };
}
