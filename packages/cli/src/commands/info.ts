import { readFileSync } from 'fs';
import { initBackend, manualSeed } from '@mmzoo/core';
import { loadExperiment, LoadedExperiment } from '../experiment';
import { listConfigFiles } from './configs';

function count(loaded: LoadedExperiment): { towers: Record<string, number>; total: number } {
  manualSeed(0);
  const model = loaded.entry.build(loaded.config.model, {});
  const out = { towers: loaded.entry.towers(model), total: model.numParams() };
  model.dispose();
  return out;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, j) => Math.max(...rows.map((r) => r[j].length)));
  return rows.map((r) => r.map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  ')).join('\n') + '\n';
}

/**
 * `mmzoo info CONFIG`: validates the `model:` section and prints the trainable parameter count per tower and the
 * total. `mmzoo info --all`: the same for every paper-size preset (configs with a `reference:` section) in one
 * table beside the published figure. Models are built on the cpu backend (a few seconds for paper sizes).
 * @throws ConfigError for an invalid config
 */
export async function infoCommand(configFile: string | undefined, opts: { set?: string[]; all?: boolean }): Promise<number> {
  await initBackend('cpu');
  if (opts.all) {
    const rows = [['config', 'model', 'parameters', 'published', 'difference', 'source']];
    const notes: string[] = [];
    for (const f of listConfigFiles('configs')) {
      if (!/^\s*reference:/m.test(readFileSync(f, 'utf8'))) continue;
      const loaded = loadExperiment(f, [], { modelOnly: true });
      const ref = loaded.config.reference;
      if (!ref) continue;
      const { total } = count(loaded);
      const diff = total - ref.params;
      rows.push([f, loaded.config.model.name, total.toLocaleString('en-US'), ref.params.toLocaleString('en-US'), `${diff >= 0 ? '+' : ''}${diff.toLocaleString('en-US')} (${((100 * diff) / ref.params).toFixed(1)}%)`, ref.source]);
      if (ref.note) notes.push(`${f}: ${ref.note}`);
    }
    process.stdout.write(table(rows) + (notes.length ? `\n${notes.join('\n')}\n` : ''));
    return 0;
  }
  if (!configFile) throw new Error('info: give a CONFIG file or --all');
  const loaded = loadExperiment(configFile, opts.set ?? [], { modelOnly: true });
  const { towers, total } = count(loaded);
  const rows: [string, string][] = [['model', `${loaded.config.model.name} (${loaded.file})`]];
  for (const [k, v] of Object.entries(towers)) rows.push([`  ${k}`, v.toLocaleString('en-US')]);
  rows.push(['total parameters', total.toLocaleString('en-US')]);
  if (loaded.config.reference) rows.push(['published', `${loaded.config.reference.params.toLocaleString('en-US')} (${loaded.config.reference.source})`]);
  const w = Math.max(...rows.map(([k]) => k.length));
  process.stdout.write(rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n') + '\n');
  return 0;
}
