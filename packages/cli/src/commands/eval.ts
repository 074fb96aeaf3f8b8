import * as path from 'path';
import { readFileSync, existsSync } from 'fs';
import { WordTokenizer, initBackend, Experiment } from '@mmzoo/core';
import { latestCheckpoint, loadCheckpoint, readCheckpointMeta, TrainSummary } from '@mmzoo/core/node';
import { getModel } from '../registry';
import { createLogger } from '../logger';
import { openSession, evaluateSession } from '../session';
import { writeResults } from '../results';
import { flatMetrics, renderTable } from './train';

/**
 * `mmzoo eval RUN_DIR`: rebuilds the model of a run from its latest checkpoint (config and tokenizer are stored
 * in it), evaluates it on the test split and rewrites results.json (training figures are kept).
 * @throws Error when the folder holds no checkpoint
 */
export async function evalCommand(runDirArg: string, opts: { backend?: string }): Promise<number> {
  const runDir = path.resolve(runDirArg);
  const ckpt = latestCheckpoint(runDir);
  if (!ckpt) throw new Error(`${runDirArg}: no checkpoint found (expected ${path.join(runDirArg, 'checkpoints', 'latest')})`);
  const meta = readCheckpointMeta(ckpt);
  const config = meta.config as Experiment<any>;
  const entry = getModel(config.model.name);
  const logger = createLogger(runDir);
  const backend = await initBackend(opts.backend ?? config.runtime?.backend, (l) => logger.info(l));
  const session = await openSession(entry, config, () => WordTokenizer.fromJSON(meta.tokenizer as object));
  await loadCheckpoint(ckpt, session.model.namedParameters());
  logger.info(`evaluating ${ckpt}`);
  const metrics = await evaluateSession(session);
  const prevFile = path.join(runDir, 'results.json');
  const prev = existsSync(prevFile) ? JSON.parse(readFileSync(prevFile, 'utf8')) : undefined;
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
    towers: entry.towers(session.model), summary, metrics, history, samplesPerStep: config.train.batchSize * config.train.accumSteps,
    stages: prev?.stages,
  });
  process.stdout.write(renderTable(results) + '\n');
  session.model.dispose();
  return 0;
}
