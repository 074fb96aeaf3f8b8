import * as fs from 'fs';
import * as path from 'path';
import { DualEncoder, Module, Tensor, WordTokenizer, isDualEncoder, tf } from '@mmzoo/core';
import { parseSafetensors } from '@mmzoo/core/io';
import {
  EMBEDDED_FASHION_MNIST_ROOT, FMNIST_CLASS_NAMES, ImageSet, buildScenes, evaluateSession, imageBatch, initBackend,
  loadFashionMnist, loadRunTokenizers, readCheckpointMeta, readRunConfig, runSession, writePng,
  imageTextOf,
} from '@mmzoo/train';
import { MODELS, loadRun } from '../../packages/cli/src/specs';
import { TINY_CLIP_YAML } from '../helpers/configs';
import { FIXTURES } from '../helpers/fixtures';

/** The loaded model as the dual encoder a CLIP run is. */
function dual(model: object): DualEncoder {
  if (!isDualEncoder(model)) throw new Error('expected a dual encoder');
  return model;
}
import { runMmzoo } from '../helpers/cli';
import { tempDirs } from '../helpers/temp';

// Issue 15, "Load a run in one call": loadRun gives a run's config, its model at a checkpoint, its tokenizer and its
// image preprocessing; `mmzoo eval` evaluates any checkpoint on any data through it and writes evals/, never
// results.json. One tiny CLIP run (4 steps, checkpoints at 2 and 4) is trained once for the whole file.
const temp = tempDirs('mmzoo-load-run-');
let tmp: string;
let RUN: string;
let test4: ImageSet;
let files: string[];

beforeAll(async () => {
  tmp = temp.make();
  RUN = path.join(tmp, 'run');
  const config = path.join(tmp, 'tiny.yaml');
  fs.writeFileSync(config, TINY_CLIP_YAML);
  const sets = ['train.steps=4', 'train.checkpointEvery=2', 'eval.retrievalGallery=20'].flatMap((s) => ['--set', s]);
  const r = await runMmzoo(['train', config, '--out', RUN, '--backend', 'wasm', ...sets]);
  expect({ code: r.code, errors: r.stderr.split('\n').filter((l) => l.startsWith('mmzoo:')) }).toEqual({ code: 0, errors: [] });
  await initBackend('wasm');
  // four Fashion-MNIST test images (28 x 28, the model's size) as PNG files
  const all = loadFashionMnist(EMBEDDED_FASHION_MNIST_ROOT, 'test');
  test4 = { ...all, count: 4, images: all.images.slice(0, 4 * 28 * 28), labels: all.labels!.slice(0, 4) };
  files = [0, 1, 2, 3].map((i) => path.join(tmp, 'img', `${i}.png`));
  for (let i = 0; i < 4; i++) await writePng(files[i], test4, i);
}, 300000);
afterAll(() => temp.cleanUp());

/** The tensors of a safetensors file by name. */
const readWeights = (file: string) => parseSafetensors(new Uint8Array(fs.readFileSync(file)));

/** Each parameter of `model` equals the tensor of that name in the safetensors `file`; returns how many were compared. */
function expectWeightsOf(model: Module, file: string): number {
  const saved = readWeights(file);
  const params = model.namedParameters();
  expect([...params.keys()].sort()).toEqual([...saved.keys()].sort());
  for (const [name, v] of params) expect({ name, values: Array.from(v.dataSync()) }).toEqual({ name, values: Array.from(saved.get(name)!.data as Float32Array) });
  return params.size;
}

/** True when two safetensors files hold different values for some tensor. */
function weightsDiffer(a: string, b: string): boolean {
  const [x, y] = [readWeights(a), readWeights(b)];
  return [...x].some(([name, t]) => Array.from(t.data as Float32Array).some((v, i) => v !== (y.get(name)!.data as Float32Array)[i]));
}

/** The backend the run was trained on: evaluations repeat its figures exactly. */
const WASM = { MMZOO_BACKEND: 'wasm' };
const ckptFile = (step: number) => path.join(RUN, 'checkpoints', `step-00000${step}`, 'model.safetensors');
const readJson = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8'));

