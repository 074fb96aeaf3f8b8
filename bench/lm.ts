/**
 * The LM section of `npm run bench` (`--lm`; issue 16, "Benchmarks"): training and generation tokens/s of a LLaMA
 * from @mmzoo/lm beside the same LLaMA in PyTorch (bench/lm_step.py) on the same machine. What is measured, how
 * and what the figures mean: bench/README.md.
 *
 * Every runner is a worker process serving bench/lm-protocol.ts: bench/lm-worker.ts per tfjs backend, and
 * bench/lm_step.py per PyTorch thread setting (torch threads {1, 2} x OPENBLAS_NUM_THREADS {1, 2}). For each model
 * and task all workers build the model and warm up, then take turns (bench/lm-schedule.ts `alternation`: mmzoo and
 * PyTorch alternate) until each has `rounds x stepsPerRound` timed steps; each figure is the median step.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as readline from 'readline';
import { spawn, spawnSync, ChildProcess } from 'child_process';
import { z } from 'zod';
import { LlamaConfigSchema, llamaConfigHiddenDim } from '@mmzoo/lm';
import { parseYaml, validate } from '@mmzoo/train';
import type { BackendName } from '@mmzoo/train';
import type { LlamaSizes, LmReply, LmRequest, LmTask, ProfileReply, RunReply, SetupReply, TrainHyper } from './lm-protocol';
import { alternation, summarizeSteps } from './lm-schedule';
import type { StepSummary } from './lm-schedule';
import type { KernelTime } from './profile';
import { table } from './table';
import { PYTHON, torchUnavailable } from './torch';

const ROOT = path.join(__dirname, '..');
/** the tiny LLaMA's config: its model section, its tokenizer's vocabSize, and the optimizer of its train section */
export const TINY_CONFIG = 'configs/lm/llama-tiny.yaml';
/** the 15M-parameter LLaMA (llama2.c stories15M) */
export const STORIES_CONFIG = 'configs/lm/stories15m.yaml';
/** the PyTorch thread settings: [torch threads, OPENBLAS_NUM_THREADS] */
const TORCH_SETTINGS: [number, number][] = [[1, 1], [1, 2], [2, 1], [2, 2]];

/** Options of {@link benchLm}. */
export interface LmBenchOptions {
  /** tfjs backends of the tiny LLaMA; the 15M LLaMA runs these minus wasm unless `wasm15m` */
  backends: BackendName[];
  wasm15m: boolean;
  /** the tiny LLaMA's vocabulary size; default: its config's `tokenizers.text.vocabSize` */
  vocab?: number;
  /** which models: 'tiny', '15m' */
  models: ('tiny' | '15m')[];
  /** run the PyTorch workers (when python3-torch is installed) */
  torch: boolean;
  rounds: number;
  stepsPerRound: number;
  /** untimed steps after setup: training, generation */
  warmup: number;
  /** generation: prompt tokens per row and new tokens */
  promptLen: number;
  newTokens: number;
  /** the 15M LLaMA's training batch (its sequence length is its context, 256) */
  batch15m: number;
  /** one tf.profile'd training step of the tiny LLaMA on native */
  profile: boolean;
  /** a line of progress */
  log: (line: string) => void;
}

/** One runner's figures for one task. */
export interface LmRow extends StepSummary {
  model: string;
  task: string;
  runner: string;
  /** training: first and last loss of the timed steps */
  firstLoss?: number;
  lastLoss?: number;
  /** mmzoo: tf.memory().numTensors after each turn */
  numTensors?: number[];
}

/** What {@link benchLm} measured. */
export interface LmResult {
  models: { name: string; config: string; llama: LlamaSizes; params: number }[];
  train: TrainHyper;
  rows: LmRow[];
  /** runtimes by runner name */
  runtimes: Record<string, string>;
  /** why the PyTorch side was skipped, when it was */
  torchSkipped?: string;
  /** the PyTorch model against the llama-tiny golden (bench/lm_step.py --check) */
  torchCheck?: string;
  profile?: ProfileReply & { setup: string };
}

/** A model of the benchmark with its resolved sizes and training shape. */
interface LmModelCase {
  name: string;
  config: string;
  llama: LlamaSizes;
  trainBatch: number;
  backends: BackendName[];
}

