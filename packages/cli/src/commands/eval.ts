import * as path from 'path';
import { componentCounts } from '@mmzoo/core';
import { acquireRunLock, cleanUpAside, evaluateSession, initBackend, latestCheckpoint, runFolderState, runSession } from '@mmzoo/train';
import { loadRun } from '../specs';
import { readEvalData } from '../eval-data';
import { createLogger, createPendingLogger, flushPending } from '../logger';
import { EvalResults, writeEvalResults } from '../results';
import { formatRows, metricRows } from './train';

/** Options of `mmzoo eval`. */
export interface EvalOptions {
  backend?: string;
  /** the checkpoint to evaluate (@mmzoo/train `findCheckpoint`); default: the latest */
  checkpoint?: string;
  /** a config whose `data:` / `eval:` sections are used, or a caption file ({@link readEvalData}); default: the run's data */
  data?: string;
}

/**
 * `mmzoo eval RUN_DIR [--checkpoint C] [--data D]`: loads the run at a checkpoint (`loadRun`: config and tokenizer
 * from it, its files' hashes verified), evaluates it with its spec's evaluation tasks on the run's test data or on
 * `--data`, writes the metrics to a new file `RUN_DIR/evals/NNN-<checkpoint>-<data>.json` ({@link writeEvalResults})
 * and prints them. results.json (the training figures, `train.wallSeconds` among them) and curves.svg are never
 * touched. Holds the run folder's lock while it runs, as training does (it refuses a run being trained); nothing is
 * written into the run (train.log included) until the run, the checkpoint and the data have been read.
 * @throws Error naming the folder, checkpoint or file: no such run folder, no checkpoint, a corrupt or non-finite
 *   checkpoint, a missing --data file, or the run in use by another process; ConfigError for a bad --data config
 */
export async function evalCommand(runDirArg: string, opts: EvalOptions): Promise<number> {
  const runDir = path.resolve(runDirArg);
  const choice = readEvalData(opts.data);
  if (runFolderState(path.dirname(runDir)) === 'missing') throw new Error(`${runDirArg}: no such run folder`);
  const lock = acquireRunLock(runDir, `mmzoo eval ${runDirArg}`, (w) => process.stderr.write(`warning: ${w}\n`));
  try {
    // a run that a killed --overwrite moved aside is put back first, as train does
    for (const n of cleanUpAside(runDir, (d) => latestCheckpoint(d) !== undefined)) process.stderr.write(`warning: ${n}\n`);
    const early = createPendingLogger();
    let backend = '';
    const run = await loadRun(runDirArg, {
      checkpoint: opts.checkpoint,
      beforeBuild: async (config) => {
        backend = (await initBackend(opts.backend ?? config.runtime.backend, early.info)).name;
      },
    });
    try {
      for (const w of run.checkpoint.warnings) early.warn(w);
      const session = await runSession(run, choice.data, choice.eval);
      flushPending(runDir, early.pending);
      const logger = createLogger(runDir);
      logger.info(`evaluating ${run.checkpoint.dir ?? run.checkpoint.file} on ${choice.source === 'run' ? "the run's data" : choice.source}`);
      const metrics = await evaluateSession(session);
      const results: EvalResults = {
        model: run.spec.name, run: run.dir,
        checkpoint: { name: run.checkpoint.name, path: run.checkpoint.dir ?? run.checkpoint.file, step: run.checkpoint.step },
        data: { name: choice.name, source: choice.source, config: session.config.data }, eval: session.config.eval,
        backend, params: run.model.numParams(), towers: componentCounts(run.model, run.spec.components(run.config.model)),
        evaluatedAt: new Date().toISOString(), metrics,
      };
      const file = await writeEvalResults(runDir, results);
      logger.info({ metrics }, `results written to ${file}`);
      process.stdout.write(renderEvalTable(results) + '\n');
    } finally {
      run.model.dispose();
    }
    return 0;
  } finally {
    lock.release();
  }
}

/** The table `mmzoo eval` prints: the model, the checkpoint and data evaluated, and each metric they gave. */
export function renderEvalTable(r: EvalResults): string {
  const metrics = metricRows(r.metrics);
  return formatRows([
    ['model', r.model], ['backend', r.backend], ['parameters', r.params.toLocaleString('en-US')],
    ['checkpoint', r.checkpoint.step === undefined ? r.checkpoint.name : `${r.checkpoint.name} (step ${r.checkpoint.step})`],
    ['data', r.data.source === 'run' ? "the run's" : r.data.source],
    ...(metrics.length ? metrics : [['metrics', "none: the data serves none of the model's evaluation tasks"] as [string, string]]),
  ]);
}
