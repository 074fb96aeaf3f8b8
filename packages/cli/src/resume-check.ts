/**
 * What `--resume` compares between the checkpoint's config and the config given now: everything that changes
 * what the resumed steps compute (the model, the data, the stages, the frozen parts, and the optimisation settings of
 * `train:`). Logging, checkpoint frequency, evaluation and runtime settings may change freely, and so may `init:`,
 * which a resumed run does not apply (the checkpoint's weights win).
 */
const TRAIN_KEYS = ['batchSize', 'accumSteps', 'lr', 'minLr', 'warmupSteps', 'steps', 'seed', 'betas', 'eps', 'weightDecay', 'gradClipNorm'] as const;

function show(v: unknown): string {
  if (v === undefined) return '(unset)';
  const s = JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/** Leaf-by-leaf differences of two JSON values as `path: old -> new`. */
function diffValues(a: unknown, b: unknown, at: string, out: string[]): void {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) diffValues(a[k], b[k], at ? `${at}.${k}` : k, out);
    return;
  }
  if (JSON.stringify(a) !== JSON.stringify(b)) out.push(`${at}: ${show(a)} -> ${show(b)}`);
}

/**
 * The settings in which `now` differs from the config stored in a checkpoint (`then`), as `path: old -> new`
 * strings, e.g. `train.lr: 0.001 -> 0.0003`: `model`, `data`, `stages`, `frozen` and the optimisation keys of `train`
 * (batch size, accumulation, learning rate and its schedule, warmup, steps, seed, AdamW settings, clipping).
 * @returns an empty list when the resumed run continues the same experiment
 */
export function resumeDifferences(then: object, now: object): string[] {
  const out: string[] = [];
  const pick = (config: object) => {
    const c: Record<string, unknown> = JSON.parse(JSON.stringify(config));
    const t = (c.train ?? {}) as Record<string, unknown>;
    return { model: c.model, data: c.data, stages: c.stages, frozen: c.frozen, train: Object.fromEntries(TRAIN_KEYS.map((k) => [k, t[k]])) };
  };
  diffValues(JSON.parse(JSON.stringify(pick(then))), JSON.parse(JSON.stringify(pick(now))), '', out);
  return out;
}
