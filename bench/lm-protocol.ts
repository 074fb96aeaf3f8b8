/**
 * The line protocol between the LM benchmark's coordinator (bench/lm.ts) and its workers: bench/lm-worker.ts (mmzoo
 * on one tfjs backend) and bench/lm_step.py (PyTorch). Each request is one JSON line on the worker's stdin, each
 * reply one JSON line on its stdout; a worker serves requests until `exit` or the end of its input.
 *
 * - `setup`: build a model of `llama` sizes with random weights (seed 0) for one task, then run `warmup` untimed
 *   steps. Task `train`: one step is forward + backward + gradient clipping to norm `clip` + one AdamW update (`lr`,
 *   `betas`, `eps`, `weightDecay` on matrices other than the embedding) on a fixed random batch of `batch` rows of
 *   `seqLen` tokens, the causal-LM loss of each position against the next token. Task `generate`: one step is a
 *   greedy generation of `newTokens` tokens after a fixed random prompt of `promptLen` tokens per row, `batch` rows,
 *   with or without the KV cache.
 * - `run`: `steps` timed steps of the task set up last.
 * - `profile` (mmzoo only): one training step under tf.profile, its kernels summed by name.
 * - `exit`: the worker disposes what it holds and exits.
 */
import type { LlamaOptions } from '@mmzoo/lm';
import type { KernelTime } from './profile';

/**
 * LLaMA sizes, every one resolved (@mmzoo/lm's LlamaOptions; the workers build llama2.c's layout: interleaved RoPE,
 * output tied to the token embedding).
 */
export type LlamaSizes = Omit<LlamaOptions, 'ropeLayout' | 'tiedEmbeddings'>;

/** The optimizer of a training step (torch.optim.AdamW terms). */
export interface TrainHyper {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  /** global gradient norm clip (torch `clip_grad_norm_`) */
  clip: number;
}

/** What one timed step does: a training step, or one greedy generation. */
export type LmTask =
  | ({ kind: 'train'; batch: number; seqLen: number } & TrainHyper)
  | { kind: 'generate'; batch: number; promptLen: number; newTokens: number; useCache: boolean };

/** A request to a worker. */
export type LmRequest =
  | { op: 'setup'; llama: LlamaSizes; task: LmTask; warmup: number }
  | { op: 'run'; steps: number }
  | { op: 'profile' }
  | { op: 'exit' };

/** The reply to `setup`. */
export interface SetupReply {
  /** parameters of the built model (tied output counted once) */
  params: number;
  /** what the worker runs on, e.g. `native` or `torch 1.13.0 threads 1 OPENBLAS_NUM_THREADS 2` */
  runtime: string;
}

/** The reply to `run`. */
export interface RunReply {
  /** wall milliseconds of each timed step */
  ms: number[];
  /** process CPU milliseconds (all threads) of each timed step */
  cpuMs: number[];
  /** training: the loss before each step's update; generation: none */
  losses: number[];
  /** mmzoo: tf.memory().numTensors after the steps (flat across runs when nothing leaks) */
  numTensors?: number;
}

/** The reply to `profile`. */
export interface ProfileReply {
  /** wall milliseconds of the profiled step (profiling adds its own cost) */
  wallMs: number;
  /** kernels by total time, largest first */
  byKernel: KernelTime[];
  /** the same, keyed by kernel and input shapes */
  byShape: KernelTime[];
}

/** Any reply; a failed request answers `{ error }` (one line) and the worker keeps serving. */
export type LmReply = SetupReply | RunReply | ProfileReply | { error: string };

/**
 * `count` token ids in [0, vocabSize) from the Park-Miller generator (s = 48271 s mod 2^31 - 1, exact in doubles),
 * so that the mmzoo and PyTorch workers draw the same batch and prompts (bench/lm_step.py `lcg_tokens`).
 * @param seed a start state in [1, 2^31 - 2]
 */
export function lcgTokens(count: number, vocabSize: number, seed: number): number[] {
  const m = 2147483647;
  let s = seed;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    s = (s * 48271) % m;
    out.push(Math.floor((s / m) * vocabSize));
  }
  return out;
}

/** The start states of the training batch and of the prompts. */
export const BATCH_SEED = 12345;
export const PROMPT_SEED = 777;
