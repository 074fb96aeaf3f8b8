import { alternation, summarizeSteps } from '../../bench/lm-schedule';

const TORCH = ['t11', 't12', 't21', 't22'];

/** Timed steps per runner over a schedule. */
function totals(slots: { runner: string; steps: number }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of slots) out[s.runner] = (out[s.runner] ?? 0) + s.steps;
  return out;
}

describe('alternation (bench/lm-schedule.ts)', () => {
  it('alternates one mmzoo runner with four torch settings and splits its steps over its turns', () => {
    const slots = alternation(['native'], TORCH, 2, 5);
    // one round: native, t11, native, t12, native, t21, native, t22; native's 5 steps as 2 + 1 + 1 + 1
    const round = [
      { runner: 'native', steps: 2 }, { runner: 't11', steps: 5 }, { runner: 'native', steps: 1 }, { runner: 't12', steps: 5 },
      { runner: 'native', steps: 1 }, { runner: 't21', steps: 5 }, { runner: 'native', steps: 1 }, { runner: 't22', steps: 5 },
    ];
    expect(slots).toEqual([...round, ...round]);
    expect(totals(slots)).toEqual({ native: 10, t11: 10, t12: 10, t21: 10, t22: 10 });
  });

  it('never puts two mmzoo or two torch turns in a row when both sides have runners', () => {
    const slots = alternation(['native', 'wasm'], TORCH, 3, 4);
    const side = (r: string) => (TORCH.includes(r) ? 'torch' : 'mmzoo');
    slots.forEach((s, i) => {
      if (i > 0) expect(side(s.runner)).not.toBe(side(slots[i - 1].runner));
    });
    expect(slots.slice(0, 8).map((s) => s.runner)).toEqual(['native', 't11', 'wasm', 't12', 'native', 't21', 'wasm', 't22']);
    expect(totals(slots)).toEqual({ native: 12, wasm: 12, t11: 12, t12: 12, t21: 12, t22: 12 });
  });

  it('drops turns left without a step and runs one side alone when the other is empty', () => {
    // 1 step over 4 turns: only the first turn of the round keeps it
    expect(alternation(['native'], TORCH, 1, 1).filter((s) => s.runner === 'native')).toEqual([{ runner: 'native', steps: 1 }]);
    expect(alternation(['native', 'wasm'], [], 2, 3)).toEqual([
      { runner: 'native', steps: 3 }, { runner: 'wasm', steps: 3 }, { runner: 'native', steps: 3 }, { runner: 'wasm', steps: 3 },
    ]);
  });

  it('rejects no runners, repeated names and bad counts', () => {
    expect(() => alternation([], [], 1, 1)).toThrow('alternation: no runner');
    expect(() => alternation(['native'], ['native'], 1, 1)).toThrow('runner names repeat: native, native');
    expect(() => alternation(['native'], [], 0, 1)).toThrow('rounds must be an integer >= 1, got 0');
    expect(() => alternation(['native'], [], 1, 2.5)).toThrow('stepsPerRound must be an integer >= 1, got 2.5');
  });
});

describe('summarizeSteps (bench/lm-schedule.ts)', () => {
  it('takes medians and converts the median step to tokens per second', () => {
    // wall [30, 10, 20, 40]: median 25 ms, best 10; CPU [5, 7, 9, 100]: median 8; 4096 tokens / 25 ms = 163,840 tokens/s
    expect(summarizeSteps([30, 10, 20, 40], [5, 100, 7, 9], 4096)).toEqual({ steps: 4, medianMs: 25, minMs: 10, cpuMs: 8, tokensPerSec: 163840 });
    expect(summarizeSteps([7, 3, 5], [1, 1, 1], 8).medianMs).toBe(5);
  });

  it('rejects no steps and mismatched lists', () => {
    expect(() => summarizeSteps([], [], 1)).toThrow('summarizeSteps: no steps');
    expect(() => summarizeSteps([1, 2], [1], 1)).toThrow('2 wall times but 1 CPU times');
  });
});
