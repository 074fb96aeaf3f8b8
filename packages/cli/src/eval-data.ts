import { existsSync, readFileSync, statSync } from 'fs';
import * as path from 'path';
import { ConfigError } from '@mmzoo/core';
import { DataConfig, DataSchema, EvalConfig, EvalSchema, parseYaml, validate } from '@mmzoo/train';
import { resolveDataPaths } from './experiment';

/** What `mmzoo eval --data` evaluates a run on. */
export interface EvalData {
  /** replaces the run's `data:` section; undefined: the run's own */
  data?: DataConfig;
  /** replaces the run's `eval:` section; undefined: the run's own */
  eval?: EvalConfig;
  /** names the data in the results file name: `run`, or the --data file's name without its extension */
  name: string;
  /** where it came from: `run` (the run's own data) or the absolute path of the --data file */
  source: string;
}

/** `data.dataset` of a caption file by its extension (data/readers `readCaptions`). */
const CAPTION_FILE_DATASETS: Readonly<Record<string, DataConfig['dataset']>> = { '.csv': 'csv', '.jsonl': 'jsonl', '.json': 'coco' };

/**
 * Reads the `--data` argument of `mmzoo eval`:
 * - absent: the run's own `data:` and `eval:` sections;
 * - a config (`.yaml`, `.yml`; e.g. another experiment file): its `data:` and `eval:` sections replace the run's
 *   (a section it leaves out stays the run's; every other section is ignored; data paths are relative to the file);
 * - a caption file (`.csv`, `.jsonl`, COCO-style `.json`, as `data.dataset` csv | jsonl | coco reads them): its
 *   pairs are the test set (retrieval gallery, caption references) and the training pairs (constant-caption
 *   baseline); the run's `eval:` settings apply.
 * @throws Error `--data <arg>: no such file`; ConfigError `--data <arg>: is a folder ...` / `unknown file type ...`,
 *   `<file>: has neither a data: nor an eval: section ...`, `<file>:line:col: data.<key>: <message>`
 */
export function readEvalData(arg?: string): EvalData {
  if (arg === undefined) return { name: 'run', source: 'run' };
  const file = path.resolve(arg);
  if (!existsSync(file)) throw new Error(`--data ${arg}: no such file`);
  const kinds = 'a config (.yaml, .yml) or a caption file (.csv, .jsonl, COCO .json)';
  if (statSync(file).isDirectory()) throw new ConfigError(`--data ${arg}: is a folder; expected ${kinds}`);
  const ext = path.extname(file).toLowerCase();
  const name = path.basename(file, path.extname(file));
  if (ext === '.yaml' || ext === '.yml') {
    const source = parseYaml(readFileSync(file, 'utf8'), arg);
    const value = source.value as Record<string, unknown>;
    if (value.data === undefined && value.eval === undefined) throw new ConfigError(`${arg}: has neither a data: nor an eval: section; --data uses those sections of a config`);
    return {
      data: value.data === undefined ? undefined : resolveDataPaths(validate(DataSchema, value.data, source, ['data']), file),
      eval: value.eval === undefined ? undefined : validate(EvalSchema, value.eval, source, ['eval']),
      name,
      source: file,
    };
  }
  const dataset = CAPTION_FILE_DATASETS[ext];
  if (!dataset) throw new ConfigError(`--data ${arg}: unknown file type ${ext ? `'${ext}'` : '(no extension)'}; expected ${kinds}`);
  return { data: DataSchema.parse({ dataset, train: file, test: file }), name, source: file };
}
