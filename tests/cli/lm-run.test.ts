import * as fs from 'fs';
import * as path from 'path';
import { tf, isCausalLM } from '@mmzoo/core';
import { parseSafetensors, RawTensor } from '@mmzoo/core/io';
import { latestCheckpoint } from '@mmzoo/train';
import { trainCommand } from '../../packages/cli/src/commands/train';
import { evalCommand } from '../../packages/cli/src/commands/eval';
import { MODELS, loadRun } from '../../packages/cli/src/specs';
import { tinyLmYaml } from '../helpers/configs';
import { tempDirs } from '../helpers/temp';

// Issue 16: a GPT-2 or OPT run folder is a language model the zoo can use again. Each is trained for two steps
// through `mmzoo train` (in this process, on cpu), then: `loadRun` gives its spec, its latest checkpoint's weights
// and its BPE tokenizer; `mmzoo eval RUN` writes evals/001-*.json with the held-out perplexity that results.json
// reports for the same checkpoint and data; and a second run takes it with `init: {model: {run: ...}}`, its blocks
// frozen, ending with the first run's block weights exactly.

const temp = tempDirs('mmzoo-lm-run-');
afterAll(() => temp.cleanUp());
const quiet = () => jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
afterEach(() => jest.restoreAllMocks());

/** The `model:` section of each decoder, tiny (the vocabulary from the tokenizer), and where its blocks live. */
const MODEL_YAML: Record<'gpt2' | 'opt', { model: string; blocks: string }> = {
  gpt2: { model: 'name: gpt2\n  dim: 32\n  layers: 2\n  numHeads: 4\n  maxSeqLen: 16', blocks: 'transformer.h.' },
  opt: { model: 'name: opt\n  dim: 32\n  layers: 2\n  numHeads: 4\n  hiddenDim: 64\n  maxSeqLen: 16', blocks: 'decoder.layers.' },
};

/** The tensors of a run's latest checkpoint file by name. */
const weightsOf = (runDir: string, file = 'model.safetensors') => parseSafetensors(new Uint8Array(fs.readFileSync(path.join(latestCheckpoint(runDir)!, file))));
const floats = (t: RawTensor | undefined) => Array.from((t?.data ?? []) as Float32Array);
const readJson = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8'));

describe.each(Object.keys(MODEL_YAML) as ('gpt2' | 'opt')[])('a %s run folder', (name) => {
  const { model, blocks } = MODEL_YAML[name];
  let dir: string;
  let run: string;
  beforeAll(async () => {
    quiet();
    dir = temp.make();
    run = path.join(dir, 'runs', name);
    fs.writeFileSync(path.join(dir, `${name}.yaml`), tinyLmYaml(model));
    expect(await trainCommand(path.join(dir, `${name}.yaml`), { out: run, backend: 'cpu' })).toBe(0);
  }, 120_000);

  test('loads with loadRun: its spec, the latest checkpoint\'s weights, its BPE tokenizer; nothing leaks', async () => {
    const before = tf.memory().numTensors;
    const loaded = await loadRun(run);
    try {
      expect(loaded.spec).toBe(MODELS[name]);
      expect(loaded.checkpoint).toMatchObject({ name: 'step-000002', step: 2, warnings: [] });
      expect(isCausalLM(loaded.model)).toBe(true);
      const saved = weightsOf(run);
      const params = loaded.model.namedParameters();
      expect([...params.keys()].sort()).toEqual([...saved.keys()].sort());
      for (const [n, v] of params) expect({ n, values: Array.from(v.dataSync()) }).toEqual({ n, values: floats(saved.get(n)) });
      expect(readJson(path.join(run, 'tokenizer.json')).kind).toBe('hf');
      expect(loaded.tokenizer.vocabSize).toBe(300);
      expect(loaded.tokenizer.decode(loaded.tokenizer.encode('a small dog', 16))).toBe('a small dog');
    } finally {
      loaded.model.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  test('mmzoo eval RUN writes the perplexity results.json reports for that checkpoint', async () => {
    quiet();
    expect(await evalCommand(run, { backend: 'cpu' })).toBe(0);
    const evals = fs.readdirSync(path.join(run, 'evals'));
    expect(evals).toEqual(['001-step-000002-run.json']);
    const evaluated = readJson(path.join(run, 'evals', evals[0]));
    expect(evaluated.model).toBe(name);
    expect(Object.keys(evaluated.towers)).toEqual(['embeddings', 'layers', 'head']);
    const trained = readJson(path.join(run, 'results.json')).metrics;
    expect(evaluated.metrics.perplexity).toBeGreaterThan(1);
    expect(evaluated.metrics.perplexity).toBeCloseTo(trained.perplexity, 6);
    expect(evaluated.metrics.knBigramPerplexity).toBeCloseTo(trained.knBigramPerplexity, 6);
  }, 120_000);

  test('init: from the run, blocks frozen: the new run ends with its block weights exactly, the rest trained on', async () => {
    quiet();
    const file = path.join(dir, `${name}-init.yaml`);
    fs.writeFileSync(file, tinyLmYaml(model, `init:\n  model:\n    run: runs/${name}\nfrozen: [layers]\n`));
    const out = path.join(dir, 'runs', `${name}-init`);
    expect(await trainCommand(file, { out, backend: 'cpu' })).toBe(0);
    const source = weightsOf(run);
    const mine = weightsOf(out);
    const frozen = [...source.keys()].filter((n) => n.startsWith(blocks));
    expect(frozen.length).toBeGreaterThan(10);
    for (const n of frozen) expect({ n, values: floats(mine.get(n)) }).toEqual({ n, values: floats(source.get(n)) });
    // the embeddings were loaded, then trained two more steps
    const emb = [...source.keys()].find((n) => !n.startsWith(blocks) && /\.weight$/.test(n) && (source.get(n)!.shape[0] ?? 0) > 100)!;
    expect(floats(mine.get(emb))).not.toEqual(floats(source.get(emb)));
    expect(fs.readFileSync(path.join(out, 'train.log'), 'utf8')).toContain(`init model: ${source.size} tensors from ${path.join(latestCheckpoint(run)!, 'model.safetensors')}`);
  }, 120_000);
});
