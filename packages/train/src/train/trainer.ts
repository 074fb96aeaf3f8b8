import { ConfigError, LossOutput, Module, StageSelection, TrainableModel, hasMomentumCopies, tf, Variable } from '@mmzoo/core';
import { TrainConfig } from '../config/experiment';
import { StageConfig, stageParameterNames, totalStageSteps } from '../config/stages';
import { AdamW } from './optimizer';
import { cosineLr } from './schedule';
import { StepResult, trainStep } from './step';
import { CheckpointMeta, loadCheckpoint, readCheckpointMeta, resolveLatestCheckpoint, saveCheckpoint } from '../run/checkpoint';

/** One logged point of the training curves. */
export interface HistoryPoint {
  step: number;
  loss: number;
  parts: Record<string, number>;
  lr: number;
  /**
   * training wall seconds from the start of the run to the end of this step: optimizer steps and batch building
   * only (periodic evaluation and checkpoints excluded), summed over resumed processes; for time-to-accuracy
   */
  seconds?: number;
  /** metrics of a periodic evaluation at this step, when one ran */
  metrics?: Record<string, number>;
  /** name of the stage this step belongs to (stagewise runs only) */
  stage?: string;
}

/**
 * The running stage as the trainer hands it to `makeBatch` and `loss` (stagewise runs): its place in the
 * `stages:` list, its config, and what the model's objective needs to know (`objectives`, `data`).
 */
export interface ActiveStage extends StageSelection {
  /** position in the `stages:` list */
  index: number;
  name: string;
  config: StageConfig;
  /** global optimizer steps done before this stage */
  start: number;
  /** samples per micro-batch in this stage */
  batchSize: number;
}

/** First and last loss of one stage (results.json `stages`). */
export interface StageSummary {
  name: string;
  /** global steps [start, end) of the stage */
  start: number;
  end: number;
  /** steps of the stage completed so far */
  stepsDone: number;
  /** number of parameters (scalars) the stage's optimizer updates, and of those it leaves fixed */
  trainableParams: number;
  frozenParams: number;
  /** loss of the stage's first and last completed step (NaN before it ran) */
  initialLoss: number;
  finalLoss: number;
  /** finalLoss / initialLoss */
  lossRatio: number;
}

/** Where a checkpoint stands inside a stagewise run (checkpoint meta.json `stage`). */
export interface StagePosition {
  /** position in the `stages:` list */
  index: number;
  name: string;
  /** optimizer steps completed inside that stage (= its steps when it is finished) */
  step: number;
}

/** Inputs of {@link runTraining}. */
export interface TrainerOptions<B> {
  runDir: string;
  model: Module & TrainableModel;
  train: TrainConfig;
  /**
   * builds micro-batch number `index` (= global step * accumSteps + k); a pure function of the index (and of
   * the stage: `stage` is given in stagewise runs, undefined otherwise)
   */
  makeBatch: (index: number, stage?: ActiveStage) => B;
  /** disposes a micro-batch's tensors */
  disposeBatch: (batch: B) => void;
  /** the objective of one micro-batch; `stage` says which objectives and data the running stage uses */
  loss: (batch: B, stage?: ActiveStage) => LossOutput;
  /**
   * stagewise training (the experiment's `stages:`): run in order, each with its own warmup + cosine schedule and a
   * fresh AdamW over the parameters its trainable/frozen patterns leave; `train.steps` must be their total
   */
  stages?: StageConfig[];
  /**
   * names of trainable parameters held fixed for the whole run (the experiment's `frozen:`, resolved by
   * `frozenParameterNames`): left out of every optimizer, so they get no gradient, no update, no weight decay and no
   * moments in optimizer.safetensors; a stage's trainable/frozen patterns select among the others
   */
  frozen?: readonly string[];
  /** extra JSON saved in every checkpoint's meta.json (config, tokenizer, ...) */
  meta: Record<string, unknown>;
  /** continue from the run folder's latest checkpoint (or from `resumeFrom`) */
  resume?: boolean;
  /** the checkpoint folder to resume from (default: the run's latest, see `resolveLatestCheckpoint`) */
  resumeFrom?: string;
  /** called after each checkpoint is written, with its folder (e.g. to delete a run that `--overwrite` moved aside) */
  onCheckpoint?: (dir: string, step: number) => void | Promise<void>;
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
  /** per-stage first/last losses (stagewise runs only) */
  stages?: StageSummary[];
  interrupted: boolean;
  /** tensors alive before the first and after the last step of this process, the optimizer's moments not counted (equal when nothing leaks) */
  tensorsBefore: number;
  tensorsAfter: number;
}

