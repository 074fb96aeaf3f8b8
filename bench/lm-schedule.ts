/**
 * The order in which the LM benchmark (bench/lm.ts) gives its workers the machine, and what their step times come
 * to: pure bookkeeping, tested in tests/bench/lm-schedule.test.ts.
 */
import { median } from './stats';

/** One turn of a worker: `steps` timed steps in a row. */
export interface Slot {
  runner: string;
  steps: number;
}

/**
 * The turns of `rounds` rounds in which mmzoo and PyTorch workers alternate (mmzoo, torch, mmzoo, torch, ...), so that
 * the load of a shared machine falls on both alike. Each round interleaves the two lists, the shorter one cycled
 * (one mmzoo backend against four torch settings: native, t1, native, t2, native, t3, native, t4), and splits each
 * runner's `stepsPerRound` steps over its turns in that round as evenly as it can, earlier turns taking the
 * remainder; a turn left with no step is dropped. Every runner gets `rounds * stepsPerRound` steps in all.
 * @param mmzoo mmzoo runner names (e.g. backends); @param torch PyTorch runner names; either may be empty, not both
 * @throws Error when both lists are empty, a name repeats, or rounds / stepsPerRound is not an integer >= 1
 */
export function alternation(mmzoo: string[], torch: string[], rounds: number, stepsPerRound: number): Slot[] {
  const names = [...mmzoo, ...torch];
  if (names.length === 0) throw new Error('alternation: no runner');
  if (new Set(names).size !== names.length) throw new Error(`alternation: runner names repeat: ${names.join(', ')}`);
  for (const [what, n] of [['rounds', rounds], ['stepsPerRound', stepsPerRound]] as const) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`alternation: ${what} must be an integer >= 1, got ${n}`);
  }
  const turns: string[] = [];
  const longest = Math.max(mmzoo.length, torch.length);
  for (let i = 0; i < longest; i++) {
    if (mmzoo.length) turns.push(mmzoo[i % mmzoo.length]);
    if (torch.length) turns.push(torch[i % torch.length]);
  }
  const count = new Map<string, number>();
  for (const r of turns) count.set(r, (count.get(r) ?? 0) + 1);
  const round: Slot[] = [];
  const seen = new Map<string, number>();
  for (const runner of turns) {
    const k = seen.get(runner) ?? 0;
    seen.set(runner, k + 1);
    const n = count.get(runner)!;
    const steps = Math.floor(stepsPerRound / n) + (k < stepsPerRound % n ? 1 : 0);
    if (steps > 0) round.push({ runner, steps });
  }
  return Array.from({ length: rounds }, () => round.map((s) => ({ ...s }))).flat();
}

/** What one runner's timed steps of one task come to. */
export interface StepSummary {
  steps: number;
  /** median and fastest wall milliseconds per step */
  medianMs: number;
  minMs: number;
  /** median process CPU milliseconds per step (all threads) */
  cpuMs: number;
  /** tokens per second at the median step: tokensPerStep * 1000 / medianMs */
  tokensPerSec: number;
}

/**
 * Summarises the step times of one runner.
 * @param ms wall milliseconds per step (non-empty); @param cpuMs CPU milliseconds per step, as many
 * @param tokensPerStep tokens one step processes (training: batch x sequence; generation: batch x new tokens)
 * @throws Error for no steps or lists of different lengths
 */
export function summarizeSteps(ms: number[], cpuMs: number[], tokensPerStep: number): StepSummary {
  if (ms.length === 0) throw new Error('summarizeSteps: no steps');
  if (cpuMs.length !== ms.length) throw new Error(`summarizeSteps: ${ms.length} wall times but ${cpuMs.length} CPU times`);
  const medianMs = median(ms);
  return { steps: ms.length, medianMs, minMs: Math.min(...ms), cpuMs: median(cpuMs), tokensPerSec: (tokensPerStep * 1000) / medianMs };
}
