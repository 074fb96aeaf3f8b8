/**
 * `npm run bench`: throughput of core's matmul path and of the benchmark CLIP training step (DESIGN.md,
 * "Backend facts": "the small CLIP").
 *
 *   npx tsx bench/run.ts [--backends wasm,cpu] [--steps 10] [--warmup 2] [--cpu-steps 1] [--cpu-warmup 0] [--runs 20] [--profile] [--json PATH]
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
 * `--profile` adds one profiled CLIP step per backend (tf.profile) and prints the kernels that take the most time.
 * `--backends` defaults to every backend that loads (tensorflow > native > wasm > cpu); the others are listed as skipped.
 * Prints a table; `--json PATH` also writes the numbers as JSON.
 */
import * as fs from 'fs';
import * as os from 'os';
import { performance } from 'perf_hooks';
import { tf, initBackend, linear, manualSeed, AdamW, BACKEND_NAMES, BackendName, parseBackendName } from '@mmzoo/core';
import type { Tensor, Tensor2D } from '@mmzoo/core';
import { buildClip } from '@mmzoo/clip';

interface Args {
  backends: BackendName[];
  steps: number;
  warmup: number;
  cpuSteps: number;
  cpuWarmup: number;
  runs: number;
  profile: boolean;
  json?: string;
}

const USAGE = 'usage: tsx bench/run.ts [--backends wasm,cpu] [--steps N] [--warmup N] [--cpu-steps N] [--cpu-warmup N] [--runs N] [--profile] [--json PATH]';

function parseArgs(argv: string[]): Args {
  const args: Args = { backends: [...BACKEND_NAMES], steps: 10, warmup: 2, cpuSteps: 1, cpuWarmup: 0, runs: 20, profile: false };
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
    if (flag === '--backends') args.backends = value().split(',').filter(Boolean).map((b) => parseBackendName(b, '--backends'));
    else if (flag === '--steps') args.steps = count(1);
    else if (flag === '--warmup') args.warmup = count(0);
    else if (flag === '--cpu-steps') args.cpuSteps = count(1);
    else if (flag === '--cpu-warmup') args.cpuWarmup = count(0);
    else if (flag === '--runs') args.runs = count(1);
    else if (flag === '--json') args.json = value();
    else if (flag === '--profile') args.profile = true;
    else if (flag === '--help' || flag === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown argument '${flag}'\n${USAGE}`);
  }
  return args;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
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

function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, j) => Math.max(...cells.map((r) => r[j].length)));
  const line = (r: string[]) => r.map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  ');
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
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

interface ClipRow {
  backend: BackendName;
  warmup: number;
  steps: number;
  medianMs: number;
  minMs: number;
  /** process CPU time per step (all threads), ms */
  cpuMsPerStep: number;
  samplesPerSec: number;
  firstLoss: number;
  lastLoss: number;
  numTensors: number[];
  flat: boolean;
  profile?: KernelTime[];
  /** the same profile grouped by kernel and input shapes */
  profileByShape?: KernelTime[];
}

interface KernelTime {
  kernel: string;
  calls: number;
  ms: number;
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

/** Section 2: the benchmark CLIP step on the active backend (plus, with `profile`, one profiled step). */
async function benchClip(backend: BackendName, warmup: number, steps: number, profile: boolean): Promise<ClipRow> {
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
  const losses: number[] = [];
  const numTensors: number[] = [];
  // loss, gradients and one Adam update (returns the loss tensor)
  const minimize = (): tf.Tensor => {
    const { value, grads } = tf.variableGrads(() => model.loss(images, ids).total as tf.Scalar, vars);
    opt.apply(new Map(names.map((n, i) => [n, grads[vars[i].name]])), 1e-4);
    tf.dispose(Object.values(grads));
    return value;
  };
  const step = () => {
    const cost = minimize();
    losses.push(cost.dataSync()[0]);
    cost.dispose();
    model.afterOptimizerStep();
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
    const info = await tf.profile(minimize);
    tf.dispose(info.result);
    const byKernel = new Map<string, KernelTime>();
    const byShape = new Map<string, KernelTime>();
    const add = (map: Map<string, KernelTime>, key: string, ms: number) => {
      const e = map.get(key) ?? { kernel: key, calls: 0, ms: 0 };
      e.calls++;
      e.ms += ms;
      map.set(key, e);
    };
    // customGrad ops appear as scopes ('unnamed scope' forward, 'backward') whose time includes their kernels
    for (const k of info.kernels.filter((e) => e.name !== 'unnamed scope' && e.name !== 'backward')) {
      const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      add(byKernel, k.name, ms);
      const shapes = k.inputShapes.map((sh) => `[${sh}]`);
      // a fused multi-tensor kernel (MmzooAdamW) has hundreds of inputs: keep the key short
      add(byShape, `${k.name} ${shapes.slice(0, 4).join(' ')}${shapes.length > 4 ? ` +${shapes.length - 4} inputs` : ''}`, ms);
    }
    row.profile = [...byKernel.values()].sort((a, b) => b.ms - a.ms);
    row.profileByShape = [...byShape.values()].sort((a, b) => b.ms - a.ms);
  }
  opt.dispose();
  tf.dispose([images, ids]);
  model.dispose();
  return row;
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
  const results: { env: typeof env; skipped?: string[]; matmul?: ReturnType<typeof benchMatmul>; clip: ClipRow[] } = { env, clip: [] };

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
    // thread settings and OpenBLAS kernel set of @mmzoo/backend-native (loaded by initBackend above)
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const t = require('@mmzoo/backend-native').nativeThreads() as { threads: number; blasThreads: number; blasCore: string };
    env.native = `${t.threads} pool threads, ${t.blasThreads} BLAS thread(s), OpenBLAS ${t.blasCore}`;
  }
  console.log('mmzoo bench');
  console.log(Object.entries(env).map(([k, v]) => `${k}: ${v}`).join(' | '));
  for (const line of skipped) console.log(`skipped backend ${line}`);
  if (skipped.length) results.skipped = skipped;

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
