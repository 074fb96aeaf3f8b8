import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parse, stringify } from 'yaml';
import { initBackend, parseYaml, validate } from '@mmzoo/train';
import { openSession, prepareSession, runTraining, sessionTraining } from '@mmzoo/train';
import type { Batch } from '@mmzoo/core';
import { loadExperiment } from '../../packages/cli/src/experiment';
import { listConfigFiles } from '../../packages/cli/src/commands/configs';
import { infoCommand } from '../../packages/cli/src/commands/info';
import { loadCapFiltConfig } from '../../packages/cli/src/commands/capfilt';
import { overridesFor } from '../../packages/cli/src/commands/compare';
import { CompareSchema } from '../../packages/cli/src/compare/schema';

// Issue 15: one test over every shipped config (open_clip's habit, STYLE.md). Each file under configs/ is validated
// by the loader its command uses and its model's parameters counted (`mmzoo info`, a shape-only build: presets
// too); each runnable config (one with `train:`) is built as `mmzoo train` builds it and trained for one real step
// per stage on tiny data, with `init:` (weights from another run) dropped for random initialisation, so no
// prerequisite run is trained here (`frozen:` stays, held fixed by `sessionTraining` as in `mmzoo train`). Model sizes
// stay as written (the point is to catch broken configs); only data, steps and batch shrink, and evaluation is off. A
// new config is covered without writing a test.

const ROOT = path.join(__dirname, '..', '..');
const FILES = listConfigFiles(path.join(ROOT, 'configs')).map((f) => path.relative(ROOT, f));

/** how a file is loaded: an experiment (train/info), a comparison (compare) or a CapFilt run (capfilt) */
type Kind = 'experiment' | 'compare' | 'capfilt';

function kindOf(file: string): Kind | undefined {
  const top = parse(fs.readFileSync(path.join(ROOT, file), 'utf8')) as Record<string, unknown>;
  if (top && 'model' in top) return 'experiment';
  if (top && 'models' in top) return 'compare';
  if (top && 'checkpoint' in top && 'noisy' in top) return 'capfilt';
  return undefined;
}

const RUNNABLE = FILES.filter((f) => kindOf(f) === 'experiment' && /^train:/m.test(fs.readFileSync(path.join(ROOT, f), 'utf8')));

/** the tiny training set and batch of the one-step runs */
const BATCH = 8;
const ITEMS = 64;
const SCENES = 16;

let tmp: string;
/** the backend of the training steps: `mmzoo train`'s choice (MMZOO_BACKEND, else tensorflow > native > wasm > cpu) */
let backend = '';
beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mmzoo-every-config-'));
  backend = (await initBackend()).name;
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/**
 * The config file to load with its `init:` sections (top level and per stage) removed, so that the model starts
 * from random weights instead of another run's: the file itself when it has none, else a copy in the temp folder
 * (its data paths made absolute, as they were relative to the original's folder). A tokenizer taken from an `init:`
 * run (kind `init`) becomes a small BPE trained on the tiny data.
 */
function withoutInit(file: string): string {
  const abs = path.join(ROOT, file);
  const value = parse(fs.readFileSync(abs, 'utf8')) as Record<string, any>;
  const stages = Array.isArray(value.stages) ? value.stages : [];
  if (!('init' in value) && !stages.some((s: Record<string, unknown>) => s && 'init' in s)) return abs;
  delete value.init;
  for (const s of stages) if (s) delete s.init;
  for (const [key, t] of Object.entries<any>(value.tokenizers ?? {})) if (t?.kind === 'init') value.tokenizers[key] = { kind: 'bpe', vocabSize: 600 };
  for (const k of ['root', 'train', 'test']) if (typeof value.data?.[k] === 'string') value.data[k] = path.resolve(path.dirname(abs), value.data[k]);
  const copy = path.join(tmp, `${file.replace(/[/\\]/g, '-')}`);
  fs.writeFileSync(copy, stringify(value));
  return copy;
}

