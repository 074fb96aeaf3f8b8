/**
 * `npm run bench`: throughput of core's matmul path and of the benchmark CLIP training step (DESIGN.md,
 * "Backend facts": "the small CLIP").
 *
 *   npx tsx bench/run.ts [--backends wasm,cpu] [--steps 10] [--warmup 2] [--cpu-steps 1] [--cpu-warmup 0] [--runs 20] [--profile] [--json PATH]
 *     [--no-torch] [--rss-steps 1000] [--no-demo] [--tta-target 0.8] [--tta-every 50] [--quick] [--albef-rss 10000]
 *
 * 1. wasm matmul at [3200, 128] x [128, 512]: raw 2-D tf.matMul (forward), core's `linear` forward + backward
 *    (weight [512, 128] in the [out, in] layout) and tfjs' stock path (tf.matMul(x, w, false, true) with its
 *    built-in gradient), in GFLOP/s (forward 2MKN flops, forward + backward 3 x 2MKN), median of `--runs` runs after
 *    warm-up. The issue requirement is core-linear / raw matmul >= 0.5.
 * 2. The CLIP step (images 28x28x1, patch 4, width 128, 4 + 4 layers, 4 heads, MLP 512, QuickGELU, text context 16,
 *    vocab 1000, embed 128, batch 64, Adam lr 1e-4 (core's AdamW without weight decay: on the native backend one
 *    fused kernel), symmetric InfoNCE) on each backend: ms/step (median after
 *    warm-up), samples/s and tf.memory().numTensors after every step (it must stay flat). The pure-JS cpu backend
 *    is ~30x slower than wasm (about a minute per step), so by default it runs 1 step without warm-up.
 *
 * 3. The same CLIP step in PyTorch (bench/clip_step.py) when Debian's python3-torch is installed, run as DESIGN.md
 *    says (2 torch threads, OPENBLAS_NUM_THREADS=1), and each backend's samples/s as a multiple of PyTorch's.
 *    The machine may be shared: both are medians, and the best step of each is printed too.
 * 4. RSS and tf.memory().numTensors over `--rss-steps` CLIP steps on the native backend (1000 by default; no growth).
 * 5. Time-to-accuracy of the demo: `mmzoo train configs/clip/fmnist-tiny.yaml` (default backend) with zero-shot
 *    evaluation every `--tta-every` steps; training seconds until zero-shot top-1 first reaches `--tta-target`.
 * 6. With `--albef-rss N` (off by default): RSS, V8 heap, external memory and tf.memory() every 1,000 of N training
 *    steps of a micro ALBEF on the native backend (bench/albef-rss.ts; issue 14), sampled after a full GC, and the
 *    RSS slope in MB per 1,000 steps after a warm-up of 1,000 steps. `--albef-rss N` alone runs only this section
 *    on the native backend (10,000 steps take a few minutes; `--backends wasm` measures wasm instead); `--all` runs
 *    the other sections too.
 * 7. With `--lm` (alone it runs only this section, on native and wasm): training and generation tokens/s of the tiny
 *    LLaMA (configs/lm/llama-tiny.yaml) and a 15M-parameter LLaMA (configs/lm/stories15m.yaml) beside the same
 *    LLaMA in PyTorch (bench/lm_step.py; torch threads {1, 2} x OPENBLAS_NUM_THREADS {1, 2}), worker processes
 *    alternated (bench/lm.ts; figures and their meaning in bench/README.md). With `--profile`, one profiled training
 *    step of the tiny LLaMA on native. About 40 minutes on the shared 2-core machine.
 * `--quick` skips sections 4 and 5 (they take minutes).
 *
 * `--profile` adds one profiled CLIP step per backend (tf.profile) and prints the kernels that take the most time.
 * `--backends` defaults to every backend that loads (tensorflow > native > wasm > cpu); the others are listed as skipped.
 * Prints a table; `--json PATH` also writes the numbers as JSON.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as v8 from 'v8';
import * as vm from 'vm';
import { spawnSync } from 'child_process';
import { performance } from 'perf_hooks';
import { tf, linear, manualSeed } from '@mmzoo/core';
import { initBackend, AdamW, BACKEND_NAMES, BackendName, parseBackendName } from '@mmzoo/train';
import type { Tensor, Tensor2D } from '@mmzoo/core';
import { buildClip } from '@mmzoo/clip';
import { benchAlbefRss, AlbefRssRow } from './albef-rss';
import { benchLm, lmTables } from './lm';
import type { LmBenchOptions, LmResult } from './lm';
import { kernelTimes, KernelTime } from './profile';
import { median } from './stats';
import { table } from './table';
import { PYTHON, torchUnavailable } from './torch';
import { nativeRuntime } from './native-runtime';

interface Args {
  backends: BackendName[];
  steps: number;
  warmup: number;
  cpuSteps: number;
  cpuWarmup: number;
  runs: number;
  profile: boolean;
  json?: string;
  /** run the PyTorch reference when python3-torch is installed */
  torch: boolean;
  /** CLIP steps of the RSS check on the native backend (0 skips it) */
  rssSteps: number;
  /** run the demo config for time-to-accuracy */
  demo: boolean;
  ttaTarget: number;
  ttaEvery: number;
  /** micro-ALBEF steps of the RSS check on the native backend (0: skipped) */
  albefRss: number;
  /** section 7, the LM benchmark (bench/lm.ts), and its options */
  lm: boolean;
  lmOptions: Omit<LmBenchOptions, 'backends' | 'torch' | 'profile' | 'log'>;
  /** skip sections 1-5 (set by --albef-rss and --lm unless --all is given) */
  only: boolean;
}