describe('loadRun', () => {
  test("a fresh run: its config, the latest checkpoint's weights, its tokenizer; a preprocessed image file is what eval feeds", async () => {
    const before = tf.memory().numTensors;
    const run = await loadRun(RUN);
    expect(run.spec).toBe(MODELS.clip);
    expect(run.config).toEqual(readCheckpointMeta(path.dirname(ckptFile(4))).config);
    expect(run.checkpoint).toMatchObject({ name: 'step-000004', step: 4, dir: path.dirname(ckptFile(4)), warnings: [] });
    expect(expectWeightsOf(run.model, ckptFile(4))).toBeGreaterThan(10);
    expect({ kind: 'word', ...(run.tokenizer as WordTokenizer).toJSON() }).toEqual(readJson(path.join(RUN, 'tokenizer.json')));

    // preprocess of PNG files: the bytes / 255 that eval feeds for the same test images (float32 [4, 1, 28, 28])
    const x = await run.preprocess(files);
    expect(x.shape).toEqual([4, 1, 28, 28]);
    expect(Array.from(x.dataSync())).toEqual(Array.from(imageBatch(test4, [0, 1, 2, 3])));
    // decoded pixels at another size are resized as the harness resizes scenes for the retrieval gallery
    const scenes = buildScenes(loadFashionMnist(EMBEDDED_FASHION_MNIST_ROOT, 'test'), 3, 20240601).images;
    const session = await runSession(run);
    const gallery = imageTextOf(session, 'retrieval').data.gallery!(3).images;
    const fromPixels = await run.preprocess(scenes);
    expect([scenes.height, Array.from(fromPixels.dataSync())]).toEqual([56, Array.from(imageBatch(gallery, [0, 1, 2]))]);

    // encodeImage of the preprocessed file equals encodeImage of the session's test split, which zero-shot embeds
    const evalInput = tf.tensor4d(imageBatch(imageTextOf(session, 'zeroShot').data.test!, [0, 1, 2, 3]), [4, 1, 28, 28]);
    const [a, b] = [dual(run.model).encodeImage(x), dual(run.model).encodeImage(evalInput)];
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    // and the whole evaluation repeats the training process's figures exactly
    expect(await evaluateSession(session)).toEqual(readJson(path.join(RUN, 'results.json')).metrics);
    tf.dispose([x, fromPixels, evalInput, a, b]);
    run.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  }, 120000);

  test('a named checkpoint: an older step by name, number, folder or file gives that step\'s weights', async () => {
    expect(weightsDiffer(ckptFile(2), ckptFile(4))).toBe(true);
    const before = tf.memory().numTensors;
    for (const which of ['2', 'step-000002', path.dirname(ckptFile(2)), ckptFile(2)]) {
      const run = await loadRun(RUN, { checkpoint: which });
      expect({ which, ...run.checkpoint }).toMatchObject({ which, name: 'step-000002', step: 2, dir: path.dirname(ckptFile(2)) });
      expectWeightsOf(run.model, ckptFile(2));
      run.model.dispose();
    }
    // a bare weights file: config.yaml and tokenizer.json give the rest
    const bare = path.join(tmp, 'weights-2.safetensors');
    fs.copyFileSync(ckptFile(2), bare);
    const run = await loadRun(RUN, { checkpoint: bare });
    expect(run.checkpoint).toMatchObject({ name: 'weights-2', file: bare });
    expect([run.checkpoint.dir, run.checkpoint.step]).toEqual([undefined, undefined]);
    expectWeightsOf(run.model, ckptFile(2));
    run.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  }, 60000);

  test('clear one-line errors for a missing run and checkpoint', async () => {
    await expect(loadRun(path.join(tmp, 'none'))).rejects.toThrow(/^\/.*\/none: no such run folder$/);
    await expect(loadRun(RUN, { checkpoint: '3' })).rejects.toThrow(new RegExp(`^checkpoint '3': no such file or folder, and ${RUN}/checkpoints has no complete checkpoint of that name or step \\(it holds step-000002, step-000004\\)$`));
    await expect(loadRun(tmp)).rejects.toThrow(new RegExp(`^${tmp}: no checkpoint found \\(expected ${tmp}/checkpoints/latest\\)$`));
  });

  test('the pre-marker fixture tests/fixtures/run-legacy loads (unverified, with a warning) and evaluates to its recorded figures', async () => {
    const legacy = path.join(temp.make(), 'legacy');
    fs.cpSync(path.join(FIXTURES, 'run-legacy'), legacy, { recursive: true });
    const before = tf.memory().numTensors;
    const run = await loadRun(legacy);
    expect(run.checkpoint.warnings).toEqual([expect.stringMatching(/step-000004: written before checkpoints recorded SHA-256 hashes; its files are loaded without verification$/)]);
    expect(run.config.model).toMatchObject({ name: 'clip', embedDim: 8, text: { pool: 'eot' } });
    expect(await evaluateSession(await runSession(run))).toEqual(readJson(path.join(legacy, 'results.json')).metrics);
    run.model.dispose();
    expect(tf.memory().numTensors).toBe(before);

    // without a config or tokenizer in meta.json, config.yaml and tokenizer.json give the same
    const ckpt = path.join(legacy, 'checkpoints', 'step-000004');
    const meta = readCheckpointMeta(ckpt);
    const bare = { ...meta, config: undefined, tokenizer: undefined };
    expect(readRunConfig(legacy, MODELS, { dir: ckpt, meta: bare }).config).toEqual(run.config);
    expect((loadRunTokenizers(legacy, run.spec, run.config, { dir: ckpt, meta: bare }).text as WordTokenizer).toJSON()).toEqual(meta.tokenizer);
  }, 60000);
});