/** `--set` overrides that shrink a validated experiment to one step per stage on tiny data, evaluation off */
function tinyOverrides(file: string): string[] {
  const cfg = loadExperiment(file, [], { modelOnly: false }).config;
  const sets = [`train.batchSize=${BATCH}`, 'eval.every=0'];
  if (cfg.data.dataset === 'fmnist') sets.push(`data.trainLimit=${ITEMS}`);
  // the text corpus: WordNet glosses only, a few documents each way, a small BPE
  if (cfg.data.dataset === 'text') sets.push('data.text.brown=false', `data.trainLimit=${ITEMS}`, 'data.text.heldOutLimit=8', 'tokenizers.text.vocabSize=300');
  // dialogues: a few training dialogues and held-out questions
  if (cfg.data.dataset === 'dialogue') sets.push(`data.dialogue.train=${ITEMS}`, 'data.dialogue.heldOutYesNo=8', 'data.dialogue.heldOutShortAnswers=4');
  if (cfg.data.scenes.train > 0) sets.push(`data.scenes.train=${SCENES}`);
  if (cfg.stages) {
    cfg.stages.forEach((st, i) => {
      sets.push(`stages.${i}.steps=1`);
      if (st.batchSize !== undefined) sets.push(`stages.${i}.batchSize=${BATCH}`);
    });
    sets.push(`train.steps=${cfg.stages.length}`);
  } else {
    sets.push('train.steps=1');
  }
  return sets;
}

/** what `mmzoo info FILE --set ...` prints, run in-process */
async function info(file: string, sets: string[]): Promise<string> {
  let out = '';
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += chunk.toString();
    return true;
  });
  try {
    expect(await infoCommand(file, { set: sets })).toBe(0);
  } finally {
    spy.mockRestore();
  }
  return out;
}

describe('every shipped config', () => {
  test('the configs are found and each is of a known kind', () => {
    expect(FILES.length).toBeGreaterThan(10);
    expect(FILES.filter((f) => kindOf(f) === undefined)).toEqual([]);
    expect(RUNNABLE.length).toBeGreaterThanOrEqual(6);
  });

  test.each(FILES.map((f) => [f]))('%s validates (and its model counts)', async (file) => {
    const kind = kindOf(file);
    const abs = path.join(ROOT, file);
    if (kind === 'experiment') {
      // validated and counted as `mmzoo info` does: a preset's model section alone; a runnable config whole (as
      // written, by tinyOverrides), then counted with the vocabulary of its tokenizer on the tiny data (building
      // thousands of scenes for the exact vocabulary would take most of this file's time)
      const cfgFile = withoutInit(file);
      const runnable = RUNNABLE.includes(file);
      const out = await info(cfgFile, runnable ? tinyOverrides(cfgFile) : []);
      const total = Number(/^total parameters\s+([\d,]+)$/m.exec(out)?.[1].replace(/,/g, ''));
      expect(total).toBeGreaterThan(0);
    } else if (kind === 'compare') {
      // as `mmzoo compare` loads it: the comparison schema, then every model config under the comparison's overrides
      const source = parseYaml(fs.readFileSync(abs, 'utf8'), abs);
      const cfg = validate(CompareSchema, source.value, source);
      for (const m of cfg.models) {
        const entry = typeof m === 'string' ? { config: m, overrides: {} } : m;
        const resolved = [path.resolve(path.dirname(abs), entry.config), path.resolve(entry.config)].find((p) => fs.existsSync(p));
        expect(resolved).toBeDefined();
        const loaded = loadExperiment(resolved!, overridesFor(cfg, resolved!, entry.overrides));
        expect(loaded.config.train.seed).toBe(cfg.seed);
      }
    } else {
      // `mmzoo capfilt`'s loader (its checkpoint is a trained run folder, not made here)
      expect(loadCapFiltConfig(abs).checkpoint).toEqual(expect.any(String));
    }
  });

  test.each(RUNNABLE.map((f) => [f]))('%s trains one step per stage on tiny data with a finite loss', async (file) => {
    const cfgFile = withoutInit(file);
    const loaded = loadExperiment(cfgFile, tinyOverrides(cfgFile));
    const cfg = loaded.config;
    // `mmzoo info` (the validation tests above) selects cpu; training runs on the backend `mmzoo train` would use
    await initBackend(backend);
    // as `mmzoo train` (commands/train.ts): the session (data, tokenizers, seeded build), prepare, then the trainer
    // with the session's batches, objective and checkpoint meta
    const session = await openSession(loaded.spec, cfg);
    const { model } = session;
    try {
      await prepareSession(session);
      const summary = await runTraining<Batch>({
        runDir: path.join(tmp, loaded.name), model, train: cfg.train, stages: cfg.stages, ...sessionTraining(session),
      });
      expect(summary.steps).toBe(cfg.stages ? cfg.stages.length : 1);
      expect(Number.isFinite(summary.initialLoss)).toBe(true);
      expect(Number.isFinite(summary.finalLoss)).toBe(true);
      for (const st of summary.stages ?? []) expect([st.name, Number.isFinite(st.finalLoss)]).toEqual([st.name, true]);
    } finally {
      model.dispose();
    }
  });
});
