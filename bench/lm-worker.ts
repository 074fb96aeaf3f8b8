/**
 * The mmzoo side of the LM benchmark (bench/lm.ts): a LLaMA from @mmzoo/lm on one tfjs backend, serving the line
 * protocol of bench/lm-protocol.ts on stdin / stdout. Started by the coordinator as
 *
 *   node --require tsx/cjs bench/lm-worker.ts BACKEND
 *
 * A training step is @mmzoo/train's `trainStep` (the step `mmzoo train` takes: loss, gradients, clipping, AdamW);
 * a generation step is one call of {@link generateTokens}.
 */
import * as readline from 'readline';
import { performance } from 'perf_hooks';
import { tf, greedyGenerate, manualSeed } from '@mmzoo/core';
import type { Batch } from '@mmzoo/core';
import { buildLlama, Llama, LlamaConfigSchema } from '@mmzoo/lm';
import { AdamW, initBackend, parseBackendName, trainStep } from '@mmzoo/train';
import { BATCH_SEED, PROMPT_SEED, lcgTokens } from './lm-protocol';
import type { LlamaSizes, LmReply, LmRequest, LmTask, RunReply } from './lm-protocol';
import { kernelTimes } from './profile';
import { nativeRuntime } from './native-runtime';
import type { ProfileInfo } from './profile';

/**
 * The one generation call of the benchmark: greedy decoding of `prompts` for `newTokens` tokens, with or without the
 * KV cache (core `greedyGenerate`; a fuller generation engine keeping a `useCache` option replaces it here alone).
 * @returns the prompts followed by the generated ids
 */
function generateTokens(model: Llama, prompts: number[][], newTokens: number, useCache: boolean): number[][] {
  return greedyGenerate(model, prompts, { maxNewTokens: newTokens, useCache }).ids;
}

/** A task ready to step: `step` runs one timed step and returns its loss (NaN for generation). */
interface Ready {
  step: () => number;
  /** one training step under tf.profile (training only) */
  profile?: () => Promise<ProfileInfo>;
  dispose: () => void;
}

/**
 * The model of `llama` sizes, seeded, with llama2.c's tied output (the stories15M layout): @mmzoo/lm's buildLlama,
 * what buildLm and the llama spec build for a LLaMA config (a Llama, whose trainingLoss the step needs).
 */
function buildModel(llama: LlamaSizes): Llama {
  manualSeed(0);
  return buildLlama(LlamaConfigSchema.parse({ name: 'llama', ...llama, tiedEmbeddings: true, ropeLayout: 'interleaved' }));
}

/** Builds the model and the fixed inputs of `task`. */
function prepare(llama: LlamaSizes, task: LmTask): { model: Llama; ready: Ready } {
  const model = buildModel(llama);
  if (task.kind === 'generate') {
    const flat = lcgTokens(task.batch * task.promptLen, llama.vocabSize, PROMPT_SEED);
    const prompts = Array.from({ length: task.batch }, (_, r) => flat.slice(r * task.promptLen, (r + 1) * task.promptLen));
    return {
      model,
      ready: {
        step: () => {
          generateTokens(model, prompts, task.newTokens, task.useCache);
          return NaN;
        },
        dispose: () => model.dispose(),
      },
    };
  }
  const { batch: B, seqLen: T } = task;
  const ids = lcgTokens(B * (T + 1), llama.vocabSize, BATCH_SEED);
  const rows = Array.from({ length: B }, (_, r) => ids.slice(r * (T + 1), (r + 1) * (T + 1)));
  const batch: Batch = {
    text: tf.tensor2d(rows.map((r) => r.slice(0, T)), [B, T], 'int32'),
    labels: tf.tensor2d(rows.map((r) => r.slice(1)), [B, T], 'int32'),
    index: 0,
    seed: 0,
  };
  const opt = new AdamW(model.trainableParameters(), { betas: task.betas, eps: task.eps, weightDecay: task.weightDecay });
  const loss = (b: Batch) => model.trainingLoss(b);
  return {
    model,
    ready: {
      step: () => trainStep(model, opt, [batch], loss, task.lr, task.clip).loss,
      profile: () => tf.profile(() => {
        trainStep(model, opt, [batch], loss, task.lr, task.clip);
      }),
      dispose: () => {
        opt.dispose();
        tf.dispose([batch.text!, batch.labels!]);
        model.dispose();
      },
    },
  };
}

/** Runs `steps` timed steps: wall and process CPU milliseconds of each, and the losses. */
function runSteps(ready: Ready, steps: number): RunReply {
  const ms: number[] = [];
  const cpuMs: number[] = [];
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const loss = ready.step();
    ms.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpuMs.push((c.user + c.system) / 1000);
    if (!Number.isNaN(loss)) losses.push(loss);
  }
  return { ms, cpuMs, losses, numTensors: tf.memory().numTensors };
}

async function main(): Promise<void> {
  const backend = parseBackendName(process.argv[2] ?? '', 'bench/lm-worker.ts BACKEND');
  await initBackend(backend);
  const runtime = backend === 'native' ? `native (${nativeRuntime()})` : backend;
  let current: { model: Llama; ready: Ready } | undefined;
  const reply = (r: LmReply) => process.stdout.write(`${JSON.stringify(r)}\n`);
  const handle = async (req: LmRequest): Promise<LmReply> => {
    switch (req.op) {
      case 'setup': {
        current?.ready.dispose();
        current = undefined;
        current = prepare(req.llama, req.task);
        for (let i = 0; i < req.warmup; i++) current.ready.step();
        return { params: current.model.numParams(), runtime };
      }
      case 'run':
        if (!current) throw new Error('run before setup');
        return runSteps(current.ready, req.steps);
      case 'profile': {
        if (!current?.ready.profile) throw new Error('profile needs a training task set up');
        const t0 = performance.now();
        const info = await current.ready.profile();
        const wallMs = performance.now() - t0;
        return { wallMs, ...kernelTimes(info) };
      }
      case 'exit':
        current?.ready.dispose();
        process.exit(0);
    }
  };
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (!line.trim()) continue;
    try {
      reply(await handle(JSON.parse(line) as LmRequest));
    } catch (e) {
      reply({ error: (e instanceof Error ? e.message : String(e)).split('\n')[0] });
    }
  }
  current?.ready.dispose();
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
