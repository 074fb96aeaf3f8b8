import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { serializeSafetensors } from '@mmzoo/core';
import { TINY_CLIP_YAML } from '../helpers/configs';
import { runMmzoo } from '../helpers/cli';

// Issue 14, "never lose a user's files or a run: honest errors". Every case runs the `mmzoo` CLI in-process on bad
// input and checks three things: the exit code (2 config/usage, 1 data/runtime), exactly one error line
// (`mmzoo: ...`) naming the place (file:line, key path, flag or path), and that every file the case protects
// (its config, data, an existing folder) is byte-for-byte unchanged afterwards (SHA-256).
//
// To add a case, append to CASES: `setup` writes what the case needs under its own empty folder `dir` and returns
// the argv and the files or folders to protect (a folder protects every file under it, and its file list).

/** What a case runs: the argv of `mmzoo`, the paths whose bytes must not change, extra environment variables. */
interface Setup {
  argv: string[];
  protect: string[];
  env?: Record<string, string>;
}

interface Case {
  name: string;
  setup: (dir: string) => Setup;
  /** exit code: 2 config / usage error, 1 data / runtime error */
  code: number;
  /** the one `mmzoo: ` line (without the prefix) */
  message: RegExp;
}

// a tiny CLIP on a slice of the embedded Fashion-MNIST data: a case that reached training by mistake ends in seconds
const TINY = TINY_CLIP_YAML;

// a tiny stagewise VLMo (configs/vlmo/fmnist-scenes-stagewise.yaml, shrunk); stage cases edit it
const VLMO = `model:
  name: vlmo
  vision: { imageSize: 28, patchSize: 14, channels: 1 }
  text: { contextLength: 16, maxTextLenOfInitCkpt: 16 }
  width: 16
  layers: 2
  numHeads: 2
  vlStart: 1
  objectives: { itc: 1, itm: 1, mlm: 1, mim: 1 }
  tokenizer: { codebookSize: 8, fitImages: 64 }
data:
  items: false
  scenes: { train: 8 }
stages:
  - name: image-mim
    objectives: [mim]
    data: images
    steps: 2
  - name: image-text
    objectives: [itc, itm, mlm]
    data: pairs
    steps: 2
train:
  batchSize: 4
  lr: 1.0e-3
eval:
  zeroShot: false
  retrievalGallery: 0
`;

/** TINY with user caption files instead of Fashion-MNIST. */
const csvConfig = (dataset: string, file: string, extra = '') =>
  TINY.replace(/data:\n  trainLimit: 256\n  scenes: \{ train: 32 \}\n/, `data:\n  dataset: ${dataset}\n  train: ${file}\n${extra}`);