/** One planned stage: the implicit whole run when there are no stages. */
interface StagePlan {
  active?: ActiveStage;
  name?: string;
  start: number;
  steps: number;
  lr: number;
  warmupSteps: number;
  batchSize: number;
  params: Map<string, Variable>;
}

function planStages(model: Module & TrainableModel, train: TrainConfig, stages?: StageConfig[], frozen: readonly string[] = []): StagePlan[] {
  const trainable = model.trainableParameters();
  const stray = frozen.find((n) => !trainable.has(n));
  if (stray !== undefined) throw new Error(`frozen: '${stray}' is not a trainable parameter of the model`);
  const held = new Set(frozen);
  const all = new Map([...trainable].filter(([n]) => !held.has(n)));
  // a frozen part's momentum copy (ALBEF, BLIP) stays equal to it: its EMA steps are skipped
  if (hasMomentumCopies(model)) model.momentumPairs.hold(frozen.map((n) => trainable.get(n)!));
  if (!stages) return [{ start: 0, steps: train.steps, lr: train.lr, warmupSteps: train.warmupSteps, batchSize: train.batchSize, params: all }];
  const total = totalStageSteps(stages);
  if (total !== train.steps) throw new ConfigError(`train.steps: ${train.steps} does not equal the sum of the stages' steps (${total})`);
  let start = 0;
  return stages.map((cfg, index) => {
    const names = stageParameterNames([...all.keys()], cfg, ['stages', index]);
    const batchSize = cfg.batchSize ?? train.batchSize;
    const plan: StagePlan = {
      active: { index, name: cfg.name, config: cfg, start, batchSize, objectives: cfg.objectives, data: cfg.data },
      name: cfg.name, start, steps: cfg.steps, lr: cfg.lr ?? train.lr, warmupSteps: cfg.warmupSteps ?? train.warmupSteps, batchSize,
      params: new Map(names.map((n) => [n, all.get(n)!])),
    };
    start += cfg.steps;
    return plan;
  });
}

function summarizeStages(plans: StagePlan[], history: HistoryPoint[], step: number, model: Module & TrainableModel): StageSummary[] {
  let totalSize = 0;
  for (const v of model.trainableParameters().values()) totalSize += v.size;
  return plans.map((p) => {
    const pts = history.filter((h) => h.stage === p.name);
    let size = 0;
    for (const v of p.params.values()) size += v.size;
    const initialLoss = pts.length ? pts[0].loss : NaN;
    const finalLoss = pts.length ? pts[pts.length - 1].loss : NaN;
    return {
      name: p.name!, start: p.start, end: p.start + p.steps, stepsDone: Math.max(0, Math.min(p.steps, step - p.start)),
      trainableParams: size, frozenParams: totalSize - size, initialLoss, finalLoss, lossRatio: finalLoss / initialLoss,
    };
  });
}

/**
 * The generic training loop: AdamW (decoupled weight decay) with linear warmup and cosine decay, gradient
 * accumulation and clipping, periodic and final checkpoints (atomic), exact resume (weights, optimizer moments,
 * step, history; batches are a pure function of their index) and a clean stop on request.
 *
 * Stagewise training (`opts.stages`; VLMo section 3.3): the stages run in order. Each has its own schedule
 * (warmup + cosine over the stage's steps, peak `lr`) and a fresh AdamW whose parameter list is the stage's
 * trainable set: parameters left out get no gradient computed and no update (weight decay included), so they
 * are bit-for-bit unchanged by the stage. A fresh optimizer per stage is what VLMo's code does (each stage is a
 * separate run initialised from the previous stage's weights only); the moments of a finished stage are dropped.
 * The checkpoint's meta.json records `stage: { index, name, step }` (the step inside the stage) and holds the
 * running stage's optimizer moments, so `resume` continues inside the interrupted stage exactly; a checkpoint
 * is also written at the end of every stage but the last. History points carry their stage's name, and the
 * first and last step of each stage are always in the history.
 *
 * Frozen parameters (`opts.frozen`, the experiment's `frozen:`) are in no stage's optimizer: unchanged bit for bit,
 * and absent from optimizer.safetensors; their momentum copies (ALBEF, BLIP) skip the EMA, so they stay equal to them.
 * @throws ConfigError when `train.steps` is not the stages' total or a trainable/frozen pattern matches no
 *   parameter (naming `stages[i].frozen[j]`); Error when resuming from a checkpoint that does not match the model
 *   or the stages, when the loss is not finite, or when a parameter of a stage gets no gradient from its
 *   objectives (naming the stage; the last checkpoint stays intact), or when a name in `opts.frozen` is not a
 *   trainable parameter
 */