const TrainSectionSchema = z.object({
  batchSize: z.number().int().positive(),
  lr: z.number().positive(),
  betas: z.tuple([z.number(), z.number()]),
  eps: z.number().positive(),
  weightDecay: z.number().nonnegative(),
  gradClipNorm: z.number().positive(),
});

/**
 * Reads a LLaMA config file: its `model:` section (LlamaConfigSchema) with every size resolved, the vocabulary from
 * `vocab`, else the model's `vocabSize`, else `tokenizers.text.vocabSize`; and its `train:` section when it has one.
 * @throws ConfigError naming the file, line and key for a bad section; Error when no vocabulary size is found
 */
export function readLlamaConfig(file: string, vocab?: number): { llama: LlamaSizes; train?: z.infer<typeof TrainSectionSchema> } {
  const source = parseYaml(fs.readFileSync(path.join(ROOT, file), 'utf8'), file);
  const doc = source.value as { model?: unknown; train?: unknown; tokenizers?: { text?: { vocabSize?: unknown } } };
  const cfg = validate(LlamaConfigSchema, doc.model, source, ['model']);
  const fromTokenizer = doc.tokenizers?.text?.vocabSize;
  const vocabSize = vocab ?? cfg.vocabSize ?? (typeof fromTokenizer === 'number' ? fromTokenizer : undefined);
  if (vocabSize === undefined) throw new Error(`${file}: no model.vocabSize nor tokenizers.text.vocabSize; give --lm-vocab N`);
  const llama: LlamaSizes = {
    dim: cfg.dim, layers: cfg.layers, numHeads: cfg.numHeads, numKvHeads: cfg.numKvHeads ?? cfg.numHeads, vocabSize,
    hiddenDim: llamaConfigHiddenDim(cfg), maxSeqLen: cfg.maxSeqLen, normEps: cfg.normEps, ropeTheta: cfg.ropeTheta,
  };
  const train = doc.train === undefined ? undefined : validate(TrainSectionSchema.passthrough(), doc.train, source, ['train']);
  return { llama, train };
}

/** A worker process (bench/lm-worker.ts or bench/lm_step.py) answering the protocol one request at a time. */
class Worker {
  private readonly child: ChildProcess;
  private readonly replies: AsyncIterator<string>;
  private stderr = '';

