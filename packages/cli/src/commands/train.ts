import { mkdirSync, rmSync, writeFileSync } from 'fs';
import * as path from 'path';
import { stringify } from 'yaml';
import { SingleBar } from 'cli-progress';
import { WordTokenizer, initBackend, tf } from '@mmzoo/core';
import { latestCheckpoint, makeImageTextBatch, readCheckpointMeta, runTraining, buildTokenizer, ImageTextBatch } from '@mmzoo/core/node';
import type { StageSummary } from '@mmzoo/core/node';
import { loadExperiment } from '../experiment';
import { createLogger } from '../logger';
import { evaluateSession, openSession } from '../session';
import { writeResults } from '../results';

/** Options of `mmzoo train`. */
export interface TrainOptions {
  out?: string;
  resume?: boolean;
  overwrite?: boolean;
  backend?: string;
  set?: string[];
  /** wall-time budget for training in seconds (mmzoo compare's wallSeconds budget) */
  maxSeconds?: string;
}

/**
 * `mmzoo train CONFIG`: trains and evaluates a model from an experiment file, writing into the run folder
 * (default `runs/<config name>/`): train.log (JSON lines), config.yaml, tokenizer.json, checkpoints/,
 * results.json and curves.svg. Returns the process exit code (0 done, 130 interrupted and saved).
 * @throws ConfigError / Error with a one-line message for bad input (the CLI prints it and exits 2 or 1)
 */
export async function trainCommand(configFile: string, opts: TrainOptions): Promise<number> {
  const loaded = loadExperiment(configFile, opts.set ?? []);
  const cfg = loaded.config;
  const runDir = path.resolve(opts.out ?? path.join('runs', loaded.name));
  if (!opts.resume && latestCheckpoint(runDir)) {
    if (!opts.overwrite) throw new Error(`${runDir} already holds a run; pass --resume to continue it, --overwrite to replace it, or --out DIR`);
    rmSync(runDir, { recursive: true, force: true });
  }
  mkdirSync(runDir, { recursive: true });
  const logger = createLogger(runDir);
  const backend = await initBackend(opts.backend ?? cfg.runtime.backend, (line) => logger.info(line));

  const resumeDir = opts.resume ? latestCheckpoint(runDir) : undefined;
  if (opts.resume && !resumeDir) throw new Error(`--resume: ${runDir} has no checkpoint to resume from`);
  const session = await openSession(loaded.entry, cfg, (data) => {
    if (resumeDir) return WordTokenizer.fromJSON(readCheckpointMeta(resumeDir).tokenizer as object);
    return buildTokenizer(data.train, cfg.data.seed ?? cfg.train.seed);
  });
  const { model, tokenizer, data } = session;
  if (!resumeDir) await loaded.entry.prepare?.(model, session);
  const tokJson = (tokenizer as WordTokenizer).toJSON();
  writeFileSync(path.join(runDir, 'config.yaml'), stringify(cfg));
  writeFileSync(path.join(runDir, 'tokenizer.json'), JSON.stringify(tokJson));
  const towers = loaded.entry.towers(model);
  logger.info({ params: model.numParams(), towers, trainPairs: data.train.size, vocab: tokenizer.vocabSize }, `model ${cfg.model.name}: ${model.numParams().toLocaleString('en-US')} parameters; ${data.train.size} training pairs`);

  let stop = false;
  const onSigint = () => {
    if (stop) process.exit(130);
    stop = true;
    logger.warn('interrupt: saving a checkpoint after this step (Ctrl-C again to abort without saving)');
  };
  process.on('SIGINT', onSigint);
  const t = cfg.train;
  const seed = cfg.data.seed ?? t.seed;
  const bar = process.stderr.isTTY ? new SingleBar({ format: 'train |{bar}| {value}/{total} steps | loss {loss} | {sps} samples/s | ETA {eta_formatted}', hideCursor: true }) : undefined;
  const startStep = resumeDir ? readCheckpointMeta(resumeDir).step : 0;
  bar?.start(t.steps, startStep, { loss: '-', sps: '-' });
  let lastTime = Date.now();
  let lastStep = startStep;
  const summary = await runTraining<ImageTextBatch>({
    runDir, model, train: t, resume: opts.resume, stages: cfg.stages,
    // a stage's batches are pair batches of its batch size; its `data` says which side its objectives use
    makeBatch: (i, stage) => makeImageTextBatch(data.train, tokenizer, i, stage?.batchSize ?? t.batchSize, session.contextLength, seed),
    disposeBatch: (b) => tf.dispose([b.images, b.ids]),
    loss: (b, stage) => model.trainingLoss(b, stage),
    meta: { config: cfg, tokenizer: tokJson, model: cfg.model.name },
    evaluate: cfg.eval.every > 0 ? { every: cfg.eval.every, run: async () => flatMetrics(await evaluateSession(session)) } : undefined,
    shouldStop: () => stop,
    maxSeconds: opts.maxSeconds !== undefined ? Number(opts.maxSeconds) : undefined,
    log: (msg, fields) => logger.info(fields ?? {}, msg),
    onStep: (step, r) => {
      if (bar || step % t.logEvery === 0) {
        const now = Date.now();
        const sps = ((step - lastStep) * t.batchSize * t.accumSteps) / Math.max(1e-3, (now - lastTime) / 1000);
        if (step % t.logEvery === 0) {
          logger.debug({ step, loss: r.loss, ...r.parts, lr: r.lr, gradNorm: r.gradNorm }, 'step');
          if (!bar) logger.info(`step ${step}/${t.steps} loss ${r.loss.toFixed(4)} lr ${r.lr.toExponential(2)} ${sps.toFixed(0)} samples/s`);
          lastTime = now;
          lastStep = step;
        }
        bar?.update(step, { loss: r.loss.toFixed(4), sps: sps.toFixed(0) });
      }
    },
  });
  bar?.stop();
  process.off('SIGINT', onSigint);
  logger.info({ tensorsBefore: summary.tensorsBefore, tensorsAfter: summary.tensorsAfter }, `trained ${summary.stepsThisRun} steps in this process; tf tensors before/after: ${summary.tensorsBefore}/${summary.tensorsAfter}`);
  if (summary.interrupted) {
    logger.warn(`interrupted at step ${summary.steps}; checkpoint saved. Continue with: mmzoo train ${configFile} --resume${opts.out ? ` --out ${opts.out}` : ''}`);
    model.dispose();
    return 130;
  }
  logger.info('evaluating on the test split');
  const metrics = await evaluateSession(session);
  const last = summary.history[summary.history.length - 1];
  if (last) last.metrics = { ...last.metrics, ...flatMetrics(metrics) };
  const results = await writeResults(runDir, {
    model: cfg.model.name, config: loaded.file, backend: backend.name, params: model.numParams(), towers,
    summary, metrics, history: summary.history, samplesPerStep: t.batchSize * t.accumSteps, stages: summary.stages,
  });
  logger.info({ metrics: results.metrics }, 'results written to ' + path.join(runDir, 'results.json'));
  process.stdout.write(renderTable(results) + '\n');
  model.dispose();
  return 0;
}

