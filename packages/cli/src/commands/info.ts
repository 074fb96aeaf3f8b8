import { readFileSync } from 'fs';
import {
  initBackend, stageParameterNames, loadSessionData, buildParts, openTokenizers, configPlace,
  frozenParameterNames,
} from '@mmzoo/train';
import { BuildParts, componentCounts, withShapesOnly } from '@mmzoo/core';
import { checkConfigFile, loadExperiment, LoadedExperiment } from '../experiment';
import { MODELS } from '../specs';
import { existingInitTokenizers } from '../init';

/** Parameter counts of a model: per component and in all, per stage, and what `frozen:` holds fixed. */
export interface ParameterCounts {
  /** trainable parameters per component (frozen ones included) */
  towers: Record<string, number>;
  total: number;
  /** [stage name, parameters it trains] */
  stages: [string, number][];
  /** with `frozen:`: the frozen parameters per component and in all */
  frozen?: { towers: Record<string, number>; total: number };
}

/**
 * Parameter counts of the model a config describes, from a shape-only build (core `withShapesOnly`: parameters
 * are recorded by shape, no weights are allocated, so a paper-size preset counts in milliseconds).
 * @throws ConfigError for a `frozen:` entry or a stage pattern that selects no trainable parameter
 */
export function countParameters(loaded: LoadedExperiment, ctx: BuildParts = {}): ParameterCounts {
  const model = withShapesOnly(() => loaded.spec.build(loaded.config.model, ctx));
  try {
    const components = loaded.spec.components(loaded.config.model);
    const frozen = new Set(frozenParameterNames(model.namedParameters(), components, loaded.config.frozen, (p) => configPlace(loaded.config, p)));
    // each stage's trainable/frozen patterns resolved against the built model (a pattern matching nothing throws)
    const params = model.trainableParameters();
    const free = [...params.keys()].filter((n) => !frozen.has(n));
    const stages = (loaded.config.stages ?? []).map((st, i): [string, number] => {
      const names = stageParameterNames(free, st, ['stages', i]);
      return [st.name, names.reduce((a, n) => a + params.get(n)!.size, 0)];
    });
    const counts: ParameterCounts = { towers: componentCounts(model, components), total: model.numParams(), stages };
    if (frozen.size) counts.frozen = { towers: componentCounts(model, components, (n) => frozen.has(n)), total: [...frozen].reduce((a, n) => a + params.get(n)!.size, 0) };
    return counts;
  } finally {
    model.dispose();
  }
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, j) => Math.max(...rows.map((r) => r[j].length)));
  return rows.map((r) => r.map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  ')).join('\n') + '\n';
}

/**
 * `mmzoo info CONFIG`: validates the `model:` section and prints the trainable parameter count per tower and the
 * total, with `frozen:` how many of them are trainable and how many frozen (per tower and in all), and for a
 * `stages:` list how many parameters each stage trains (its patterns resolved on the model, frozen ones left out).
 * `mmzoo info --all`: the same for every paper-size preset (each spec's `presets`; the published figure from its `reference:` section where the paper gives one) in one table beside
 * the published figure; a preset with `frozen:` is counted by its trainable parameters (BLIP-2's 188M are its Q-Former's). Counts come from a shape-only build (no weights allocated: well under a
 * second and a few MB for a paper-size preset).
 * @throws ConfigError for an invalid config
 */
export async function infoCommand(configFile: string | undefined, opts: { set?: string[]; all?: boolean }): Promise<number> {
  await initBackend('cpu');
  if (opts.all) {
    const rows = [['config', 'model', 'parameters', 'published', 'difference', 'source']];
    const notes: string[] = [];
    // every model's paper-size presets, as its spec lists them (paths from the repository root)
    for (const f of Object.values(MODELS).flatMap((spec) => spec.presets)) {
      const loaded = loadExperiment(f, [], { modelOnly: true, checkMemory: false });
      const ref = loaded.config.reference;
      // a preset with `frozen:` is compared by what it trains (BLIP-2 publishes its Q-Former's size, not the frozen ViT's)
      const counts = countParameters(loaded);
      const total = counts.total - (counts.frozen?.total ?? 0);
      if (!ref) {
        // a preset whose paper publishes no total (its header comment gives the parts)
        rows.push([f, loaded.config.model.name, total.toLocaleString('en-US'), 'none published', '', '']);
        continue;
      }
      const diff = total - ref.params;
      rows.push([f, loaded.config.model.name, total.toLocaleString('en-US'), ref.params.toLocaleString('en-US'), `${diff >= 0 ? '+' : ''}${diff.toLocaleString('en-US')} (${((100 * diff) / ref.params).toFixed(1)}%)`, ref.source]);
      if (ref.note) notes.push(`${f}: ${ref.note}`);
    }
    process.stdout.write(table(rows) + (notes.length ? `\n${notes.join('\n')}\n` : ''));
    return 0;
  }
  if (!configFile) throw new Error('info: give a CONFIG file or --all');
  checkConfigFile(configFile);
  // a full experiment (with train:) is validated whole; its vocabulary comes from the tokenizer of its data
  const full = /^train:/m.test(readFileSync(configFile, 'utf8'));
  // a preset (no train:) is only counted, never built, so it may be larger than this machine's memory; a config
  // to train here is refused as `mmzoo train` would refuse it
  const loaded = loadExperiment(configFile, opts.set ?? [], { modelOnly: !full, checkMemory: full });
  let ctx: BuildParts = {};
  if (full) {
    const cfg = loaded.config;
    const data = await loadSessionData(cfg.data, loaded.spec.inputs(cfg.model), cfg.data.seed ?? cfg.train.seed, loaded.spec.name);
    // a tokenizer of kind init is the one of an init: run that exists already (nothing is trained to count)
    ctx = buildParts(openTokenizers(loaded.spec, cfg, data, undefined, undefined, await existingInitTokenizers(loaded)));
  }
  const { towers, total, stages, frozen } = countParameters(loaded, ctx);
  const n = (v: number) => v.toLocaleString('en-US');
  const rows: [string, string][] = [['model', `${loaded.config.model.name} (${loaded.file})`]];
  for (const [k, v] of Object.entries(towers)) {
    const f = frozen?.towers[k] ?? 0;
    rows.push([`  ${k}`, f ? `${n(v)} (trainable ${n(v - f)}, frozen ${n(f)})` : n(v)]);
  }
  rows.push(['total parameters', n(total)]);
  if (frozen) rows.push(['  trainable', n(total - frozen.total)], ['  frozen', `${n(frozen.total)} (frozen: ${loaded.config.frozen!.join(', ')})`]);
  for (const [name, n] of stages) rows.push([`stage ${name} trains`, `${n.toLocaleString('en-US')} (frozen ${(total - n).toLocaleString('en-US')})`]);
  if (loaded.config.reference) rows.push(['published', `${loaded.config.reference.params.toLocaleString('en-US')} (${loaded.config.reference.source})`]);
  const w = Math.max(...rows.map(([k]) => k.length));
  process.stdout.write(rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n') + '\n');
  return 0;
}
