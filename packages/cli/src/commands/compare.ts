import { spawn } from 'child_process';
import { createHash } from 'crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync, createWriteStream } from 'fs';
import * as path from 'path';
import {
  parseYaml, validate, StageConfig, checkRunFolderPath, ensureRunFolder, latestCheckpoint, markRunFolder, refuseForeign,
  runFolderState,
} from '@mmzoo/train';
import { ConfigError } from '@mmzoo/core';
import { CompareSchema, CompareConfig } from '../compare/schema';
import { CompareRow, writeReport } from '../compare/report';
import { readResultsFile } from '../results';
import { loadExperiment } from '../experiment';

const BIN = path.join(__dirname, '..', '..', 'bin', 'mmzoo.js');

/**
 * `mmzoo compare COMPARE.yaml --out DIR`: trains and evaluates each listed model config on the same data, split,
 * seed and budget, each in its own `mmzoo train` child process (so one model's failure, or its memory, stays its
 * own), reusing a finished run folder whose config hash matches, then writes the side-by-side report (Markdown,
 * CSV, JSON, SVG plots and a self-contained HTML page).
 * @returns 0 when the report was written (even if some models failed: their rows say why)
 * @throws ConfigError for an invalid comparison file or model config
 */
export async function compareCommand(file: string, opts: { out?: string; backend?: string }): Promise<number> {
  if (!existsSync(file)) throw new ConfigError(`${file}: comparison file not found`);
  const source = parseYaml(readFileSync(file, 'utf8'), file);
  const cfg: CompareConfig = validate(CompareSchema, source.value, source);
  const outDir = checkRunFolderPath(opts.out ?? path.join('runs', `compare-${path.basename(file).replace(/\.ya?ml$/, '')}`));
  // the report folder is mmzoo's own too: new, empty, marked, or a comparison's from before markers (it has runs/)
  if (runFolderState(outDir) !== 'foreign') ensureRunFolder(outDir, 'mmzoo compare');
  else if (existsSync(path.join(outDir, 'runs', '.')) && existsSync(path.join(outDir, 'report.md'))) markRunFolder(outDir, 'mmzoo compare', true);
  else refuseForeign(outDir);
  mkdirSync(path.join(outDir, 'runs'), { recursive: true });
  const rows: CompareRow[] = [];
  for (const [i, m] of cfg.models.entries()) {
    const entry = typeof m === 'string' ? { config: m, overrides: {} } : m;
    const modelFile = entry.config;
    const resolved = [path.resolve(path.dirname(file), modelFile), path.resolve(modelFile)].find((p) => existsSync(p)) ?? modelFile;
    let name = entry.name ?? path.basename(modelFile).replace(/\.ya?ml$/, '');
    let model = '?';
    try {
      const sets = overridesFor(cfg, resolved, entry.overrides);
      const loaded = loadExperiment(resolved, sets); // validates early; errors land in this model's row
      name = entry.name ?? loaded.name;
      model = loaded.config.model.name;
      const hash = createHash('sha256').update(JSON.stringify(loaded.config)).digest('hex').slice(0, 10);
      const runDir = path.join(outDir, 'runs', `${name}-${hash}`);
      const resultsFile = path.join(runDir, 'results.json');
      if (existsSync(resultsFile)) {
        rows.push({ name, model, config: modelFile, runDir, status: 'reused', results: readResultsFile(resultsFile) });
        process.stderr.write(`[${i + 1}/${cfg.models.length}] ${name}: reusing ${runDir}\n`);
        continue;
      }
      // a run folder of mmzoo's own (marked), holding this command's log; an unfinished run in it is resumed
      ensureRunFolder(runDir, 'mmzoo compare');
      const unfinished = latestCheckpoint(runDir) !== undefined;
      process.stderr.write(`[${i + 1}/${cfg.models.length}] ${name}: ${unfinished ? 'resuming' : 'training'} (log: ${path.join(runDir, 'compare.log')})\n`);
      const args = ['train', resolved, '--out', runDir, ...(unfinished ? ['--resume'] : []), ...sets.flatMap((s) => ['--set', s])];
      if (opts.backend) args.push('--backend', opts.backend);
      if (cfg.budget.wallSeconds) args.push('--max-seconds', String(cfg.budget.wallSeconds));
      const { code, lastError } = await runChild(args, path.join(runDir, 'compare.log'), cfg.timeoutSeconds);
      if (code !== 0 || !existsSync(resultsFile)) throw new Error(lastError || `mmzoo train exited with code ${code}`);
      rows.push({ name, model, config: modelFile, runDir, status: 'ok', results: readResultsFile(resultsFile) });
    } catch (e) {
      const error = (e as Error).message.split('\n')[0];
      process.stderr.write(`[${i + 1}/${cfg.models.length}] ${name}: failed: ${error}\n`);
      rows.push({ name, model, config: modelFile, runDir: '', status: 'failed', error });
    }
  }
  const files = await writeReport(outDir, `mmzoo comparison: ${path.basename(file)}`, rows, cfg.budget);
  process.stdout.write(readFileSync(path.join(outDir, 'report.md'), 'utf8'));
  process.stderr.write(`report: ${files.map((f) => path.join(outDir, f)).join(', ')}\n`);
  return 0;
}