  /** Starts `command args` in the repository root; `name` prefixes its errors. */
  constructor(readonly name: string, command: string, args: string[], env: NodeJS.ProcessEnv) {
    this.child = spawn(command, args, { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    this.replies = readline.createInterface({ input: this.child.stdout! })[Symbol.asyncIterator]();
  }

  /** Sends one request and waits for its reply. @throws Error `<name>: <message>` when the worker answers an error or exits */
  async request<R extends LmReply>(req: LmRequest): Promise<R> {
    this.child.stdin!.write(`${JSON.stringify(req)}\n`);
    const next = await this.replies.next();
    if (next.done) throw new Error(`${this.name} exited (${this.stderr.trim().split('\n').slice(-2).join(' | ') || 'no message'})`);
    const reply = JSON.parse(next.value) as LmReply;
    if ('error' in reply) throw new Error(`${this.name}: ${reply.error}`);
    return reply as R;
  }

  /** Asks the worker to dispose what it holds and exit (it also exits when its stdin closes). */
  close(): void {
    this.child.stdin!.end(`${JSON.stringify({ op: 'exit' })}\n`);
  }
}

/** The tasks of one model: training, then generation at batch 1 and 8 with and without the KV cache. */
function tasksOf(m: LmModelCase, hyper: TrainHyper, o: LmBenchOptions): { name: string; task: LmTask; tokens: number }[] {
  const train: LmTask = { kind: 'train', batch: m.trainBatch, seqLen: m.llama.maxSeqLen, ...hyper };
  const gens = [1, 8].flatMap((batch) => [true, false].map((useCache) => ({
    name: `generate b${batch} ${useCache ? 'cache' : 'no cache'}`,
    task: { kind: 'generate', batch, promptLen: o.promptLen, newTokens: o.newTokens, useCache } as LmTask,
    tokens: batch * o.newTokens,
  })));
  return [{ name: `train ${m.trainBatch}x${m.llama.maxSeqLen}`, task: train, tokens: m.trainBatch * m.llama.maxSeqLen }, ...gens];
}

/**
 * The LM benchmark: for each model, the training step and the four generation settings, on each tfjs backend and
 * each PyTorch thread setting, alternated; plus, with `profile`, one profiled training step of the tiny LLaMA.
 * @throws Error when a config is bad or a worker fails
 */
export async function benchLm(o: LmBenchOptions): Promise<LmResult> {
  const tiny = readLlamaConfig(TINY_CONFIG, o.vocab);
  if (!tiny.train) throw new Error(`${TINY_CONFIG}: no train section (the benchmark takes its batch and optimizer from it)`);
  const hyper: TrainHyper = {
    lr: tiny.train.lr, betas: tiny.train.betas, eps: tiny.train.eps, weightDecay: tiny.train.weightDecay, clip: tiny.train.gradClipNorm,
  };
  const cases: LmModelCase[] = [];
  if (o.models.includes('tiny')) cases.push({ name: 'llama-tiny', config: TINY_CONFIG, llama: tiny.llama, trainBatch: tiny.train.batchSize, backends: o.backends });
  if (o.models.includes('15m')) {
    const backends = o.wasm15m ? o.backends : o.backends.filter((b) => b !== 'wasm');
    cases.push({ name: 'stories15m', config: STORIES_CONFIG, llama: readLlamaConfig(STORIES_CONFIG).llama, trainBatch: o.batch15m, backends });
  }
  const result: LmResult = { models: [], train: hyper, rows: [], runtimes: {} };
  result.torchSkipped = o.torch ? torchUnavailable() : 'off (--no-torch)';
  const useTorch = result.torchSkipped === undefined;
  if (useTorch) {
    const check = spawnSync(PYTHON, [path.join(__dirname, 'lm_step.py'), '--check', path.join(ROOT, 'tests/fixtures/llama-tiny')], { encoding: 'utf8' });
    if (check.status !== 0) throw new Error(`bench/lm_step.py --check failed: ${check.stdout.trim()} ${check.stderr.trim().split('\n').pop()}`);
    result.torchCheck = check.stdout.trim();
    o.log(`  ${result.torchCheck}`);
  }

  const workers = new Map<string, Worker>();
  const tsxEnv = { ...process.env, TSX_TSCONFIG_PATH: path.join(ROOT, 'tsconfig.json') };
  const mmzooWorker = (b: BackendName) => {
    if (!workers.has(b)) workers.set(b, new Worker(b, process.execPath, ['--require', 'tsx/cjs', path.join(__dirname, 'lm-worker.ts'), b], tsxEnv));
    return workers.get(b)!;
  };
  const torchNames = useTorch ? TORCH_SETTINGS.map(([t, b]) => `torch ${t}x${b}`) : [];
  if (useTorch) {
    TORCH_SETTINGS.forEach(([threads, blas], i) => {
      workers.set(torchNames[i], new Worker(torchNames[i], PYTHON, [path.join(__dirname, 'lm_step.py'), '--threads', String(threads)], { ...process.env, OPENBLAS_NUM_THREADS: String(blas) }));
    });
  }
  try {
    for (const m of cases) {
      let params = 0;
      for (const { name: taskName, task, tokens } of tasksOf(m, hyper, o)) {
        const runners = [...m.backends, ...torchNames];
        o.log(`  ${m.name}, ${taskName}: setting up and warming up ${runners.join(', ')} ...`);
        for (const r of runners) {
          const w = r.startsWith('torch') ? workers.get(r)! : mmzooWorker(r as BackendName);
          const setup = await w.request<SetupReply>({ op: 'setup', llama: m.llama, task, warmup: o.warmup });
          result.runtimes[r] = setup.runtime;
          params = setup.params;
        }
        const times = new Map(runners.map((r) => [r, { ms: [] as number[], cpuMs: [] as number[], losses: [] as number[], numTensors: [] as number[] }]));
        for (const slot of alternation(m.backends, torchNames, o.rounds, o.stepsPerRound)) {
          const got = await workers.get(slot.runner)!.request<RunReply>({ op: 'run', steps: slot.steps });
          const t = times.get(slot.runner)!;
          t.ms.push(...got.ms);
          t.cpuMs.push(...got.cpuMs);
          t.losses.push(...got.losses);
          if (got.numTensors !== undefined) t.numTensors.push(got.numTensors);
        }
        for (const r of runners) {
          const t = times.get(r)!;
          const row: LmRow = { model: m.name, task: taskName, runner: r, ...summarizeSteps(t.ms, t.cpuMs, tokens) };
          if (t.losses.length) [row.firstLoss, row.lastLoss] = [t.losses[0], t.losses[t.losses.length - 1]];
          if (t.numTensors.length) row.numTensors = t.numTensors;
          result.rows.push(row);
        }
        const best = result.rows.filter((x) => x.model === m.name && x.task === taskName);
        o.log(`    ${best.map((x) => `${x.runner} ${x.tokensPerSec.toFixed(0)} tok/s`).join(', ')}`);
      }
      result.models.push({ name: m.name, config: m.config, llama: m.llama, params });
    }
    if (o.profile && o.models.includes('tiny') && o.backends.includes('native')) {
      const w = mmzooWorker('native');
      const task: LmTask = { kind: 'train', batch: tiny.train.batchSize, seqLen: tiny.llama.maxSeqLen, ...hyper };
      await w.request<SetupReply>({ op: 'setup', llama: tiny.llama, task, warmup: o.warmup });
      const p = await w.request<ProfileReply>({ op: 'profile' });
      result.profile = { setup: `llama-tiny training step ${task.batch}x${task.seqLen} on native`, ...p };
    }
  } finally {
    for (const w of workers.values()) w.close();
  }
  return result;
}

/** The tables of {@link benchLm}'s result: per model, every runner's figures and mmzoo against the best PyTorch setting. */
export function lmTables(r: LmResult): string {
  const out: string[] = [];
  for (const m of r.models) {
    const rows = r.rows.filter((x) => x.model === m.name);
    out.push(`\n${m.name} (${m.config}; dim ${m.llama.dim}, ${m.llama.layers} layers, ${m.llama.numHeads} heads, ${m.llama.numKvHeads} kv heads, `
      + `vocab ${m.llama.vocabSize}, context ${m.llama.maxSeqLen}; ${m.params.toLocaleString('en-US')} parameters)`);
    const torchBest = (task: string) => rows.filter((x) => x.task === task && x.runner.startsWith('torch')).sort((a, b) => b.tokensPerSec - a.tokensPerSec)[0];
    out.push(table(
      ['task', 'runner', 'steps', 'ms/step', 'best ms', 'CPU ms', 'tokens/s', 'x torch best', 'loss first -> last'],
      rows.map((x) => {
        const best = torchBest(x.task);
        return [
          x.task, x.runner, x.steps, x.medianMs.toFixed(0), x.minMs.toFixed(0), x.cpuMs.toFixed(0), x.tokensPerSec.toFixed(0),
          best ? (x.tokensPerSec / best.tokensPerSec).toFixed(2) : '-',
          x.firstLoss === undefined ? '' : `${x.firstLoss.toFixed(3)} -> ${x.lastLoss!.toFixed(3)}`,
        ];
      }),
    ));
  }
  if (r.profile) {
    const total = r.profile.byKernel.reduce((a, k) => a + k.ms, 0);
    const rows = (ks: KernelTime[]) => ks.slice(0, 15).map((k) => [k.kernel, k.calls, k.ms.toFixed(1), ((100 * k.ms) / total).toFixed(1)]);
    out.push(`\nprofiled ${r.profile.setup}: ${r.profile.wallMs.toFixed(0)} ms wall, ${total.toFixed(0)} ms in ${r.profile.byKernel.reduce((a, k) => a + k.calls, 0)} kernel calls; top kernels:`);
    out.push(table(['kernel', 'calls', 'ms', '%'], rows(r.profile.byKernel)));
    out.push(table(['kernel and input shapes', 'calls', 'ms', '%'], rows(r.profile.byShape)));
  }
  return out.join('\n');
}
