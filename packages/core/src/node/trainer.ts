import { Module } from '../nn/module';
import { tf } from '../tf';
import { TrainConfig } from '../config/experiment';
import { AdamW } from '../train/optimizer';
import { cosineLr } from '../train/schedule';
import { LossOutput, StepResult, TrainableModel, trainStep } from '../train/step';
import { latestCheckpoint, loadCheckpoint, saveCheckpoint } from './checkpoint';

/** One logged point of the training curves. */
export interface HistoryPoint {
  step: number;
  loss: number;
  parts: Record<string, number>;
  lr: number;
  /** metrics of a periodic evaluation at this step, when one ran */
  metrics?: Record<string, number>;
}

/** Inputs of {@link runTraining}. */
export interface TrainerOptions<B> {
  runDir: string;
  model: Module & TrainableModel;
  train: TrainConfig;
  /** builds micro-batch number `index` (= step * accumSteps + k); a pure function of the index */
  makeBatch: (index: number) => B;
  /** disposes a micro-batch's tensors */
  disposeBatch: (batch: B) => void;
  loss: (batch: B) => LossOutput;
  /** extra JSON saved in every checkpoint's meta.json (config, tokenizer, ...) */
  meta: Record<string, unknown>;
  /** continue from the run folder's latest checkpoint */
  resume?: boolean;
  /** periodic evaluation for the metric curves (every `every` steps; 0 disables) */
  evaluate?: { every: number; run: () => Promise<Record<string, number>> | Record<string, number> };
  /** called after each step (progress bars, logs) */
  onStep?: (step: number, result: StepResult) => void;
  /** called with messages worth a log line */
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  /** returns true when the run should stop now (e.g. Ctrl-C); a checkpoint is saved first */
  shouldStop?: () => boolean;
  /** a wall-time budget in seconds for this process: training ends normally (not interrupted) when it is spent */
  maxSeconds?: number;
}

/** What {@link runTraining} reports. */
export interface TrainSummary {
  steps: number;
  /** steps run in this process */
  stepsThisRun: number;
  samplesPerSecond: number;
  wallSeconds: number;
  peakRssMB: number;
  initialLoss: number;
  finalLoss: number;
  history: HistoryPoint[];
  interrupted: boolean;
  /** tensors alive before the first and after the last step of this process, optimizer state included (equal when nothing leaks) */
  tensorsBefore: number;
  tensorsAfter: number;
}

/**
 * The generic training loop: AdamW (decoupled weight decay) with linear warmup and cosine decay, gradient
 * accumulation and clipping, periodic and final checkpoints (atomic), exact resume (weights, optimizer moments,
 * step, history; batches are a pure function of their index) and a clean stop on request.
 * @throws Error when resuming from a checkpoint that does not match the model, or when the loss is not finite
 *   (the last checkpoint stays intact)
 */
export async function runTraining<B>(opts: TrainerOptions<B>): Promise<TrainSummary> {
  const { model, train } = opts;
  const log = opts.log ?? (() => {});
  const optimizer = new AdamW(model.trainableParameters(), {
    betas: train.betas, eps: train.eps, weightDecay: train.weightDecay,
  });
  let start = 0;
  let history: HistoryPoint[] = [];
  let wallBefore = 0;
  if (opts.resume) {
    const dir = latestCheckpoint(opts.runDir);
    if (!dir) throw new Error(`--resume: ${opts.runDir} has no checkpoint to resume from`);
    const meta = await loadCheckpoint(dir, model.namedParameters(), optimizer.state().tensors);
    start = meta.step;
    optimizer.step = meta.step;
    history = (meta.history as HistoryPoint[]) ?? [];
    wallBefore = (meta.wallSeconds as number) ?? 0;
    log(`resumed from ${dir} at step ${start}`, { step: start });
  }
  const save = async (step: number) => {
    const dir = await saveCheckpoint(opts.runDir, model.namedParameters(), optimizer.state().tensors, {
      ...opts.meta, step, history, wallSeconds: wallBefore + (Date.now() - t0) / 1000,
    });
    log(`checkpoint ${dir}`, { step });
  };
  const t0 = Date.now();
  let trainMs = 0;
  let interrupted = false;
  const tensorsBefore = tf.memory().numTensors;
  let tensorsAfter = -1;
  let step = start;
  try {
    while (step < train.steps) {
      if (opts.shouldStop?.()) {
        interrupted = true;
        break;
      }
      if (opts.maxSeconds !== undefined && (Date.now() - t0) / 1000 >= opts.maxSeconds) {
        log(`wall-time budget of ${opts.maxSeconds} s spent at step ${step}`, { step });
        break;
      }
      const lr = cosineLr(step, train.lr, train.steps, train.warmupSteps, train.minLr);
      const micro = Array.from({ length: train.accumSteps }, (_, k) => opts.makeBatch(step * train.accumSteps + k));
      const ts = Date.now();
      let result: StepResult;
      try {
        result = trainStep(model, optimizer, micro, opts.loss, lr, train.gradClipNorm);
      } finally {
        micro.forEach(opts.disposeBatch);
      }
      trainMs += Date.now() - ts;
      step += 1;
      const point: HistoryPoint = { step, loss: result.loss, parts: result.parts, lr };
      if (opts.evaluate && opts.evaluate.every > 0 && step % opts.evaluate.every === 0 && step < train.steps) {
        point.metrics = await opts.evaluate.run();
        log(`eval at step ${step}`, { step, ...point.metrics });
      }
      if (step % train.logEvery === 0 || step === start + 1 || step === train.steps || point.metrics) history.push(point);
      opts.onStep?.(step, result);
      if (step % train.checkpointEvery === 0 && step < train.steps) await save(step);
    }
    if (step > start || !opts.resume) await save(step);
    tensorsAfter = tf.memory().numTensors;
  } finally {
    optimizer.dispose();
  }
  const done = history.filter((h) => h.step <= step);
  const stepsThisRun = step - start;
  return {
    steps: step,
    stepsThisRun,
    samplesPerSecond: trainMs > 0 ? (stepsThisRun * train.batchSize * train.accumSteps) / (trainMs / 1000) : 0,
    wallSeconds: wallBefore + (Date.now() - t0) / 1000,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    initialLoss: done.length ? done[0].loss : NaN,
    finalLoss: done.length ? done[done.length - 1].loss : NaN,
    history: done,
    interrupted,
    tensorsBefore,
    tensorsAfter,
  };
}