/**
 * The --set overrides that put one model under the comparison's seed, budget and shared overrides, then its own
 * (`own`, a model entry's `overrides`). A samples budget
 * sets train.steps from the batch size; for a stagewise config (`stages:`) it is split over the stages by each
 * stage's share of the config's samples (at least one step each), capping warmups at a tenth of the new steps.
 */
export function overridesFor(cfg: CompareConfig, modelFile: string, own: Record<string, string | number | boolean> = {}): string[] {
  const sets = [`train.seed=${cfg.seed}`, ...Object.entries({ ...cfg.overrides, ...own }).map(([k, v]) => `${k}=${v}`)];
  if (cfg.budget.samples) {
    const loaded = loadExperiment(modelFile, sets);
    const t = loaded.config.train;
    const stages = loaded.config.stages as StageConfig[] | undefined;
    if (stages) {
      // a stagewise config: each stage keeps its share of the samples (steps x its batch size), at least one step
      const sizes = stages.map((st) => (st.batchSize ?? t.batchSize) * t.accumSteps);
      const all = stages.reduce((a, st, i) => a + st.steps * sizes[i], 0);
      const steps = stages.map((st) => Math.max(1, Math.round((cfg.budget.samples! * st.steps) / all)));
      steps.forEach((n, i) => {
        sets.push(`stages.${i}.steps=${n}`);
        if (stages[i].warmupSteps !== undefined) sets.push(`stages.${i}.warmupSteps=${Math.min(stages[i].warmupSteps!, Math.floor(n / 10))}`);
      });
      sets.push(`train.steps=${steps.reduce((a, n) => a + n, 0)}`, `train.warmupSteps=${Math.min(t.warmupSteps, Math.floor(Math.min(...steps) / 10))}`);
    } else {
      const per = t.batchSize * t.accumSteps;
      const steps = Math.max(1, Math.ceil(cfg.budget.samples / per));
      sets.push(`train.steps=${steps}`, `train.warmupSteps=${Math.min(t.warmupSteps, Math.floor(steps / 10))}`);
    }
    if (loaded.config.eval.every > 0) sets.push('eval.every=0');
  }
  return sets;
}

/** Runs `mmzoo ARGS` as a child process with output to `logFile`; resolves to its exit code and last error line. */
function runChild(args: string[], logFile: string, timeoutSeconds: number): Promise<{ code: number | null; lastError: string }> {
  return new Promise((resolve) => {
    const log = createWriteStream(logFile, { flags: 'a' });
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let lastError = '';
    child.stdout.pipe(log, { end: false });
    child.stderr.on('data', (d: Buffer) => {
      log.write(d);
      const m = d.toString().split('\n').filter((l) => l.startsWith('mmzoo: '));
      if (m.length) lastError = m[m.length - 1].slice('mmzoo: '.length);
    });
    const timer = setTimeout(() => {
      lastError = `timed out after ${timeoutSeconds} s`;
      child.kill('SIGINT');
    }, timeoutSeconds * 1000);
    child.on('close', (code) => {
      clearTimeout(timer);
      log.end();
      resolve({ code, lastError });
    });
  });
}