const USAGE = 'usage: tsx bench/run.ts [--backends wasm,cpu] [--steps N] [--warmup N] [--cpu-steps N] [--cpu-warmup N] [--runs N] [--profile] [--json PATH]\n'
  + '  [--no-torch] [--rss-steps N] [--no-demo] [--tta-target F] [--tta-every N] [--quick (= --rss-steps 0 --no-demo)]\n'
  + '  [--albef-rss N (only the micro-ALBEF RSS check over N steps; add --all to run the other sections too)]\n'
  + '  [--lm (only the LM benchmark, bench/lm.ts; add --all to run the other sections too) [--lm-models tiny,15m] [--lm-rounds N] [--lm-steps N]\n'
  + '   [--lm-warmup N] [--lm-vocab N] [--lm-batch-15m N] [--lm-wasm-15m] [--lm-prompt N] [--lm-new-tokens N]]';

function parseArgs(argv: string[]): Args {
  const args: Args = {
    backends: [...BACKEND_NAMES], steps: 10, warmup: 2, cpuSteps: 1, cpuWarmup: 0, runs: 20, profile: false,
    torch: true, rssSteps: 1000, demo: true, ttaTarget: 0.8, ttaEvery: 50, albefRss: 0, only: false, lm: false,
    lmOptions: { models: ['tiny', '15m'], rounds: 4, stepsPerRound: 5, warmup: 2, wasm15m: false, batch15m: 4, promptLen: 16, newTokens: 16 },
  };
  let all = false;
  let backendsGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    const count = (min: number) => {
      const v = value();
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) throw new Error(`${flag} expects an integer >= ${min}, got '${v}'`);
      return n;
    };
    if (flag === '--backends') backendsGiven = true;
    if (flag === '--backends') args.backends = value().split(',').filter(Boolean).map((b) => parseBackendName(b, '--backends'));
    else if (flag === '--steps') args.steps = count(1);
    else if (flag === '--warmup') args.warmup = count(0);
    else if (flag === '--cpu-steps') args.cpuSteps = count(1);
    else if (flag === '--cpu-warmup') args.cpuWarmup = count(0);
    else if (flag === '--runs') args.runs = count(1);
    else if (flag === '--json') args.json = value();
    else if (flag === '--profile') args.profile = true;
    else if (flag === '--no-torch') args.torch = false;
    else if (flag === '--rss-steps') args.rssSteps = count(0);
    else if (flag === '--no-demo') args.demo = false;
    else if (flag === '--albef-rss') args.albefRss = count(0);
    else if (flag === '--lm') args.lm = true;
    else if (flag === '--lm-models') args.lmOptions.models = parseLmModels(value());
    else if (flag === '--lm-rounds') args.lmOptions.rounds = count(1);
    else if (flag === '--lm-steps') args.lmOptions.stepsPerRound = count(1);
    else if (flag === '--lm-warmup') args.lmOptions.warmup = count(0);
    else if (flag === '--lm-vocab') args.lmOptions.vocab = count(1);
    else if (flag === '--lm-batch-15m') args.lmOptions.batch15m = count(1);
    else if (flag === '--lm-wasm-15m') args.lmOptions.wasm15m = true;
    else if (flag === '--lm-prompt') args.lmOptions.promptLen = count(1);
    else if (flag === '--lm-new-tokens') args.lmOptions.newTokens = count(1);
    else if (flag === '--all') all = true;
    else if (flag === '--quick') {
      args.rssSteps = 0;
      args.demo = false;
    } else if (flag === '--tta-every') args.ttaEvery = count(1);
    else if (flag === '--tta-target') {
      const v = value();
      args.ttaTarget = Number(v);
      if (!(args.ttaTarget > 0 && args.ttaTarget <= 1)) throw new Error(`--tta-target expects a number in (0, 1], got '${v}'`);
    }
    else if (flag === '--help' || flag === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown argument '${flag}'\n${USAGE}`);
  }
  if ((args.albefRss > 0 || args.lm) && !all) {
    args.only = true;
    if (!backendsGiven) args.backends = args.lm ? ['native', 'wasm'] : ['native'];
  }
  return args;
}

/** The `--lm-models` list: 'tiny' (configs/lm/llama-tiny.yaml) and '15m' (configs/lm/stories15m.yaml). */
function parseLmModels(list: string): ('tiny' | '15m')[] {
  const names = list.split(',').filter(Boolean);
  const bad = names.find((n) => n !== 'tiny' && n !== '15m');
  if (bad !== undefined || names.length === 0) throw new Error(`--lm-models expects a comma-separated list of tiny, 15m; got '${list}'`);
  return names as ('tiny' | '15m')[];
}

/**
 * Runs `fn` `warmup` times untimed, then `runs` times timed; returns each timed run's wall milliseconds and the
 * process' CPU milliseconds (user + system, all threads) per run: on a machine shared with other work the wall time
 * grows with the load, the CPU time much less.
 */
function timeRuns(fn: () => void, warmup: number, runs: number): { ms: number[]; cpuMsPerRun: number } {
  for (let i = 0; i < warmup; i++) fn();
  const ms: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    ms.push(performance.now() - t0);
  }
  const cpu = process.cpuUsage(cpu0);
  return { ms, cpuMsPerRun: (cpu.user + cpu.system) / 1000 / runs };
}

/**
 * Times `fn` (which returns the tensors it computed) `runs` times after `warmup` untimed calls. The cpu and wasm
 * backends run every kernel synchronously, so a result is complete when `fn` returns; the read-back (`dataSync`,
 * which forces completion on any backend) is timed separately because copying a multi-megabyte result out of the
 * wasm heap costs about as much as the product itself on these machines.
 * @returns median milliseconds of the computation and of computation + read-back
 */
function timeOp(fn: () => Tensor[], warmup: number, runs: number): { computeMs: number; withReadMs: number } {
  const compute: number[] = [];
  const total: number[] = [];
  for (let i = 0; i < warmup + runs; i++) {
    const t0 = performance.now();
    const out = fn();
    const t1 = performance.now();
    for (const t of out) t.dataSync();
    const t2 = performance.now();
    tf.dispose(out);
    if (i >= warmup) {
      compute.push(t1 - t0);
      total.push(t2 - t0);
    }
  }
  return { computeMs: median(compute), withReadMs: median(total) };
}

interface MatmulRow {
  name: string;
  flops: number;
  computeMs: number;
  withReadMs: number;
  gflops: number;
  gflopsWithRead: number;
}

/** Section 1: GFLOP/s of raw matMul, core linear fwd+bwd and the stock tfjs path on the active backend. */
function benchMatmul(runs: number): { rows: MatmulRow[]; ratio: number; ratioWithRead: number } {
  const [M, K, N] = [3200, 128, 512];
  const fwd = 2 * M * K * N;
  const x = tf.randomNormal([M, K]) as Tensor2D;
  const wOutIn = tf.randomNormal([N, K]) as Tensor2D; // [out, in], core's Linear layout
  const wInOut = tf.randomNormal([K, N]) as Tensor2D;
  const dy = tf.randomNormal([M, N]) as Tensor2D;
  const coreGrads = tf.grads((a: Tensor, w: Tensor) => linear(a, w as Tensor2D));
  const stockGrads = tf.grads((a: Tensor, w: Tensor) => tf.matMul(a as Tensor2D, w as Tensor2D, false, true));
  const cases: { name: string; flops: number; fn: () => Tensor[] }[] = [
    { name: 'raw tf.matMul(x, w) forward', flops: fwd, fn: () => [tf.matMul(x, wInOut)] },
    { name: 'tf.matMul(x, w, false, true) forward', flops: fwd, fn: () => [tf.matMul(x, wOutIn, false, true)] },
    { name: 'core linear forward', flops: fwd, fn: () => tf.tidy(() => [linear(x, wOutIn)]) }, // tidy frees the transposed weight
    { name: 'core linear forward+backward', flops: 3 * fwd, fn: () => coreGrads([x, wOutIn], dy) },
    { name: 'stock tfjs matMul forward+backward', flops: 3 * fwd, fn: () => stockGrads([x, wOutIn], dy) },
  ];
  const rows = cases.map(({ name, flops, fn }) => {
    const { computeMs, withReadMs } = timeOp(fn, 3, runs);
    return { name, flops, computeMs, withReadMs, gflops: flops / (computeMs * 1e6), gflopsWithRead: flops / (withReadMs * 1e6) };
  });
  tf.dispose([x, wOutIn, wInOut, dy]);
  return { rows, ratio: rows[3].gflops / rows[0].gflops, ratioWithRead: rows[3].gflopsWithRead / rows[0].gflopsWithRead };
}

/** Timings of the benchmark CLIP step, in tfjs or PyTorch. */
interface StepTiming {
  steps: number;
  /** median and best wall milliseconds per step */
  medianMs: number;
  minMs: number;
  /** process CPU time per step (all threads), ms; spinning threads count, so it grows under load */
  cpuMsPerStep: number;
  samplesPerSec: number;
  firstLoss: number;
  lastLoss: number;
}

interface ClipRow extends StepTiming {
  backend: BackendName;
  warmup: number;
  numTensors: number[];
  flat: boolean;
  profile?: KernelTime[];
  /** the same profile grouped by kernel and input shapes */
  profileByShape?: KernelTime[];
}

const BATCH = 64;

/** Deterministic batch: random images, text rows of random length ending in the end-of-text id 2, then padding 0. */
function makeBatch(): { images: Tensor; ids: Tensor } {
  let s = 12345;
  const rnd = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
  const [L, EOT] = [16, 2];
  const ids = new Int32Array(BATCH * L);
  for (let r = 0; r < BATCH; r++) {
    const eotAt = 1 + Math.floor(rnd() * (L - 1)); // 1 .. 15
    for (let j = 0; j < eotAt; j++) ids[r * L + j] = 3 + Math.floor(rnd() * 997);
    ids[r * L + eotAt] = EOT;
  }
  const pixels = new Float32Array(BATCH * 28 * 28).map(() => rnd());
  return { images: tf.tensor4d(pixels, [BATCH, 1, 28, 28]), ids: tf.tensor2d(ids, [BATCH, L], 'int32') };
}

/** The benchmark CLIP model, its batch and Adam, ready to step on the active backend. */
function makeClipTrainer(): { minimize: () => tf.Tensor; step: () => number; dispose: () => void } {
  manualSeed(0);
  const model = buildClip({
    name: 'clip',
    embedDim: 128,
    activation: 'quick_gelu',
    vision: { imageSize: 28, patchSize: 4, channels: 1, width: 128, layers: 4, numHeads: 4 },
    text: { contextLength: 16, vocabSize: 1000, width: 128, layers: 4, numHeads: 4, pool: 'eot', eotId: 2 },
  });
  const { images, ids } = makeBatch();
  const params = model.trainableParameters();
  const names = [...params.keys()];
  const vars = names.map((n) => params.get(n)!);
  const opt = new AdamW(params, { betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 }); // torch.optim.Adam(lr=1e-4)
  // loss, gradients and one Adam update (returns the loss tensor)
  const minimize = (): tf.Tensor => {
    const { value, grads } = tf.variableGrads(() => model.loss(images, ids).total as tf.Scalar, vars);
    opt.apply(new Map(names.map((n, i) => [n, grads[vars[i].name]])), 1e-4);
    tf.dispose(Object.values(grads));
    return value;
  };
  const step = () => {
    const cost = minimize();
    const loss = cost.dataSync()[0];
    cost.dispose();
    model.afterOptimizerStep();
    return loss;
  };
  const dispose = () => {
    opt.dispose();
    tf.dispose([images, ids]);
    model.dispose();
  };
  return { minimize, step, dispose };
}

/** Section 2: the benchmark CLIP step on the active backend (plus, with `profile`, one profiled step). */
async function benchClip(backend: BackendName, warmup: number, steps: number, profile: boolean): Promise<ClipRow> {
  const clip = makeClipTrainer();
  const losses: number[] = [];
  const numTensors: number[] = [];
  const step = () => {
    losses.push(clip.step());
    numTensors.push(tf.memory().numTensors);
  };
  const { ms, cpuMsPerRun } = timeRuns(step, warmup, steps);
  const medianMs = median(ms);
  const row: ClipRow = {
    backend, warmup, steps, medianMs, minMs: Math.min(...ms), cpuMsPerStep: cpuMsPerRun, samplesPerSec: (BATCH * 1000) / medianMs,
    firstLoss: losses[0], lastLoss: losses[losses.length - 1], numTensors,
    flat: numTensors.every((n) => n === numTensors[0]), // Adam's moments exist from the end of step 1
  };
  if (profile) {
    const info = await tf.profile(clip.minimize);
    tf.dispose(info.result);
    const { byKernel, byShape } = kernelTimes(info);
    row.profile = byKernel;
    row.profileByShape = byShape;
  }
  clip.dispose();
  return row;
}

/** What {@link benchTorch} measured: the same CLIP step in PyTorch (bench/clip_step.py). */
interface TorchRow extends StepTiming {
  torch: string;
  threads: number;
}

/**
 * Section 3: bench/clip_step.py under Debian's python3-torch, run as DESIGN.md says (2 torch threads,
 * OPENBLAS_NUM_THREADS=1), in a child process.
 * @returns the measurement, or a string saying why it was skipped (no python3, no torch, script failure)
 */
function benchTorch(warmup: number, steps: number): TorchRow | string {
  const unavailable = torchUnavailable();
  if (unavailable) return unavailable;
  const script = path.join(__dirname, 'clip_step.py');
  const run = spawnSync(PYTHON, [script, '--threads', '2', '--warmup', String(warmup), '--steps', String(steps)], {
    encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1' },
  });
  if (run.status !== 0) return `${script} failed (exit ${run.status}): ${run.stderr.trim().split('\n').slice(-3).join(' | ')}`;
  const out = JSON.parse(run.stdout.trim().split('\n').pop()!) as { torch: string; threads: number; ms: number[]; cpu_ms: number[]; losses: number[] };
  const medianMs = median(out.ms);
  return {
    torch: out.torch, threads: out.threads, steps: out.ms.length, medianMs, minMs: Math.min(...out.ms),
    cpuMsPerStep: out.cpu_ms.reduce((a, b) => a + b, 0) / out.cpu_ms.length,
    samplesPerSec: (BATCH * 1000) / medianMs, firstLoss: out.losses[0], lastLoss: out.losses[out.losses.length - 1],
  };
}

/** What {@link benchRss} measured: resident set size over many CLIP steps. */
interface RssRow {
  backend: BackendName;
  steps: number;
  /** [step, RSS MB, numTensors] every `every` steps */
  samples: [number, number, number][];
  /** RSS growth from the first sample (after warm-up) to the last, MB */
  growthMB: number;
  msPerStep: number;
}

/** Section 4: RSS and tf.memory().numTensors over `steps` CLIP steps on the active backend (no growth expected). */
function benchRss(backend: BackendName, steps: number): RssRow {
  const clip = makeClipTrainer();
  const every = Math.max(1, Math.round(steps / 10));
  const samples: [number, number, number][] = [];
  const t0 = performance.now();
  for (let s = 1; s <= steps; s++) {
    clip.step();
    if (s % every === 0) samples.push([s, process.memoryUsage().rss / 2 ** 20, tf.memory().numTensors]);
  }
  const msPerStep = (performance.now() - t0) / steps;
  clip.dispose();
  return { backend, steps, samples, growthMB: samples[samples.length - 1][1] - samples[0][1], msPerStep };
}

/** What {@link benchTimeToAccuracy} measured on the demo config. */
interface TimeToAccuracyRow {
  config: string;
  target: number;
  /** training seconds (periodic evaluation excluded) when zero-shot top-1 first reached the target; null: never */
  seconds: number | null;
  step: number | null;
  /** [step, training seconds, zero-shot top-1] at each evaluation */
  curve: [number, number, number][];
  wallSeconds: number;
  samplesPerSecond: number;
}

/**
 * Section 5: time-to-accuracy of the demo (`mmzoo train configs/clip/fmnist-tiny.yaml` in a child process, on the
 * default backend, evaluating zero-shot top-1 every `evalEvery` steps): training seconds until zero-shot top-1 on
 * the 10,000 Fashion-MNIST test images first reaches `target`.
 */
function benchTimeToAccuracy(target: number, evalEvery: number): TimeToAccuracyRow | string {
  const config = 'configs/clip/fmnist-tiny.yaml';
  const root = path.join(__dirname, '..');
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'mmzoo-bench-demo-'));
  const run = spawnSync(process.execPath, [
    path.join(root, 'packages/cli/bin/mmzoo.js'), 'train', config, '--out', out, '--overwrite',
    '--set', `eval.every=${evalEvery}`, '--set', 'eval.retrievalGallery=0',
  ], { cwd: root, encoding: 'utf8', env: { ...process.env, CI: '1' } });
  if (run.status !== 0) return `demo run failed (exit ${run.status}): ${run.stderr.trim().split('\n').slice(-3).join(' | ')}`;
  const results = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')) as {
    train: { wallSeconds: number; samplesPerSecond: number };
    metrics: { zeroShot?: { top1: number } };
    history: { step: number; seconds?: number; metrics?: Record<string, number> }[];
  };
  fs.rmSync(out, { recursive: true, force: true });
  const curve: [number, number, number][] = results.history
    .filter((h) => h.metrics?.zeroShotTop1 !== undefined)
    .map((h) => [h.step, h.seconds ?? NaN, h.metrics!.zeroShotTop1]);
  const hit = curve.find(([, , top1]) => top1 >= target);
  return {
    config, target, seconds: hit ? hit[1] : null, step: hit ? hit[0] : null, curve,
    wallSeconds: results.train.wallSeconds, samplesPerSecond: results.train.samplesPerSecond,
  };
}

/** global.gc, exposed at run time when node was started without --expose-gc (V8 flag + a fresh context). */
function exposeGc(): (() => void) | undefined {
  const g = globalThis as { gc?: () => void };
  if (!g.gc) {
    try {
      v8.setFlagsFromString('--expose-gc');
      g.gc = vm.runInNewContext('gc') as () => void;
    } catch {
      /* measured without GC */
    }
  }
  return g.gc;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const cpus = os.cpus();
  const env: Record<string, string | number | boolean> = {
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    tfjs: tf.version_core,
  };
  const results: {
    env: typeof env; skipped?: string[]; matmul?: ReturnType<typeof benchMatmul>; clip: ClipRow[];
    torch?: TorchRow | string; rss?: RssRow; timeToAccuracy?: TimeToAccuracyRow | string; albefRss?: AlbefRssRow; lm?: LmResult;
  } = { env, clip: [] };

  // which of the requested backends load here (tensorflow and native are optional packages)
  const available: BackendName[] = [];
  const skipped: string[] = [];
  for (const name of args.backends) {
    try {
      await initBackend(name);
      available.push(name);
    } catch (e) {
      skipped.push(`${name} (${e instanceof Error ? e.message : e})`);
    }
  }
  env.backends = available.join(',');
  if (available.includes('wasm')) {
    await initBackend('wasm');
    env.wasmSimd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
    env.wasmThreads = Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'));
  }
  if (available.includes('native')) {
    env.native = nativeRuntime(); // loaded by initBackend above
  }
  console.log('mmzoo bench');
  console.log(Object.entries(env).map(([k, v]) => `${k}: ${v}`).join(' | '));
  for (const line of skipped) console.log(`skipped backend ${line}`);
  if (skipped.length) results.skipped = skipped;

  if (!args.only) {
    if (available.includes('wasm')) {
      await initBackend('wasm');
      console.log(`\n1. matmul [3200, 128] x [128, 512] on wasm (median of ${args.runs} runs after 3 warm-up)`);
      const mm = benchMatmul(args.runs);
      results.matmul = mm;
      console.log(table(
        ['path', 'MFLOP', 'ms', 'GFLOP/s', 'ms incl. dataSync', 'GFLOP/s incl. dataSync'],
        mm.rows.map((r) => [r.name, (r.flops / 1e6).toFixed(0), r.computeMs.toFixed(2), r.gflops.toFixed(1), r.withReadMs.toFixed(2), r.gflopsWithRead.toFixed(1)]),
      ));
      const verdict = (r: number) => `${r.toFixed(2)} (${r >= 0.5 ? 'meets' : 'FAILS'} >= 0.5)`;
      console.log(`GFLOP/s ratio core linear fwd+bwd / raw matmul: ${verdict(mm.ratio)}; incl. dataSync: ${verdict(mm.ratioWithRead)}`);
      console.log(`core linear fwd+bwd is ${(mm.rows[3].gflops / mm.rows[4].gflops).toFixed(1)}x the stock tfjs path`);
    }

    console.log(`\n2. CLIP step (small CLIP, batch ${BATCH}, Adam 1e-4, symmetric InfoNCE)`);
    for (const backend of available) {
      await initBackend(backend);
      const steps = backend === 'cpu' ? args.cpuSteps : args.steps;
      const warmup = backend === 'cpu' ? args.cpuWarmup : args.warmup;
      process.stdout.write(`  running on ${backend}: ${warmup} warm-up + ${steps} timed steps ...\n`);
      results.clip.push(await benchClip(backend, warmup, steps, args.profile));
    }
    console.log(table(
      ['backend', 'steps', 'ms/step', 'min ms', 'CPU ms/step', 'samples/s', 'loss first -> last', 'numTensors after each step', 'flat'],
      results.clip.map((r) => [
        r.backend, `${r.warmup}+${r.steps}`, r.medianMs.toFixed(0), r.minMs.toFixed(0), r.cpuMsPerStep.toFixed(0), r.samplesPerSec.toFixed(1),
        `${r.firstLoss.toFixed(4)} -> ${r.lastLoss.toFixed(4)}`, r.numTensors.join(','), r.flat ? 'yes' : 'NO',
      ]),
    ));
    console.log('reference (DESIGN.md, issue 8): PyTorch 1.13 + OpenBLAS ~275 samples/s (233 ms/step); tfjs wasm with explicit transposes ~50; stock tfjs wasm ~10; native feasibility study 368-435 ms/step');

    if (args.torch) {
      console.log(`\n3. the same CLIP step in PyTorch (bench/clip_step.py, ${PYTHON}, 2 torch threads, OPENBLAS_NUM_THREADS=1)`);
      const t = benchTorch(args.warmup, args.steps);
      results.torch = t;
      if (typeof t === 'string') console.log(`  skipped: ${t}`);
      else {
        console.log(`  torch ${t.torch}, ${t.threads} threads: ${args.warmup}+${t.steps} steps, median ${t.medianMs.toFixed(0)} ms/step (best ${t.minMs.toFixed(0)}, CPU ${t.cpuMsPerStep.toFixed(0)} ms/step), ${t.samplesPerSec.toFixed(1)} samples/s, loss ${t.firstLoss.toFixed(4)} -> ${t.lastLoss.toFixed(4)}`);
        console.log(table(
          ['backend', 'samples/s', 'x PyTorch (median steps)', 'x PyTorch (best steps)'],
          results.clip.map((r) => [r.backend, r.samplesPerSec.toFixed(1), (r.samplesPerSec / t.samplesPerSec).toFixed(2), (t.minMs / r.minMs).toFixed(2)]),
        ));
      }
    }

    if (args.rssSteps > 0 && available.includes('native')) {
      await initBackend('native');
      console.log(`\n4. RSS over ${args.rssSteps} CLIP steps on native`);
      const r = benchRss('native', args.rssSteps);
      results.rss = r;
      console.log(table(['step', 'RSS MB', 'numTensors'], r.samples.map(([st, mb, n]) => [st, mb.toFixed(0), n])));
      console.log(`  RSS growth from step ${r.samples[0][0]} to ${r.steps}: ${r.growthMB.toFixed(1)} MB; ${r.msPerStep.toFixed(0)} ms/step on average`);
    }

    if (args.demo) {
      console.log(`\n5. time-to-accuracy: configs/clip/fmnist-tiny.yaml (the demo) until zero-shot top-1 >= ${args.ttaTarget} (evaluated every ${args.ttaEvery} steps) ...`);
      const r = benchTimeToAccuracy(args.ttaTarget, args.ttaEvery);
      results.timeToAccuracy = r;
      if (typeof r === 'string') console.log(`  failed: ${r}`);
      else {
        console.log(table(['step', 'training s', 'zero-shot top-1'], r.curve.map(([st, sec, top1]) => [st, sec.toFixed(1), top1.toFixed(4)])));
        console.log(r.seconds === null
          ? `  never reached ${r.target} (best ${Math.max(...r.curve.map((c) => c[2])).toFixed(4)})`
          : `  reached ${r.target} at step ${r.step} after ${r.seconds.toFixed(1)} s of training; whole run ${r.wallSeconds.toFixed(0)} s wall, ${r.samplesPerSecond.toFixed(1)} samples/s`);
      }
    }
  }

  if (args.albefRss > 0) {
    const gc = exposeGc();
    for (const backend of available.filter((b) => b !== 'cpu')) {
      await initBackend(backend);
      console.log(`\n6. RSS over ${args.albefRss} training steps of a micro ALBEF on ${backend} (bench/albef-rss.ts; samples after ${gc ? 'a full GC' : 'no GC: run node with --expose-gc'})`);
      const r = benchAlbefRss(backend, args.albefRss, {
        onSample: (x) => process.stdout.write(`  step ${x.step}: RSS ${x.rssMB.toFixed(1)} MB\n`),
      });
      results.albefRss = r;
      const pooled = r.samples[0].poolMisses !== undefined;
      console.log(table(
        ['step', 'RSS MB before GC', 'RSS MB', 'heapUsed MB', 'external MB', 'arrayBuffers MB', 'numTensors', 'numBytes', ...(pooled ? ['pool misses', 'pooled MB'] : [])],
        r.samples.map((x) => [
          x.step, x.rssBeforeGcMB.toFixed(1), x.rssMB.toFixed(1), x.heapUsedMB.toFixed(1), x.externalMB.toFixed(1), x.arrayBuffersMB.toFixed(1), x.numTensors, x.numBytes,
          ...(pooled ? [x.poolMisses!, x.pooledMB!.toFixed(1)] : []),
        ]),
      ));
      console.log(`  slope after step ${r.warmup}: RSS ${r.rssSlope.toFixed(2)} MB / 1,000 steps${r.gc ? ` after GC, ${r.rssBeforeGcSlope.toFixed(2)} before GC` : ''} (heapUsed ${r.heapSlope.toFixed(2)}, external ${r.externalSlope.toFixed(2)}); `
        + `numTensors ${r.tensorsFlat ? 'flat' : 'NOT flat'}; registered variables ${r.variables[0]} -> ${r.variables[1]}; `
        + `${r.msPerStep.toFixed(1)} ms/step; loss ${r.firstLoss.toFixed(3)} -> ${r.lastLoss.toFixed(3)}`);
    }
  }

  if (args.lm) {
    const backends = available.filter((b) => b !== 'cpu'); // the pure-JS backend would take hours
    const o = args.lmOptions;
    console.log(`\n7. LLaMA training and generation tokens/s (bench/lm.ts) on ${backends.join(', ') || 'no tfjs backend'}${args.torch ? ' and PyTorch (bench/lm_step.py)' : ''}: `
      + `${o.rounds} rounds of ${o.stepsPerRound} steps per runner after ${o.warmup} warm-up steps, runners alternated; generation: ${o.promptLen}-token prompts, ${o.newTokens} new tokens`);
    results.lm = await benchLm({ ...o, backends, torch: args.torch, profile: args.profile, log: (line) => console.log(line) });
    console.log(lmTables(results.lm));
  }

  for (const r of results.clip) {
    if (!r.profile) continue;
    const total = r.profile.reduce((a, k) => a + k.ms, 0);
    console.log(`\nprofiled step on ${r.backend}: ${total.toFixed(0)} ms in ${r.profile.reduce((a, k) => a + k.calls, 0)} kernel calls; top kernels:`);
    const rows = (ks: KernelTime[]) => ks.map((k) => [k.kernel, k.calls, k.ms.toFixed(1), ((100 * k.ms) / total).toFixed(1)]);
    console.log(table(['kernel', 'calls', 'ms', '%'], rows(r.profile.slice(0, 12))));
    console.log(table(['kernel and input shapes', 'calls', 'ms', '%'], rows(r.profileByShape!.slice(0, 12))));
  }

  if (args.json) {
    fs.writeFileSync(args.json, JSON.stringify(results, null, 2) + '\n');
    console.log(`\nwrote ${args.json}`);
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
