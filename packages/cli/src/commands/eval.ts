import * as path from 'path';
import { readFileSync, existsSync } from 'fs';
import { componentCounts } from '@mmzoo/core';
import {
  initBackend, Experiment, acquireRunLock, cleanUpAside, latestCheckpoint, loadCheckpoint, readCheckpointMeta, resolveLatestCheckpoint, runFolderState,
  TrainSummary, evaluateSession, openSession, tokenizersOfMeta,
} from '@mmzoo/train';
import { getModel } from '../specs';
import { createLogger, createPendingLogger, flushPending } from '../logger';
import { readResultsFile, writeResults } from '../results';
import { flatMetrics, renderTable } from './train';

/**
 * `mmzoo eval RUN_DIR`: rebuilds the model of a run from its latest checkpoint (config and tokenizer are stored
 * in it; the checkpoint's file hashes are verified), evaluates it on the test split and rewrites results.json
 * (training figures are kept). Holds the run folder's lock while it runs, as training does.
 * @throws Error naming the file when the folder holds no usable checkpoint, its meta.json has no config, a file
 *   is corrupt, or the run is in use by another process
 */
export async function evalCommand(runDirArg: string, opts: { backend?: string }): Promise<number> {
  const runDir = path.resolve(runDirArg);
  if (runFolderState(path.dirname(runDir)) === 'missing') throw new Error(`${runDirArg}: no such run folder`);
  const lock = acquireRunLock(runDir, `mmzoo eval ${runDirArg}`, (w) => process.stderr.write(`warning: ${w}\n`));
  try {
    // a run that a killed --overwrite moved aside is put back first, as train does
    for (const n of cleanUpAside(runDir, (d) => latestCheckpoint(d) !== undefined)) process.stderr.write(`warning: ${n}\n`);
    if (runFolderState(runDir) === 'missing') throw new Error(`${runDirArg}: no such run folder`);
    return await evaluateRun(runDirArg, runDir, opts);
  } finally {
    lock.release();
  }
}

async function evaluateRun(runDirArg: string, runDir: string, opts: { backend?: string }): Promise<number> {
  const found = resolveLatestCheckpoint(runDir);
  const ckpt = found.dir;
  if (!ckpt) throw new Error(`${runDirArg}: no checkpoint found (expected ${path.join(runDirArg, 'checkpoints', 'latest')})`);
  const meta = readCheckpointMeta(ckpt);
  const config = meta.config as Experiment<any> | undefined;
  if (!config || typeof config !== 'object' || !config.model) throw new Error(`${path.join(ckpt, 'meta.json')}: has no config; cannot rebuild the model it was trained with`);
  const savedToks = tokenizersOfMeta(meta, path.join(ckpt, 'meta.json'));
  const spec = getModel(config.model.name);
  // read what can fail before writing anything into the run (train.log included)
  const prevFile = path.join(runDir, 'results.json');
  const prev = existsSync(prevFile) ? readResultsFile(prevFile) : undefined;
  const early = createPendingLogger();
  if (found.warning) early.warn(found.warning);
  const backend = await initBackend(opts.backend ?? config.runtime?.backend, early.info);
  const session = await openSession(spec, config, savedToks, path.join(ckpt, 'meta.json'));
  await loadCheckpoint(ckpt, session.model.namedParameters(), undefined, early.warn);
  flushPending(runDir, early.pending);
  const logger = createLogger(runDir);
  logger.info(`evaluating ${ckpt}`);
  const metrics = await evaluateSession(session);
  const history = (meta.history as TrainSummary['history']) ?? [];
  const last = history[history.length - 1];
  if (last) last.metrics = { ...last.metrics, ...flatMetrics(metrics) };
  const summary = {
    steps: meta.step, samplesPerSecond: prev?.train?.samplesPerSecond ?? 0, wallSeconds: (meta.wallSeconds as number) ?? 0,
    peakRssMB: prev?.train?.peakRssMB ?? process.resourceUsage().maxRSS / 1024,
    initialLoss: history[0]?.loss ?? NaN, finalLoss: last?.loss ?? NaN, history,
  } as TrainSummary;
  const results = await writeResults(runDir, {
    model: config.model.name, config: prev?.config ?? '(from checkpoint)', backend: backend.name, params: session.model.numParams(),
    towers: componentCounts(session.model, spec.components(config.model)), summary, metrics, history, samplesPerStep: config.train.batchSize * config.train.accumSteps,
    stages: prev?.stages,
  });
  process.stdout.write(renderTable(results) + '\n');
  session.model.dispose();
  return 0;
}
