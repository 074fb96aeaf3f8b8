import { readFileSync } from 'fs';
import * as path from 'path';
import { writeFileAtomic } from '@mmzoo/train';
import type { HistoryPoint, StageSummary, TrainSummary, DualEncoderMetrics } from '@mmzoo/train';
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