describe('mmzoo eval', () => {
  const evals = () => fs.readdirSync(path.join(RUN, 'evals')).sort();

  test('writes evals/NNN-<checkpoint>-<data>.json for the latest, a named checkpoint and other data; results.json stays byte for byte', async () => {
    const results = fs.readFileSync(path.join(RUN, 'results.json'));
    const trained = JSON.parse(results.toString());
    expect(trained.train.wallSeconds).toBeGreaterThan(0);

    const latest = await runMmzoo(['eval', RUN], WASM);
    expect(latest.code).toBe(0);
    expect(evals()).toEqual(['001-step-000004-run.json']);
    const first = readJson(path.join(RUN, 'evals', '001-step-000004-run.json'));
    expect(first).toMatchObject({ model: 'clip', run: RUN, checkpoint: { name: 'step-000004', step: 4 }, data: { name: 'run', source: 'run' }, backend: 'wasm', params: trained.params });
    expect(first.metrics).toEqual(trained.metrics);
    expect(latest.stdout).toMatch(/^checkpoint +step-000004 \(step 4\)$/m);

    const older = await runMmzoo(['eval', RUN, '--checkpoint', 'step-000002'], WASM);
    expect(older.code).toBe(0);
    expect(readJson(path.join(RUN, 'evals', '002-step-000002-run.json')).checkpoint).toEqual({ name: 'step-000002', path: path.dirname(ckptFile(2)), step: 2 });

    // a config's data: and eval: sections: 10 gallery scenes, no zero-shot
    const cfg = path.join(tmp, 'scenes-only.yaml');
    fs.writeFileSync(cfg, 'model: { name: albef }\ndata:\n  items: false\n  scenes: { train: 8 }\neval:\n  zeroShot: false\n  retrievalGallery: 10\n');
    expect((await runMmzoo(['eval', RUN, '--data', cfg], WASM)).code).toBe(0);
    const scenes = readJson(path.join(RUN, 'evals', '003-step-000004-scenes-only.json'));
    expect(Object.keys(scenes.metrics)).toEqual(['retrieval']);
    expect(scenes.metrics.retrieval.gallery).toBe(10);
    expect(scenes.eval).toMatchObject({ zeroShot: false, retrievalGallery: 10 });

    expect(fs.readFileSync(path.join(RUN, 'results.json')).equals(results)).toBe(true);
  }, 180000);

  test('--data with a caption CSV: retrieval over its pairs, recall@1 as computed by hand', async () => {
    const csv = path.join(tmp, 'caps.csv');
    const captions = Array.from(test4.labels!, (k) => `a photo of a ${FMNIST_CLASS_NAMES[k]}`);
    fs.writeFileSync(csv, `image,caption\n${files.map((f, i) => `img/${path.basename(f)},${captions[i]}`).join('\n')}\n`);
    const wallSeconds = readJson(path.join(RUN, 'results.json')).train.wallSeconds;
    const r = await runMmzoo(['eval', RUN, '--data', csv], WASM);
    expect(r.code).toBe(0);
    const name = evals().find((f) => f.endsWith('-step-000004-caps.json'))!;
    const out = readJson(path.join(RUN, 'evals', name));
    expect(out.data).toMatchObject({ name: 'caps', source: csv, config: { dataset: 'csv', train: csv, test: csv } });
    expect(out.metrics.zeroShotTop1).toBeUndefined();
    expect(out.metrics.retrieval.gallery).toBe(4);

    // recall@1 by hand: cosine similarities of the loaded model's embeddings, ties counted against the query
    const run = await loadRun(RUN);
    const ids = run.tokenizer.encodeBatch(captions, run.config.model.text.contextLength);
    const x = await run.preprocess(files);
    const sims = tf.tidy(() => {
      const unit = (t: Tensor) => t.div(t.norm('euclidean', 1, true));
      const [img, txt] = [unit(dual(run.model).encodeImage(x)), unit(dual(run.model).encodeText(tf.tensor2d(ids.ids, ids.shape, 'int32')))];
      return tf.matMul(img, txt, false, true).arraySync() as number[][];
    });
    const r1 = (score: (q: number, c: number) => number) => [0, 1, 2, 3].filter((q) => [0, 1, 2, 3].every((c) => c === q || score(q, c) < score(q, q))).length / 4;
    expect(out.metrics.retrieval.imageToText.r1).toBeCloseTo(r1((i, t) => sims[i][t]), 12);
    expect(out.metrics.retrieval.textToImage.r1).toBeCloseTo(r1((t, i) => sims[i][t]), 12);
    x.dispose();
    run.model.dispose();
    expect(readJson(path.join(RUN, 'results.json')).train.wallSeconds).toBe(wallSeconds);
  }, 120000);
});