export async function runTraining<B>(opts: TrainerOptions<B>): Promise<TrainSummary> {
  const { model, train } = opts;
  const log = opts.log ?? (() => {});
  const plans = planStages(model, train, opts.stages, opts.frozen);
  const total = plans[plans.length - 1].start + plans[plans.length - 1].steps;
  const newOptimizer = (plan: StagePlan) => new AdamW(plan.params, { betas: train.betas, eps: train.eps, weightDecay: train.weightDecay });
  let stageIndex = 0;
  /** the stage whose parameters `optimizer` holds (what a checkpoint records) */
  let optimizerStage = 0;
  let optimizer = newOptimizer(plans[0]);
  let start = 0;
  let history: HistoryPoint[] = [];
  let wallBefore = 0;
  let secondsBefore = 0;
  if (opts.resume) {
    let dir = opts.resumeFrom;
    let pos: StagePosition | undefined;
    try {
      if (!dir) {
        const found = resolveLatestCheckpoint(opts.runDir);
        if (found.warning) log(found.warning);
        dir = found.dir;
      }
      if (!dir) throw new Error(`--resume: ${opts.runDir} has no checkpoint to resume from`);
      pos = readCheckpointMeta(dir).stage as StagePosition | undefined;
    } catch (e) {
      optimizer.dispose();
      throw e;
    }
    if (opts.stages) {
      if (!pos || plans[pos.index]?.name !== pos.name) {
        optimizer.dispose();
        throw new Error(`${dir}: the checkpoint is ${pos ? `in stage '${pos.name}' (stages[${pos.index}])` : 'not from a stagewise run'}, which the config's stages (${plans.map((p) => p.name).join(', ')}) do not match`);
      }
      if (pos.index !== 0) {
        optimizer.dispose();
        optimizer = newOptimizer(plans[pos.index]);
      }
      stageIndex = pos.index;
      optimizerStage = pos.index;
    } else if (pos) {
      optimizer.dispose();
      throw new Error(`${dir}: the checkpoint is from a stagewise run (stage '${pos.name}'); resume it with its stages`);
    }
    let meta: CheckpointMeta;
    try {
      meta = await loadCheckpoint(dir, model.namedParameters(), optimizer.state().tensors, (w) => log(w));
    } catch (e) {
      optimizer.dispose();
      throw e;
    }
    start = meta.step;
    optimizer.step = pos ? pos.step : meta.step;
    history = (meta.history as HistoryPoint[]) ?? [];
    wallBefore = (meta.wallSeconds as number) ?? 0;
    secondsBefore = history[history.length - 1]?.seconds ?? 0;
    log(`resumed from ${dir} at step ${start}${pos ? ` (stage '${pos.name}', step ${pos.step} of ${plans[pos.index].steps})` : ''}`, { step: start, stage: pos?.name });
  }
  const t0 = Date.now();
  const save = async (step: number) => {
    const plan = plans[optimizerStage];
    const stage: StagePosition | undefined = opts.stages ? { index: optimizerStage, name: plan.name!, step: step - plan.start } : undefined;
    const dir = await saveCheckpoint(opts.runDir, model.namedParameters(), optimizer.state().tensors, {
      ...opts.meta, step, ...(stage ? { stage } : {}), history, wallSeconds: wallBefore + (Date.now() - t0) / 1000,
    });
    log(`checkpoint ${dir}`, { step, stage: stage?.name });
    await opts.onCheckpoint?.(dir, step);
  };
  let trainMs = 0;
  let stepsMs = 0; // batch building + optimizer steps, for HistoryPoint.seconds
  let samples = 0;
  let interrupted = false;
  let stopped = false;
  // optimizer moments excluded: a stagewise run's optimizers differ in size from stage to stage
  const tensorsBefore = tf.memory().numTensors - 2 * optimizer.params.size;
  let tensorsAfter = -1;
  let step = start;
  try {
    for (; stageIndex < plans.length; stageIndex++) {
      const plan = plans[stageIndex];
      if (step >= plan.start + plan.steps) continue;
      if (optimizer.params !== plan.params) {
        // a stop requested at a stage boundary keeps the finished stage's checkpoint position
        if (opts.shouldStop?.()) {
          interrupted = true;
          break;
        }
        optimizer.dispose();
        optimizer = newOptimizer(plan);
        optimizerStage = stageIndex;
      }
      if (plan.name && step === plan.start) {
        log(`stage '${plan.name}' (stages[${stageIndex}]): ${plan.steps} steps, objectives ${plan.active!.objectives.join(' + ')} on ${plan.active!.data}, ${plan.params.size} parameter tensors trained`, { step, stage: plan.name });
      }
      while (step < plan.start + plan.steps) {
        // a step is synchronous: give signal handlers (Ctrl-C, SIGTERM) their turn before each one, or a stop request
        // would wait for the next checkpoint's await
        await new Promise((resolve) => setImmediate(resolve));
        if (opts.shouldStop?.()) {
          interrupted = true;
          break;
        }
        if (opts.maxSeconds !== undefined && (Date.now() - t0) / 1000 >= opts.maxSeconds) {
          log(`wall-time budget of ${opts.maxSeconds} s spent at step ${step}`, { step });
          stopped = true;
          break;
        }
        const local = step - plan.start;
        const lr = cosineLr(local, plan.lr, plan.steps, plan.warmupSteps, train.minLr);
        const tb = Date.now();
        const micro = Array.from({ length: train.accumSteps }, (_, k) => opts.makeBatch(step * train.accumSteps + k, plan.active));
        const ts = Date.now();
        let result: StepResult;
        try {
          result = trainStep(model, optimizer, micro, (b) => opts.loss(b, plan.active), lr, train.gradClipNorm);
        } catch (e) {
          if (plan.name) (e as Error).message = `stage '${plan.name}' (stages[${stageIndex}]): ${(e as Error).message}`;
          throw e;
        } finally {
          micro.forEach(opts.disposeBatch);
        }
        trainMs += Date.now() - ts;
        stepsMs += Date.now() - tb;
        samples += plan.batchSize * train.accumSteps;
        step += 1;
        const stageEnd = step === plan.start + plan.steps;
        const point: HistoryPoint = { step, loss: result.loss, parts: result.parts, lr, seconds: secondsBefore + stepsMs / 1000 };
        if (plan.name) point.stage = plan.name;
        if (opts.evaluate && opts.evaluate.every > 0 && step % opts.evaluate.every === 0 && step < total) {
          point.metrics = await opts.evaluate.run();
          log(`eval at step ${step}`, { step, ...point.metrics });
        }
        if (step % train.logEvery === 0 || step === start + 1 || step === total || point.metrics || (plan.name && (step === plan.start + 1 || stageEnd))) history.push(point);
        opts.onStep?.(step, result);
        if ((step % train.checkpointEvery === 0 || (plan.name && stageEnd)) && step < total) await save(step);
      }
      if (interrupted || stopped) break;
    }
    if (step > start || !opts.resume) await save(step);
    tensorsAfter = tf.memory().numTensors - 2 * optimizer.params.size;
  } finally {
    optimizer.dispose();
  }
  const done = history.filter((h) => h.step <= step);
  const stepsThisRun = step - start;
  return {
    steps: step,
    stepsThisRun,
    samplesPerSecond: trainMs > 0 ? samples / (trainMs / 1000) : 0,
    wallSeconds: wallBefore + (Date.now() - t0) / 1000,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    initialLoss: done.length ? done[0].loss : NaN,
    finalLoss: done.length ? done[done.length - 1].loss : NaN,
    history: done,
    ...(opts.stages ? { stages: summarizeStages(plans, done, step, model) } : {}),
    interrupted,
    tensorsBefore,
    tensorsAfter,
  };
}
