import { mkdirSync, readFileSync, readdirSync } from 'fs';
import * as path from 'path';
import { writeFileAtomic } from '@mmzoo/train';
import type { HistoryPoint, StageSummary, TrainSummary, DualEncoderMetrics, DataConfig, EvalConfig } from '@mmzoo/train';
import { plotCurves, SeriesPoint } from './plot';

/** Legend label of a flattened metric: `retrieval.imageToText.r1` -> `i2t R@1`. */
export function shortMetricName(name: string): string {
  return name.replace(/^retrieval(ItmRerank)?\.imageToText\.r(\d+)$/, (_m, re, k) => `i2t${re ? ' rerank' : ''} R@${k}`).replace(/^retrieval(ItmRerank)?\.textToImage\.r(\d+)$/, (_m, re, k) => `t2i${re ? ' rerank' : ''} R@${k}`);
}

/** The nested record written to `<run>/results.json`. */
export interface Results {
  model: string;
  config: string;
  backend: string;
  params: number;
  towers: Record<string, number>;
  train: { steps: number; samplesPerStep: number; samplesPerSecond: number; wallSeconds: number; peakRssMB: number; initialLoss: number; finalLoss: number };
  metrics: Record<string, any>;
  /** stagewise runs: each stage's first and last loss and their ratio (trainer StageSummary) */
  stages?: StageSummary[];
  history: HistoryPoint[];
}

/**
 * Writes results.json (atomically) and curves.svg (loss parts, learning rate and periodic metrics per step).
 * A plotting failure is reported on stderr and does not lose the results.
 */
export async function writeResults(runDir: string, r: {
  model: string; config: string; backend: string; params: number; towers: Record<string, number>;
  summary: TrainSummary; metrics: DualEncoderMetrics; history: HistoryPoint[]; samplesPerStep: number; stages?: StageSummary[];
}): Promise<Results> {
  const s = r.summary;
  const results: Results = {
    model: r.model, config: r.config, backend: r.backend, params: r.params, towers: r.towers,
    train: { steps: s.steps, samplesPerStep: r.samplesPerStep, samplesPerSecond: s.samplesPerSecond, wallSeconds: s.wallSeconds, peakRssMB: s.peakRssMB, initialLoss: s.initialLoss, finalLoss: s.finalLoss },
    metrics: r.metrics as Record<string, any>,
    ...(r.stages ? { stages: r.stages } : {}),
    history: r.history,
  };
  await writeFileAtomic(path.join(runDir, 'results.json'), JSON.stringify(results, null, 2));
  const points: SeriesPoint[] = [];
  for (const h of r.history) {
    points.push({ step: h.step, value: h.loss, series: 'loss', panel: 'loss' });
    for (const [k, v] of Object.entries(h.parts)) if (Object.keys(h.parts).length > 1) points.push({ step: h.step, value: v, series: k, panel: 'loss' });
    points.push({ step: h.step, value: h.lr, series: 'lr', panel: 'learning rate' });
    for (const [k, v] of Object.entries(h.metrics ?? {})) points.push({ step: h.step, value: v, series: shortMetricName(k), panel: 'metrics' });
  }
  try {
    await plotCurves(points, path.join(runDir, 'curves.svg'), `${r.model}: training curves`);
  } catch (e) {
    process.stderr.write(`warning: could not draw curves.svg: ${(e as Error).message}\n`);
  }
  return results;
}

/**
 * Reads a run's results.json (as {@link writeResults} wrote it).
 * @throws Error `<file>: corrupt results file (<JSON error>); delete it or re-run with --overwrite` when the file
 *   is not JSON or not an object with `metrics`; Node's file-system error when it cannot be read (e.g. ENOENT)
 */
export function readResultsFile(file: string): Results {
  const text = readFileSync(file, 'utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: corrupt results file (${(e as Error).message.split('\n')[0]}); delete it or re-run with --overwrite`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value) || typeof (value as { metrics?: unknown }).metrics !== 'object' || (value as { metrics?: unknown }).metrics === null) {
    throw new Error(`${file}: corrupt results file (expected an object with "metrics"); delete it or re-run with --overwrite`);
  }
  return value as Results;
}

/** Folder of a run's evaluation results (`mmzoo eval`), beside the training figures in results.json. */
export const EVALS_DIR = 'evals';

/** The record `mmzoo eval` writes to `<run>/evals/NNN-<checkpoint>-<data>.json`. */
export interface EvalResults {
  model: string;
  /** the run folder (absolute) */
  run: string;
  /** the checkpoint evaluated: its name (`step-000004`, or a weights file's name), path, and step when known */
  checkpoint: { name: string; path: string; step?: number };
  /** the data: its name in the file name (`run` or the --data file's), source (`run` or a path), and `data:` section */
  data: { name: string; source: string; config: DataConfig };
  /** the `eval:` settings used */
  eval: EvalConfig;
  backend: string;
  params: number;
  towers: Record<string, number>;
  /** ISO time */
  evaluatedAt: string;
  /** as in results.json `metrics`: the spec's evaluation tasks, in order */
  metrics: Record<string, any>;
}

/**
 * Writes an evaluation's results to a new file `<run>/evals/NNN-<checkpoint>-<data>.json` (atomically; NNN is one
 * more than the highest number there, from 001, so files sort in the order they were written; characters other than
 * letters, digits, `.`, `-` and `_` in the names become `_`); results.json and
 * every earlier evaluation are left as they are. Call with the run's lock held.
 * @returns the file written
 */
export async function writeEvalResults(runDir: string, r: EvalResults): Promise<string> {
  const dir = path.join(runDir, EVALS_DIR);
  mkdirSync(dir, { recursive: true });
  const last = readdirSync(dir).reduce((n, f) => {
    const m = /^(\d+)-.*\.json$/.exec(f);
    return m ? Math.max(n, Number(m[1])) : n;
  }, 0);
  const safe = (name: string) => name.replace(/[^\w.-]/g, '_');
  const file = path.join(dir, `${String(last + 1).padStart(3, '0')}-${safe(r.checkpoint.name)}-${safe(r.data.name)}.json`);
  await writeFileAtomic(file, JSON.stringify(r, null, 2));
  return file;
}
