import { initBackend, manualSeed } from '@mmzoo/core';
import { loadExperiment } from '../experiment';

/**
 * `mmzoo info CONFIG`: validates the `model:` section and prints the trainable parameter count per tower and
 * the total. Builds the model on the cpu backend (paper-size presets take a few seconds and ~4 bytes/param).
 * @throws ConfigError for an invalid config
 */
export async function infoCommand(configFile: string, opts: { set?: string[] }): Promise<number> {
  const loaded = loadExperiment(configFile, opts.set ?? [], { modelOnly: true });
  await initBackend('cpu');
  manualSeed(0);
  const model = loaded.entry.build(loaded.config.model, {});
  const towers = loaded.entry.towers(model);
  const total = model.numParams();
  const rows: [string, string][] = [['model', `${loaded.config.model.name} (${loaded.file})`]];
  for (const [k, v] of Object.entries(towers)) rows.push([`  ${k}`, v.toLocaleString('en-US')]);
  rows.push(['total parameters', total.toLocaleString('en-US')]);
  const w = Math.max(...rows.map(([k]) => k.length));
  process.stdout.write(rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n') + '\n');
  model.dispose();
  return 0;
}