let PNG: Buffer;
let root: string;
beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'mmzoo-bad-input-'));
  PNG = await sharp({ create: { width: 28, height: 28, channels: 3, background: { r: 200, g: 30, b: 90 } } }).png().toBuffer();
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function write(dir: string, name: string, content: string | Buffer): string {
  const file = path.join(dir, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
  return file;
}

/** A config file `name` in dir; returns the `train` argv with its own --out (never the repo's runs/). */
function trainCase(dir: string, text: string, extra: string[] = [], name = 'config.yaml'): Setup {
  const config = write(dir, name, text);
  return { argv: ['train', config, '--out', path.join(dir, 'run'), ...extra], protect: [config] };
}

/** `train` on a TINY config with `--set` overrides. */
function setCase(dir: string, sets: string[]): Setup {
  return trainCase(dir, TINY, sets.flatMap((s) => ['--set', s]));
}

/** Three images and a caption file of `dataset` (csv | jsonl | coco) whose text is `body` (default: valid). */
function captionData(dir: string, dataset: 'csv' | 'jsonl' | 'coco', body?: string | Buffer, extra = ''): Setup {
  const images = [0, 1, 2].map((i) => write(dir, `img/${i}.png`, PNG));
  const file = { csv: 'caps.csv', jsonl: 'caps.jsonl', coco: 'caps.json' }[dataset];
  const valid = {
    csv: 'image,caption\nimg/0.png,a red square\nimg/1.png,a red box\nimg/2.png,red\n',
    jsonl: '{"image": "img/0.png", "caption": "a red square"}\n{"image": "img/1.png", "caption": "a red box"}\n',
    coco: '{"images": [{"id": 1, "file_name": "img/0.png"}], "annotations": [{"image_id": 1, "caption": "red"}]}\n',
  }[dataset];
  const data = write(dir, file, body ?? valid);
  const s = trainCase(dir, csvConfig(dataset, file, extra));
  return { ...s, protect: [...s.protect, data, ...images] };
}

/** Bytes with one invalid UTF-8 byte 0xff spliced in where `@` is. */
function badUtf8(text: string): Buffer {
  const [a, b] = text.split('@');
  return Buffer.concat([Buffer.from(a), Buffer.from([0xff]), Buffer.from(b)]);
}

/**
 * A copy of tests/fixtures/run-legacy (a finished 4-step run written before markers and hashes) at `<dir>/run`, edited
 * by `edit`; `extra` empty gives `mmzoo eval <run>`, 'train' a plain `mmzoo train <its config> --out <run>`, otherwise `mmzoo train <its config> --out <run> ...extra`. The run
 * folder and its config are protected.
 */
function legacyRun(dir: string, extra: string[] | 'train' = [], edit?: (run: string) => void): Setup {
  const run = path.join(dir, 'run');
  fs.cpSync(path.join(__dirname, '..', 'fixtures', 'run-legacy'), run, { recursive: true });
  edit?.(run);
  const config = path.join(run, 'tiny.yaml');
  const argv = extra === 'train' ? ['train', config, '--out', run] : extra.length ? ['train', config, '--out', run, ...extra] : ['eval', run];
  return { argv, protect: [run] };
}

/** `mmzoo eval <run> ...flags` on a copy of tests/fixtures/run-legacy (see {@link legacyRun}); the run is protected. */
function legacyEval(dir: string, flags: string[], edit?: (run: string) => void): Setup {
  const s = legacyRun(dir, [], edit);
  return { ...s, argv: [...s.argv, ...flags] };
}

const META = (run: string) => path.join(run, 'checkpoints/step-000004/meta.json');
function editMeta(run: string, edit: (m: Record<string, any>) => void): void {
  const m = JSON.parse(fs.readFileSync(META(run), 'utf8'));
  edit(m);
  fs.writeFileSync(META(run), JSON.stringify(m));
}
/** Records the SHA-256 of the checkpoint's files in its meta.json, as checkpoints written today do. */
function addHashes(run: string): void {
  const ck = path.dirname(META(run));
  editMeta(run, (m) => {
    m.files = Object.fromEntries(['model.safetensors', 'optimizer.safetensors'].map((f) => {
      const b = fs.readFileSync(path.join(ck, f));
      return [f, { sha256: createHash('sha256').update(b).digest('hex'), bytes: b.byteLength }];
    }));
  });
}
function flipBit(file: string): void {
  const b = fs.readFileSync(file);
  b[b.length - 3] ^= 0x10;
  fs.writeFileSync(file, b);
}
/** Sets the first element of the checkpoint's first float tensor to NaN (or `value`). */
function nanWeights(run: string, value = NaN): void {
  const file = path.join(path.dirname(META(run)), 'model.safetensors');
  const b = fs.readFileSync(file);
  const n = Number(b.readBigUInt64LE(0));
  const header = JSON.parse(b.subarray(8, 8 + n).toString('utf8'));
  const first = Object.entries(header).filter(([k]) => k !== '__metadata__').map(([, v]) => v as { dtype: string; data_offsets: [number, number] }).filter((v) => v.dtype === 'F32').sort((x, y) => x.data_offsets[0] - y.data_offsets[0])[0];
  b.writeFloatLE(value, 8 + n + first.data_offsets[0]);
  fs.writeFileSync(file, b);
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** `config.yaml:<line>:<col>: <key>: ` at the start of a message. */
const at = (key: string) => new RegExp(`config\\.yaml:\\d+:\\d+: ${esc(key)}: `);
/** `--set <override>: <key>: ` at the start of a message. */
const atSet = (override: string, key: string) => new RegExp(`^--set ${esc(override)}: ${esc(key)}: `);

const CASES: Case[] = [
  // --- the config file itself
  { name: 'missing config file', setup: (d) => ({ argv: ['train', path.join(d, 'nope.yaml'), '--out', path.join(d, 'run')], protect: [] }), code: 2, message: /nope\.yaml: config file not found$/ },
  { name: 'config path is a folder', setup: (d) => { fs.mkdirSync(path.join(d, 'cfg')); write(d, 'cfg/x.yaml', TINY); return { argv: ['train', path.join(d, 'cfg'), '--out', path.join(d, 'run')], protect: [path.join(d, 'cfg')] }; }, code: 2, message: /\/cfg: is a folder, expected a YAML file$/ },
  { name: 'info: config path is a folder', setup: (d) => { fs.mkdirSync(path.join(d, 'cfg')); return { argv: ['info', path.join(d, 'cfg')], protect: [] }; }, code: 2, message: /\/cfg: is a folder, expected a YAML file$/ },
  { name: 'info: missing config', setup: (d) => ({ argv: ['info', path.join(d, 'none.yaml')], protect: [] }), code: 2, message: /none\.yaml: config file not found$/ },
  { name: 'malformed YAML (unclosed flow mapping)', setup: (d) => trainCase(d, TINY.replace('numHeads: 2 }\n  text', 'numHeads: 2\n  text')), code: 2, message: /config\.yaml:\d+:\d+: malformed YAML: / },
  { name: 'YAML with a duplicate key', setup: (d) => trainCase(d, TINY.replace('  steps: 6\n', '  steps: 6\n  steps: 7\n')), code: 2, message: /config\.yaml:\d+:\d+: malformed YAML: .*unique/i },
  { name: 'YAML tab indentation', setup: (d) => trainCase(d, TINY.replace('  steps: 6\n', '\tsteps: 6\n')), code: 2, message: /config\.yaml:\d+:\d+: malformed YAML: / },
  { name: 'YAML that is a list, not a mapping', setup: (d) => trainCase(d, '- model\n- train\n'), code: 2, message: /config\.yaml:1:1: expected a mapping of sections/ },
  { name: 'empty config file', setup: (d) => trainCase(d, ''), code: 2, message: /config\.yaml:1:1: expected a mapping of sections/ },
  {
    name: 'YAML alias bomb (billion laughs)',
    setup: (d) => {
      let bomb = 'a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n';
      let prev = 'a';
      for (const n of 'bcdefghi') {
        bomb += `${n}: &${n} [${Array(9).fill(`*${prev}`).join(', ')}]\n`;
        prev = n;
      }
      return trainCase(d, `${TINY}lols:\n${bomb.replace(/^/gm, '  ')}`);
    },
    code: 2,
    message: /config\.yaml: YAML aliases expand too much/,
  },
  { name: 'YAML alias to an undefined anchor', setup: (d) => trainCase(d, TINY.replace('steps: 6', 'steps: *six')), code: 2, message: /config\.yaml: malformed YAML: Unresolved alias/ },
  // --- schema: unknown keys, missing keys, wrong types
  { name: 'unknown section, misspelt', setup: (d) => trainCase(d, TINY.replace('eval:', 'evel:')), code: 2, message: /config\.yaml:\d+:\d+: evel: unknown key, did you mean 'eval'\?/ },
  { name: 'unknown key in train', setup: (d) => trainCase(d, TINY.replace('  steps: 6\n', '  steps: 6\n  lrDecay: 0.9\n')), code: 2, message: at('train.lrDecay') },
  { name: 'misspelt required key is one line', setup: (d) => trainCase(d, TINY.replace('  steps: 6\n', '  stpes: 6\n')), code: 2, message: /train\.stpes: unknown key, did you mean 'steps'\?/ },
  { name: 'missing train section', setup: (d) => trainCase(d, TINY.replace(/train:\n(  .*\n)+/, '')), code: 2, message: /config\.yaml:\d+:\d+: train: .*\(missing\)/ },
  { name: 'missing train.lr', setup: (d) => trainCase(d, TINY.replace('  lr: 1.0e-3\n', '')), code: 2, message: /config\.yaml:\d+:\d+: train\.lr: .*\(missing\)/ },
  { name: 'train.lr is a string', setup: (d) => trainCase(d, TINY.replace('lr: 1.0e-3', 'lr: fast')), code: 2, message: at('train.lr') },
  { name: 'train.steps negative', setup: (d) => trainCase(d, TINY.replace('steps: 6', 'steps: -6')), code: 2, message: at('train.steps') },
  { name: 'train.steps fractional', setup: (d) => trainCase(d, TINY.replace('steps: 6', 'steps: 1.5')), code: 2, message: at('train.steps') },
  { name: 'train.batchSize below 2', setup: (d) => trainCase(d, TINY.replace('batchSize: 16', 'batchSize: 1')), code: 2, message: at('train.batchSize') },
  { name: 'train.betas of one value', setup: (d) => trainCase(d, TINY.replace('  steps: 6\n', '  steps: 6\n  betas: [0.9]\n')), code: 2, message: /config\.yaml:\d+:\d+: train\.betas/ },
  { name: 'data.dataset not a known kind', setup: (d) => trainCase(d, TINY.replace('  trainLimit: 256\n', '  dataset: imagenet\n  trainLimit: 256\n')), code: 2, message: at('data.dataset') },
  { name: 'data.scenes.grid out of range', setup: (d) => trainCase(d, TINY.replace('{ train: 32 }', '{ train: 32, grid: 7 }')), code: 2, message: at('data.scenes.grid') },
  { name: 'unknown key in data.scenes', setup: (d) => trainCase(d, TINY.replace('{ train: 32 }', '{ train: 32, size: 3 }')), code: 2, message: at('data.scenes.size') },
  { name: 'data.encoding not an encoding', setup: (d) => trainCase(d, TINY.replace('  trainLimit: 256\n', '  encoding: utf8x\n  trainLimit: 256\n')), code: 2, message: at('data.encoding') },
  { name: 'eval.retrievalGallery negative', setup: (d) => trainCase(d, TINY.replace('retrievalGallery: 50', 'retrievalGallery: -1')), code: 2, message: at('eval.retrievalGallery') },
  { name: 'runtime.backend unknown', setup: (d) => trainCase(d, `${TINY}runtime:\n  backend: gpu\n`), code: 2, message: at('runtime.backend') },
  { name: 'model without a name', setup: (d) => trainCase(d, TINY.replace('  name: clip\n', '')), code: 2, message: /config\.yaml:\d+:\d+: model\.name: / },
  { name: 'unknown model name', setup: (d) => trainCase(d, TINY.replace('name: clip', 'name: flamingo')), code: 2, message: /config\.yaml:\d+:\d+: model\.name: unknown model 'flamingo'; registered models: clip/ },
  { name: 'model.vision.width is a string', setup: (d) => trainCase(d, TINY.replace('width: 16, layers: 1, numHeads: 2 }\n  text', 'width: wide, layers: 1, numHeads: 2 }\n  text')), code: 2, message: at('model.vision.width') },
  { name: 'unknown key in model.vision', setup: (d) => trainCase(d, TINY.replace('channels: 1,', 'channels: 1, depth: 3,')), code: 2, message: at('model.vision.depth') },
  { name: 'width not divisible by numHeads', setup: (d) => trainCase(d, TINY.replace('layers: 1, numHeads: 2 }\n  text', 'layers: 1, numHeads: 3 }\n  text')), code: 2, message: at('model.vision.numHeads') },
  { name: 'patchSize does not divide imageSize (clip)', setup: (d) => trainCase(d, TINY.replace('patchSize: 7', 'patchSize: 5')), code: 2, message: /config\.yaml:5:\d+: model\.vision\.patchSize: 5 does not divide imageSize 28; use a divisor such as 4/ },
  { name: 'patchSize does not divide a [h, w] imageSize', setup: (d) => trainCase(d, TINY.replace('imageSize: 28', 'imageSize: [28, 30]')), code: 2, message: /model\.vision\.patchSize: 7 does not divide imageSize 28x30/ },
  { name: 'patchSize does not divide imageSize (vlmo)', setup: (d) => trainCase(d, VLMO.replace('patchSize: 14', 'patchSize: 5')), code: 2, message: at('model.vision.patchSize') },
  { name: 'huge model.vision.width: memory named at config time', setup: (d) => trainCase(d, TINY.replace('width: 16, layers: 1, numHeads: 2 }\n  text', 'width: 1000000, layers: 1, numHeads: 2 }\n  text')), code: 2, message: /config\.yaml:\d+:\d+: model\.vision\.width: 1000000 needs about [\d.,]+ [GT]B of float32 weights .*; reduce it$/ },
  { name: 'huge model.text.vocabSize', setup: (d) => setCase(d, ['model.text.vocabSize=1000000000000']), code: 2, message: /^--set model\.text\.vocabSize=1000000000000: model\.text\.vocabSize: 1000000000000 needs about [\d.,]+ TB/ },
  { name: 'huge model.vision.imageSize', setup: (d) => setCase(d, ['model.vision.imageSize=7000000']), code: 2, message: /model\.vision\.imageSize: 7000000 needs about [\d.,]+ TB/ },
  { name: 'huge model.text.contextLength', setup: (d) => setCase(d, ['model.text.contextLength=100000000000']), code: 2, message: /model\.text\.contextLength: 100000000000 needs about/ },
  { name: 'info never builds a model too large for memory', setup: (d) => { const s = setCase(d, ['model.vision.width=1000000']); return { ...s, argv: ['info', s.argv[1], '--set', 'model.vision.width=1000000'] }; }, code: 2, message: /^--set model\.vision\.width=1000000: model\.vision\.width: 1000000 needs about/ },
  { name: 'info of a config with a bad patchSize', setup: (d) => { const s = trainCase(d, TINY.replace('patchSize: 7', 'patchSize: 3')); return { ...s, argv: ['info', s.argv[1]] }; }, code: 2, message: at('model.vision.patchSize') },
  // --- --set overrides
  { name: '--set without =', setup: (d) => setCase(d, ['train.lr']), code: 2, message: /^--set train\.lr: expected key=value$/ },
  { name: '--set with an empty key', setup: (d) => setCase(d, ['=3']), code: 2, message: /^--set =3: expected key=value$/ },
  { name: '--set with a value of the wrong type', setup: (d) => setCase(d, ['train.lr=abc']), code: 2, message: atSet('train.lr=abc', 'train.lr') },
  { name: '--set into a value that is not a section', setup: (d) => setCase(d, ['train.lr.x=1']), code: 2, message: /^--set train\.lr\.x=1: 'lr' is not a section$/ },
  { name: '--set of an unknown key', setup: (d) => setCase(d, ['train.foo=1']), code: 2, message: atSet('train.foo=1', 'train.foo') },
  { name: '--set of an unknown model', setup: (d) => setCase(d, ['model.name=nosuch']), code: 2, message: /model\.name: unknown model 'nosuch'/ },
  { name: '--set patchSize not dividing imageSize', setup: (d) => setCase(d, ['model.vision.patchSize=6']), code: 2, message: atSet('model.vision.patchSize=6', 'model.vision.patchSize') },
  { name: '--set data.encoding unknown', setup: (d) => setCase(d, ['data.encoding=klingon']), code: 2, message: atSet('data.encoding=klingon', 'data.encoding') },
  { name: 'info --set with a wrong type', setup: (d) => { const s = trainCase(d, TINY); return { ...s, argv: ['info', s.argv[1], '--set', 'train.steps=many'] }; }, code: 2, message: atSet('train.steps=many', 'train.steps') },
  // --- flags
  ...['0', '-1', 'abc', 'Infinity', 'NaN', '', '1e999'].map((v): Case => ({
    name: `--max-seconds '${v}'`, setup: (d) => trainCase(d, TINY, [`--max-seconds=${v}`]), code: 2, message: new RegExp(`^--max-seconds ${esc(v)}: expected a positive number of seconds$`),
  })),
  { name: '--backend unknown', setup: (d) => trainCase(d, TINY, ['--backend', 'gpu']), code: 2, message: /^--backend: unknown backend 'gpu'; valid names: tensorflow, native, wasm, cpu$/ },
  { name: 'MMZOO_BACKEND unknown', setup: (d) => ({ ...trainCase(d, TINY), env: { MMZOO_BACKEND: 'cuda' } }), code: 2, message: /^MMZOO_BACKEND: unknown backend 'cuda'/ },
  { name: 'eval --backend unknown', setup: (d) => ({ argv: ['eval', d, '--backend', 'tpu'], protect: [] }), code: 2, message: /^--backend: unknown backend 'tpu'/ },
  { name: 'unknown flag', setup: (d) => trainCase(d, TINY, ['--bogus']), code: 2, message: /^unknown option '--bogus'/ },
  { name: 'unknown command', setup: () => ({ argv: ['frobnicate'], protect: [] }), code: 2, message: /^unknown command 'frobnicate'/ },
  { name: 'train without a config', setup: () => ({ argv: ['train'], protect: [] }), code: 2, message: /^missing required argument 'config'/ },
  { name: '--resume with --overwrite', setup: (d) => trainCase(d, TINY, ['--resume', '--overwrite']), code: 2, message: /^--resume and --overwrite together/ },
  { name: 'compare: missing comparison file', setup: (d) => ({ argv: ['compare', path.join(d, 'none.yaml'), '--out', path.join(d, 'cmp')], protect: [] }), code: 2, message: /none\.yaml: comparison file not found$/ },
  { name: 'capfilt: missing config', setup: (d) => ({ argv: ['capfilt', path.join(d, 'none.yaml'), '--out', path.join(d, 'cf')], protect: [] }), code: 2, message: /none\.yaml: config file not found$/ },
  // --- the run folder
  { name: '--out is a file of the user', setup: (d) => { const f = write(d, 'notes.txt', 'mine'); const s = trainCase(d, TINY); return { argv: [...s.argv, '--out', f], protect: [...s.protect, f] }; }, code: 2, message: /notes\.txt: is a file, not a folder/ },
  {
    name: '--out is a folder of the user',
    setup: (d) => { write(d, 'mine/a.txt', 'a'); write(d, 'mine/sub/b.bin', Buffer.from([1, 2, 3])); const s = trainCase(d, TINY); return { argv: [...s.argv, '--out', path.join(d, 'mine')], protect: [...s.protect, path.join(d, 'mine')] }; },
    code: 2,
    message: /\/mine: not an mmzoo run folder/,
  },
  {
    name: '--overwrite of a folder of the user',
    setup: (d) => { write(d, 'mine/a.txt', 'a'); const s = trainCase(d, TINY, ['--overwrite']); return { argv: [...s.argv, '--out', path.join(d, 'mine')], protect: [...s.protect, path.join(d, 'mine')] }; },
    code: 2,
    message: /\/mine: not an mmzoo run folder/,
  },
  { name: '--out below a file (file-system error, one line)', setup: (d) => { const f = write(d, 'notes.txt', 'mine'); const s = trainCase(d, TINY); return { argv: [...s.argv, '--out', path.join(f, 'run')], protect: [...s.protect, f] }; }, code: 1, message: /notes\.txt/ },
  { name: 'eval of a missing run folder', setup: (d) => ({ argv: ['eval', path.join(d, 'none')], protect: [] }), code: 1, message: /\/none: no such run folder$/ },
  { name: 'eval of a folder without checkpoints', setup: (d) => { write(d, 'mine/a.txt', 'a'); return { argv: ['eval', path.join(d, 'mine')], protect: [path.join(d, 'mine')] }; }, code: 1, message: /\/mine: no checkpoint found/ },
  // --- run folders that are not mmzoo's, or must never be one
  { name: "--out ''", setup: (d) => trainCase(d, TINY, ['--out', '']), code: 2, message: /^--out '': empty path; name a new folder/ },
  { name: '--out . (the working directory)', setup: (d) => ({ ...trainCase(d, TINY, ['--out', '.']), protect: [path.join(trainCase(d, TINY).protect[0])] }), code: 2, message: /^--out '\.': the working directory \(.*\) cannot be a run folder/ },
  { name: '--out .. (above the working directory)', setup: (d) => trainCase(d, TINY, ['--out', '..']), code: 2, message: /^--out '\.\.': a folder above the working directory/ },
  { name: '--out / with --overwrite', setup: (d) => trainCase(d, TINY, ['--out', '/', '--overwrite']), code: 2, message: /^--out '\/': the file-system root \(\/\) cannot be a run folder/ },
  { name: '--out a home directory', setup: (d) => trainCase(d, TINY, ['--out', os.homedir(), '--overwrite']), code: 2, message: /a home directory .* cannot be a run folder/ },
  { name: 'compare --out .', setup: (d) => { const f = write(d, 'cmp.yaml', 'models: [a.yaml]\nbudget: { samples: 64 }\n'); return { argv: ['compare', f, '--out', '.'], protect: [f] }; }, code: 2, message: /^--out '\.': the working directory/ },
  { name: 'compare --out a folder of the user', setup: (d) => { const f = write(d, 'cmp.yaml', 'models: [a.yaml]\nbudget: { samples: 64 }\n'); write(d, 'mine/notes.md', 'x'); return { argv: ['compare', f, '--out', path.join(d, 'mine')], protect: [f, path.join(d, 'mine')] }; }, code: 2, message: /\/mine: not an mmzoo run folder \(it holds notes\.md/ },
  { name: '--force without --resume', setup: (d) => trainCase(d, TINY, ['--force']), code: 2, message: /^--force only applies with --resume/ },
  // --- existing runs: never replaced or resumed by accident, and a failed --resume writes nothing
  { name: 'train into a finished run without --resume or --overwrite', setup: (d) => legacyRun(d, 'train'), code: 1, message: /\/run already holds a run; pass --resume to continue it, --overwrite to replace it/ },
  { name: '--resume of a missing folder', setup: (d) => trainCase(d, TINY, ['--resume']), code: 1, message: /^--resume: .*\/run has no run to resume \(no such folder\)/ },
  { name: '--resume of an empty folder', setup: (d) => { fs.mkdirSync(path.join(d, 'run')); const s = trainCase(d, TINY, ['--resume']); return { ...s, protect: [...s.protect, path.join(d, 'run')] }; }, code: 1, message: /has no run to resume \(the folder is empty\)/ },
  { name: '--resume of a marked run without checkpoints', setup: (d) => { write(d, 'run/.mmzoo-run', '{}'); const s = trainCase(d, TINY, ['--resume']); return { ...s, protect: [...s.protect, path.join(d, 'run')] }; }, code: 1, message: /^--resume: .*\/run has no checkpoint to resume from/ },
  { name: '--resume with a dangling latest and no complete checkpoint', setup: (d) => legacyRun(d, ['--resume'], (run) => { fs.writeFileSync(path.join(run, 'checkpoints/latest'), 'step-000009'); fs.rmSync(path.join(run, 'checkpoints/step-000004/meta.json')); }), code: 1, message: /checkpoints\/latest: names 'step-000009', which does not exist, and no complete checkpoint remains/ },
  { name: '--resume with an empty latest and no complete checkpoint', setup: (d) => legacyRun(d, ['--resume'], (run) => { fs.writeFileSync(path.join(run, 'checkpoints/latest'), ''); fs.writeFileSync(path.join(run, 'checkpoints/step-000004/meta.json'), '{"step"'); }), code: 1, message: /checkpoints\/latest: is empty, and no complete checkpoint remains/ },
  { name: '--resume with a garbage latest and no complete checkpoint', setup: (d) => legacyRun(d, ['--resume'], (run) => { fs.writeFileSync(path.join(run, 'checkpoints/latest'), '../../etc'); fs.rmSync(path.join(run, 'checkpoints/step-000004/model.safetensors')); }), code: 1, message: /checkpoints\/latest: does not name a checkpoint folder \(it holds '\.\.\/\.\.\/etc'\), and no complete checkpoint remains/ },
  { name: '--resume of a checkpoint whose meta.json has no config', setup: (d) => legacyRun(d, ['--resume'], (run) => editMeta(run, (m) => { delete m.config; })), code: 1, message: /step-000004\/meta\.json: has no config; cannot check that --resume continues the same experiment/ },
  { name: '--resume of a checkpoint with a flipped bit', setup: (d) => legacyRun(d, ['--resume'], (run) => { addHashes(run); flipBit(path.join(run, 'checkpoints/step-000004/model.safetensors')); }), code: 1, message: /step-000004\/model\.safetensors: checksum mismatch .*the file is corrupt/ },
  { name: '--resume of a checkpoint with a truncated optimizer file', setup: (d) => legacyRun(d, ['--resume'], (run) => { addHashes(run); const f = path.join(run, 'checkpoints/step-000004/optimizer.safetensors'); fs.truncateSync(f, 100); }), code: 1, message: /optimizer\.safetensors: checksum mismatch .* for 100\): the file is corrupt/ },
  { name: '--resume of a checkpoint with NaN weights', setup: (d) => legacyRun(d, ['--resume', '--set', 'train.steps=6', '--force'], (run) => nanWeights(run)), code: 1, message: /model\.safetensors: tensor '.*' holds a NaN \(element 0 of \d+\); refusing non-finite weights/ },
  { name: '--resume with a changed learning rate and schedule', setup: (d) => legacyRun(d, ['--resume', '--set', 'train.lr=0.01', '--set', 'train.warmupSteps=3']), code: 2, message: /^--resume: the config differs from the checkpoint's \(train\.lr: 0\.001 -> 0\.01; train\.warmupSteps: \d+ -> 3\); pass --force/ },
  { name: '--resume with changed data', setup: (d) => legacyRun(d, ['--resume', '--set', 'data.trainLimit=32']), code: 2, message: /^--resume: the config differs from the checkpoint's \(data\.trainLimit: 64 -> 32\)/ },
  { name: '--resume with a changed batch size and accumulation', setup: (d) => legacyRun(d, ['--resume', '--set', 'train.batchSize=4', '--set', 'train.accumSteps=2']), code: 2, message: /\(train\.accumSteps: 1 -> 2; train\.batchSize: 8 -> 4\)/ },
  { name: '--resume of a finished run (step 4 of 4, results.json written)', setup: (d) => legacyRun(d, ['--resume']), code: 1, message: /^--resume: .*\/run has finished \(step 4 of 4\) and holds its results\.json; to evaluate it again run npx mmzoo eval / },
  { name: '--resume --force with a model whose weights do not fit the checkpoint', setup: (d) => legacyRun(d, ['--resume', '--force', '--set', 'model.embedDim=4', '--set', 'train.steps=6']), code: 1, message: /model\.safetensors: .*shape mismatch/ },
  { name: '--resume of a run held by a live process', setup: (d) => legacyRun(d, ['--resume'], () => { fs.writeFileSync(path.join(d, '.run.lock'), JSON.stringify({ pid: process.ppid, host: os.hostname(), command: 'mmzoo train other.yaml', started: '2026-12-07T09:00:00Z' })); }), code: 1, message: /\/run is in use by mmzoo train other\.yaml \(process \d+ on .* since 2026-12-07T09:00:00Z\)/ },
  { name: '--overwrite of a run held by a live process', setup: (d) => legacyRun(d, ['--overwrite'], () => { fs.writeFileSync(path.join(d, '.run.lock'), JSON.stringify({ pid: process.ppid, host: os.hostname(), command: 'mmzoo train other.yaml', started: 'x' })); }), code: 1, message: /\/run is in use by mmzoo train other\.yaml/ },
  { name: '--overwrite whose new config is invalid keeps the old run', setup: (d) => legacyRun(d, ['--overwrite', '--set', 'model.vision.patchSize=5']), code: 2, message: /model\.vision\.patchSize/ },
  { name: '--overwrite whose data file is missing keeps the old run', setup: (d) => legacyRun(d, ['--overwrite', '--set', 'data.dataset=csv', '--set', `data.train=${path.join(d, 'gone.csv')}`]), code: 1, message: /gone\.csv: file not found$/ },
  { name: 'eval of a checkpoint whose meta.json has no config, without config.yaml', setup: (d) => legacyRun(d, [], (run) => { editMeta(run, (m) => { delete m.config; }); fs.rmSync(path.join(run, 'config.yaml')); }), code: 1, message: /step-000004\/meta\.json has no config and .*\/run\/config\.yaml is missing; cannot rebuild the model/ },
  { name: 'eval without a tokenizer in meta.json or tokenizer.json', setup: (d) => legacyRun(d, [], (run) => { editMeta(run, (m) => { delete m.tokenizer; }); fs.rmSync(path.join(run, 'tokenizer.json')); }), code: 1, message: /\/run: no tokenizer for the model's 'text' input \(the checkpoint's meta\.json has none and tokenizer\.json is missing\)$/ },
  { name: 'eval --checkpoint of a step the run does not have', setup: (d) => legacyEval(d, ['--checkpoint', 'step-000009']), code: 1, message: /^checkpoint 'step-000009': no such file or folder, and .*\/run\/checkpoints has no complete checkpoint of that name or step \(it holds step-000004\)$/ },
  { name: 'eval --checkpoint of a file that is not safetensors', setup: (d) => legacyEval(d, ['--checkpoint', path.join(d, 'run', 'tiny.yaml')]), code: 1, message: /tiny\.yaml: not a checkpoint \(expected a checkpoint folder or a \.safetensors weights file\)$/ },
  { name: 'eval --checkpoint of a folder that is not a checkpoint', setup: (d) => legacyEval(d, ['--checkpoint', path.join(d, 'run')]), code: 1, message: /\/run: not a checkpoint folder/ },
  { name: 'eval of a run held by a live process (a run being trained)', setup: (d) => legacyRun(d, [], () => { fs.writeFileSync(path.join(d, '.run.lock'), JSON.stringify({ pid: process.ppid, host: os.hostname(), command: 'mmzoo train other.yaml', started: 'x' })); }), code: 1, message: /\/run is in use by mmzoo train other\.yaml .*; wait for it to finish$/ },
  { name: 'caption with a run whose model has no text decoder', setup: (d) => { const s = legacyRun(d); return { ...s, argv: ['caption', s.argv[1], path.join(d, 'x.png')] }; }, code: 1, message: /^model 'clip' has no text decoder: it cannot caption images$/ },
  { name: 'eval --data of a missing file', setup: (d) => legacyEval(d, ['--data', path.join(d, 'gone.csv')]), code: 1, message: /^--data .*\/gone\.csv: no such file$/ },
  { name: 'eval --data of an unknown file type', setup: (d) => { write(d, 'caps.txt', 'a'); return legacyEval(d, ['--data', path.join(d, 'caps.txt')]); }, code: 2, message: /^--data .*caps\.txt: unknown file type '\.txt'; expected a config \(\.yaml, \.yml\) or a caption file/ },
  { name: 'eval --data of a config without data: or eval:', setup: (d) => { write(d, 'm.yaml', 'model: { name: clip }\n'); return legacyEval(d, ['--data', path.join(d, 'm.yaml')]); }, code: 2, message: /m\.yaml: has neither a data: nor an eval: section/ },
  { name: 'eval --data of a config with a misspelt data key', setup: (d) => { write(d, 'm.yaml', 'data:\n  trainLimt: 8\n'); return legacyEval(d, ['--data', path.join(d, 'm.yaml')]); }, code: 2, message: /m\.yaml:2:\d+: data\.trainLimt: unknown key, did you mean 'trainLimit'\?/ },
  { name: 'eval --data of a caption file naming a missing image', setup: (d) => { write(d, 'caps.csv', 'image,caption\nimg/9.png,a bag\n'); return legacyEval(d, ['--data', path.join(d, 'caps.csv')]); }, code: 1, message: /img\/9\.png: image file not found$/ },
  { name: 'eval of a checkpoint with a flipped bit', setup: (d) => legacyRun(d, [], (run) => { addHashes(run); flipBit(path.join(run, 'checkpoints/step-000004/model.safetensors')); }), code: 1, message: /model\.safetensors: checksum mismatch/ },
  { name: 'eval of a checkpoint with infinite weights', setup: (d) => legacyRun(d, [], (run) => nanWeights(run, Infinity)), code: 1, message: /holds an infinite value \(element 0 of \d+\); refusing non-finite weights/ },
  // --- tokenizers and the run contract
  { name: 'a tokenizer for an input the model does not take', setup: (d) => trainCase(d, `${TINY}tokenizers:\n  lm: { kind: word }\n`), code: 2, message: /config\.yaml:\d+:\d+: tokenizers\.lm: model 'clip' has no 'lm' input to tokenize \(it takes text\)$/ },
  { name: 'tokenizer: and tokenizers: together', setup: (d) => trainCase(d, `${TINY}tokenizer: { kind: word }\ntokenizers:\n  text: { kind: word }\n`), code: 2, message: /tokenizer: give either tokenizer: \(the text tokenizer\) or tokenizers: \(one per input\), not both/ },
  { name: 'an unknown tokenizer kind', setup: (d) => trainCase(d, `${TINY}tokenizer: { kind: sentencepiece }\n`), code: 2, message: at('tokenizer.kind') },
  { name: 'a bpe tokenizer smaller than the bytes and specials', setup: (d) => trainCase(d, `${TINY}tokenizer: { kind: bpe, vocabSize: 200 }\n`), code: 2, message: /config\.yaml:\d+:\d+: tokenizer\.vocabSize: 200 is not an integer from 258 \(the 256 byte tokens \+ 2 specials\) to 2097152$/ },
  { name: 'a bpe end token that is not a special', setup: (d) => trainCase(d, `${TINY}tokenizers:\n  text: { kind: bpe, vocabSize: 300, specials: ['<pad>'], end: '</s>' }\n`), code: 2, message: /config\.yaml:\d+:\d+: tokenizers\.text\.end: "<\/s>" is not one of the specials \(<pad>\)$/ },
  { name: 'an hf tokenizer file that does not exist', setup: (d) => trainCase(d, `${TINY}tokenizer: { kind: hf, file: missing/tokenizer.json }\n`), code: 1, message: /tokenizers\.text\.file: cannot read .*missing\/tokenizer\.json: no such file$/ },
  { name: 'an hf tokenizer file that is not JSON', setup: (d) => { write(d, 'tok.json', '{ not json'); return trainCase(d, `${TINY}tokenizer: { kind: hf, file: tok.json }\n`); }, code: 1, message: /tokenizers\.text\.file: .*tok\.json is not valid JSON: / },
  // --- batch sizes against the training set (known once the data is loaded)
  { name: 'train.batchSize larger than the training set (fmnist)', setup: (d) => trainCase(d, TINY.replace('trainLimit: 256\n  scenes: { train: 32 }', 'trainLimit: 8')), code: 2, message: /config\.yaml:\d+:\d+: train\.batchSize: 16 is larger than the training set \(8 pairs\)/ },
  { name: 'train.batchSize larger than the training set (--set)', setup: (d) => setCase(d, ['train.batchSize=1000']), code: 2, message: /^--set train\.batchSize=1000: train\.batchSize: 1000 is larger than the training set \(288 pairs\)/ },
  { name: 'train.batchSize larger than a csv training set', setup: (d) => captionData(d, 'csv'), code: 2, message: /train\.batchSize: 16 is larger than the training set \(3 pairs\)/ },
  { name: 'a stage batchSize larger than the training set', setup: (d) => trainCase(d, VLMO.replace('    data: pairs\n', '    data: pairs\n    batchSize: 64\n')), code: 2, message: /config\.yaml:\d+:\d+: stages\[1\]\.batchSize: 64 in stage 'image-text' is larger than the training set \(8 pairs\)/ },
  // --- stages
  { name: 'stages on a model without stagewise training', setup: (d) => trainCase(d, `${TINY}stages:\n  - { name: a, objectives: [itc], data: pairs, steps: 6 }\n`), code: 2, message: /config\.yaml:\d+:\d+: stages: model 'clip' does not support stagewise training/ },
  { name: 'stage with an unknown objective', setup: (d) => trainCase(d, VLMO.replace('objectives: [mim]', 'objectives: [mim, xyz]')), code: 2, message: /config\.yaml:\d+:\d+: stages\[0\]\.objectives/ },
  { name: 'stage objective on data it cannot use', setup: (d) => trainCase(d, VLMO.replace('objectives: [mim]', 'objectives: [itc]')), code: 2, message: /config\.yaml:\d+:\d+: stages\[0\]/ },
  { name: 'stage steps disagree with train.steps', setup: (d) => trainCase(d, VLMO.replace('  batchSize: 4\n', '  batchSize: 4\n  steps: 9\n')), code: 2, message: at('train.steps') },
  { name: 'stage with an invalid regex pattern', setup: (d) => trainCase(d, VLMO.replace('    data: images\n', "    data: images\n    frozen: ['/[/']\n")), code: 2, message: /config\.yaml:\d+:\d+: stages\[0\]\.frozen\[0\]: invalid regular expression/ },
  { name: 'stage with an unknown key', setup: (d) => trainCase(d, VLMO.replace('    data: images\n', '    data: images\n    epochs: 3\n')), code: 2, message: at('stages[0].epochs') },
  { name: 'stage with unknown data', setup: (d) => trainCase(d, VLMO.replace('data: images', 'data: video')), code: 2, message: at('stages[0].data') },
  // --- init: and frozen: (issue 15)
  { name: 'init target that names no part of the model', setup: (d) => trainCase(d, `${TINY}init:\n  visoin: { run: . }\n`), code: 2, message: /config\.yaml:\d+:\d+: init\.visoin: 'visoin' is not 'model', a component of the model or a prefix of its parameters/ },
  { name: 'init from a missing run folder', setup: (d) => trainCase(d, `${TINY}init:\n  vision: { run: runs/nope }\n`), code: 2, message: /config\.yaml:\d+:\d+: init\.vision\.run: \S+\/runs\/nope: no such folder$/ },
  { name: 'init from a config that does not validate', setup: (d) => { write(d, 'clip.yaml', TINY.replace('lr: 1.0e-3', 'lr: fast')); return trainCase(d, `${TINY}init:\n  vision: { config: clip.yaml }\n`); }, code: 2, message: /config\.yaml:\d+:\d+: init\.vision\.config: \S+clip\.yaml:\d+:\d+: train\.lr: / },
  {
    name: 'init tensor of the wrong shape',
    setup: (d) => {
      write(d, 'w.safetensors', Buffer.from(serializeSafetensors({ 'visual.proj': { dtype: 'F32', shape: [3, 3], data: new Float32Array(9) } })));
      return trainCase(d, `${TINY}init:\n  visual.proj: { safetensors: w.safetensors }\n`);
    },
    code: 2,
    message: /config\.yaml:\d+:\d+: init\.visual\.proj: \S+w\.safetensors: 'visual\.proj' is \[3, 3\] but 'visual\.proj' is \[16, 16\]$/,
  },
  { name: 'frozen entry that names no trainable parameter', setup: (d) => trainCase(d, `${TINY}frozen: [txet]\n`), code: 2, message: /config\.yaml:\d+:\d+: frozen\[0\]: 'txet' is neither a component of the model nor a prefix of a trainable parameter/ },
  { name: 'frozen: everything', setup: (d) => trainCase(d, `${TINY}frozen: [model]\n`), code: 2, message: /config\.yaml:\d+:\d+: frozen: leaves no trainable parameter; freeze less$/ },
  // --- data
  { name: 'data.root missing', setup: (d) => trainCase(d, TINY.replace('  trainLimit: 256\n', '  root: no-such-folder\n  trainLimit: 256\n')), code: 1, message: /^data\.root: folder .*no-such-folder does not exist$/ },
  { name: 'no training pairs', setup: (d) => trainCase(d, TINY.replace('  trainLimit: 256\n  scenes: { train: 32 }\n', '  items: false\n')), code: 1, message: /^data: no training pairs/ },
  { name: 'fmnist with 3 channels', setup: (d) => trainCase(d, TINY.replace('channels: 1', 'channels: 3')), code: 1, message: /set model\.vision\.channels: 1/ },
  { name: 'csv dataset without data.train', setup: (d) => trainCase(d, TINY.replace('  trainLimit: 256\n', '  dataset: csv\n  trainLimit: 256\n')), code: 1, message: /^data\.train: a csv file is required/ },
  { name: 'csv train file missing', setup: (d) => trainCase(d, csvConfig('csv', 'missing.csv')), code: 1, message: /missing\.csv: file not found$/ },
  { name: 'csv train path is a folder', setup: (d) => { fs.mkdirSync(path.join(d, 'caps.csv')); return trainCase(d, csvConfig('csv', 'caps.csv')); }, code: 1, message: /caps\.csv: is a folder, expected a \.csv, \.json or \.jsonl file$/ },
  { name: 'csv of unknown extension', setup: (d) => { const f = write(d, 'caps.txt', 'image,caption\n'); const s = trainCase(d, csvConfig('csv', 'caps.txt')); return { ...s, protect: [...s.protect, f] }; }, code: 1, message: /caps\.txt: unknown caption file type/ },
  { name: 'csv with invalid UTF-8', setup: (d) => captionData(d, 'csv', badUtf8('image,caption\nimg/0.png,red\nimg/1.png,caf@\n')), code: 1, message: /caps\.csv:3: invalid UTF-8 \(byte 0xff at column 14\); set data\.encoding if the file is not UTF-8$/ },
  { name: 'jsonl with invalid UTF-8', setup: (d) => captionData(d, 'jsonl', badUtf8('{"image": "img/0.png", "caption": "r@d"}\n')), code: 1, message: /caps\.jsonl:1: invalid UTF-8 \(byte 0xff at column 37\)/ },
  { name: 'coco json with invalid UTF-8', setup: (d) => captionData(d, 'coco', badUtf8('{"images": [{"id": 1, "file_name": "img/0.png"}],\n "annotations": [{"image_id": 1, "caption": "@"}]}\n')), code: 1, message: /caps\.json:2: invalid UTF-8 \(byte 0xff at column 46\)/ },
  { name: 'csv in latin1 read as UTF-8', setup: (d) => captionData(d, 'csv', Buffer.concat([Buffer.from('image,caption\nimg/0.png,caf'), Buffer.from([0xe9]), Buffer.from('\n')])), code: 1, message: /caps\.csv:2: invalid UTF-8 \(byte 0xe9 at column 14\)/ },
  { name: 'csv missing the caption column', setup: (d) => captionData(d, 'csv', 'image,text\nimg/0.png,red\n'), code: 1, message: /caps\.csv:1: missing column "caption"/ },
  { name: 'csv row with an extra column', setup: (d) => captionData(d, 'csv', 'image,caption\nimg/0.png,red\nimg/1.png,red,extra\n'), code: 1, message: /caps\.csv:3: expected 2 columns, found 3$/ },
  { name: 'csv with an unclosed quote', setup: (d) => captionData(d, 'csv', 'image,caption\nimg/0.png,"red\n'), code: 1, message: /caps\.csv:\d+: / },
  { name: 'csv with an empty caption', setup: (d) => captionData(d, 'csv', 'image,caption\nimg/0.png,red\nimg/1.png,  \n'), code: 1, message: /caps\.csv:3: empty caption$/ },
  { name: 'empty csv', setup: (d) => captionData(d, 'csv', ''), code: 1, message: /caps\.csv:1: empty file, expected a header row$/ },
  { name: 'csv naming a missing image', setup: (d) => captionData(d, 'csv', 'image,caption\nimg/0.png,red\nimg/9.png,blue\n'), code: 1, message: /img\/9\.png: image file not found$/ },
  { name: 'csv naming a file that is not an image', setup: (d) => { write(d, 'img/bad.png', 'not a png'); return captionData(d, 'csv', 'image,caption\nimg/bad.png,red\n'); }, code: 1, message: /img\/bad\.png: cannot decode image: / },
  { name: 'jsonl with a malformed line', setup: (d) => captionData(d, 'jsonl', '{"image": "img/0.png", "caption": "red"}\n{"image": "img/1.png", caption: "x"}\n'), code: 1, message: /caps\.jsonl:2: invalid JSON: / },
  { name: 'jsonl line that is not an object', setup: (d) => captionData(d, 'jsonl', '["img/0.png", "red"]\n'), code: 1, message: /caps\.jsonl:1: expected an object with string "image" and "caption"$/ },
  { name: 'coco json malformed', setup: (d) => captionData(d, 'coco', '{"images": [\n  {"id": 1, "file_name": "img/0.png"},\n]}\n'), code: 1, message: /caps\.json(:\d+)?: invalid JSON: Unexpected token ']'.*is not valid JSON$/ },
  { name: 'coco annotation of an unknown image', setup: (d) => captionData(d, 'coco', '{"images": [], "annotations": [{"image_id": 5, "caption": "red"}]}'), code: 1, message: /caps\.json: annotations\[0\]: image_id 5 not in images$/ },
  { name: 'coco json without annotations', setup: (d) => captionData(d, 'coco', '{"images": []}'), code: 1, message: /caps\.json: expected an object with "images" and "annotations" arrays$/ },
  { name: 'csv in latin1 with data.encoding latin1 reads (the batch check then stops it)', setup: (d) => captionData(d, 'csv', Buffer.concat([Buffer.from('image,caption\nimg/0.png,caf'), Buffer.from([0xe9]), Buffer.from('\n')]), '  encoding: latin1\n'), code: 2, message: /train\.batchSize: 16 is larger than the training set \(1 pairs\)/ },
  {
    name: 'csv test file with invalid UTF-8 (the train file is valid)',
    setup: (d) => { const s = captionData(d, 'csv', undefined, '  test: test.csv\n'); const t = write(d, 'test.csv', badUtf8('image,caption\nimg/0.png,@\n')); return { ...s, protect: [...s.protect, t] }; },
    code: 1,
    message: /test\.csv:2: invalid UTF-8 \(byte 0xff at column 11\)/,
  },
  { name: 'jsonl line without a caption', setup: (d) => captionData(d, 'jsonl', '{"image": "img/0.png", "text": "red"}\n'), code: 1, message: /caps\.jsonl:1: expected an object with string "image" and "caption"$/ },
  { name: 'jsonl with an empty image path', setup: (d) => captionData(d, 'jsonl', '{"image": " ", "caption": "red"}\n'), code: 1, message: /caps\.jsonl:1: empty image path$/ },
  { name: 'utf-16 file with a lone surrogate', setup: (d) => captionData(d, 'csv', Buffer.from([0x61, 0x00, 0x00, 0xd8]), '  encoding: utf-16le\n'), code: 1, message: /caps\.csv: not valid utf-16le text \(data\.encoding\)$/ },
];

/** SHA-256 of every file under the protected paths (a folder adds its sorted file list), keyed by path. */
function snapshot(paths: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (p: string) => {
    if (!fs.existsSync(p)) {
      out[p] = 'missing';
      return;
    }
    if (fs.statSync(p).isDirectory()) {
      const names = fs.readdirSync(p).sort();
      out[`${p}/`] = names.join('\n');
      for (const n of names) walk(path.join(p, n));
    } else out[p] = createHash('sha256').update(fs.readFileSync(p)).digest('hex');
  };
  paths.forEach(walk);
  return out;
}

describe('bad input: exit code, one error line naming the place, protected files unchanged', () => {
  test('the cases have distinct names', () => {
    expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length);
  });

  test.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const dir = fs.mkdtempSync(path.join(root, 'case-'));
    const s = c.setup(dir);
    const before = snapshot(s.protect);
    const r = await runMmzoo(s.argv, { MMZOO_BACKEND: 'cpu', ...s.env });
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('mmzoo: '));
    expect({ errors, code: r.code }).toEqual({ errors: [expect.stringMatching(/^mmzoo: /)], code: c.code });
    expect(errors[0].slice('mmzoo: '.length)).toMatch(c.message);
    expect(r.stderr).not.toMatch(/^\s+at /m); // no stack trace
    expect(snapshot(s.protect)).toEqual(before);
  });
});