/** Flattens metrics to name -> number for curves (e.g. `retrieval.imageToText.r1`). */
export function flatMetrics(m: object, prefix = ''): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(m)) {
    if (k === 'chance' || k === 'gallery') continue;
    if (typeof v === 'number') out[prefix + k] = v;
    else if (v && typeof v === 'object') Object.assign(out, flatMetrics(v, `${prefix}${k}.`));
  }
  return out;
}

/** A plain-text table of the headline results: training facts, per-stage loss, and each metric the run has (zero-shot, retrieval, ITM, linear probe, captioning). */
export function renderTable(r: { model: string; backend: string; params: number; train: Record<string, number>; metrics: Record<string, any>; stages?: StageSummary[] }): string {
  const rows: [string, string][] = [
    ['model', r.model], ['backend', r.backend], ['parameters', r.params.toLocaleString('en-US')],
    ['steps', String(r.train.steps)], ['samples/s', r.train.samplesPerSecond.toFixed(1)],
    ['wall time (s)', r.train.wallSeconds.toFixed(1)], ['peak RSS (MB)', r.train.peakRssMB.toFixed(0)],
    ['loss (initial -> final)', `${r.train.initialLoss.toFixed(4)} -> ${r.train.finalLoss.toFixed(4)}`],
  ];
  for (const st of r.stages ?? []) rows.push([`stage ${st.name} loss`, `${st.initialLoss.toFixed(4)} -> ${st.finalLoss.toFixed(4)} (x${st.lossRatio.toFixed(2)})`]);
  const m = r.metrics;
  if (m.zeroShotTop1 !== undefined) rows.push(['zero-shot top-1 / top-5', `${m.zeroShotTop1.toFixed(4)} / ${m.zeroShotTop5.toFixed(4)}`]);
  if (m.retrieval) {
    for (const dir of ['imageToText', 'textToImage']) {
      const d = m.retrieval[dir];
      rows.push([`${dir} R@1/5/10 (chance)`, `${d.r1.toFixed(3)} / ${d.r5.toFixed(3)} / ${d.r10.toFixed(3)}  (${d.chance.r1.toFixed(3)} / ${d.chance.r5.toFixed(3)} / ${d.chance.r10.toFixed(3)})`]);
    }
  }
  const num = (v: unknown, digits: number) => (typeof v === 'number' ? v.toFixed(digits) : 'n/a');
  if (m.retrievalItmRerank) rows.push([`ITM re-ranked R@1 i2t / t2i (k ${m.retrievalItmRerank.k})`, `${num(m.retrievalItmRerank.imageToText?.r1, 3)} / ${num(m.retrievalItmRerank.textToImage?.r1, 3)}`]);
  if (m.itmAccuracy !== undefined) {
    const d = m.itmAccuracyDetail;
    rows.push(['ITM accuracy (pairwise)', `${num(m.itmAccuracy, 4)} (${num(d?.pairwiseAccuracy, 4)})${d?.negatives ? `  negatives: ${d.negatives}` : ''}`]);
  }
  if (m.linearProbeTop1 !== undefined) rows.push(['linear probe top-1', num(m.linearProbeTop1, 4)]);
  if (m.bleu4 !== undefined) rows.push(['BLEU-4 / CIDEr (constant)', `${num(m.bleu4, 3)} / ${num(m.cider, 3)}  (${num(m.bleu4ConstantBaseline, 3)} / ${num(m.ciderConstantBaseline, 3)})`]);
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}
