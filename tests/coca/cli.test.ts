import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { buildScenes, EMBEDDED_FASHION_MNIST_ROOT, loadFashionMnist } from '@mmzoo/train';
import { loadExperiment } from '../../packages/cli/src/experiment';

// CoCa through the `mmzoo` command as a user runs it: the shipped configs validate, a tiny run trains, reports
// caption metrics beside their constant baselines, and `mmzoo caption` captions image files.
const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'packages', 'cli', 'bin', 'mmzoo.js');

function mmzoo(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, MMZOO_BACKEND: 'wasm' }, timeout: 600000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mmzoo-coca-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('the shipped CoCa configs validate; the paper designs are their defaults', () => {
  for (const f of ['configs/coca/fmnist-scenes-tiny.yaml', 'configs/coca/base.yaml']) {
    const loaded = loadExperiment(path.join(ROOT, f), [], { modelOnly: f.endsWith('base.yaml') });
    expect(loaded.config.model.name).toBe('coca');
    expect(loaded.config.model.vision.poolers).toBe('paper');
    expect(loaded.config.model.text.clsMask).toBe('paper');
  }
});

const TINY = `# tiny CoCa test config
model:
  name: coca
  embedDim: 16
  vision: { imageSize: 28, patchSize: 7, channels: 1, width: 16, layers: 1, numHeads: 2, numQueries: 4, poolerHeads: 2 }
  text: { contextLength: 24, width: 16, layers: 1, numHeads: 2 }
  decoder: { layers: 1, numHeads: 2 }
  caption: { strategy: greedy, maxLength: 6, testScenes: 12 }
data:
  items: false
  scenes: { train: 64 }
train:
  batchSize: 16
  steps: 3
  lr: 1.0e-3
eval:
  zeroShot: false
  retrievalGallery: 20
`;

test('mmzoo train reports bleu4 / cider beside their constant baselines; mmzoo caption prints captions', async () => {
  const cfg = path.join(tmp, 'coca-tiny.yaml');
  fs.writeFileSync(cfg, TINY);
  const run = path.join(tmp, 'run');
  const t = mmzoo(['train', cfg, '--out', run]);
  expect(t.stderr).not.toMatch(/mmzoo: /);
  expect(t.code).toBe(0);
  const results = JSON.parse(fs.readFileSync(path.join(run, 'results.json'), 'utf8'));
  const m = results.metrics;
  for (const k of ['bleu1', 'bleu4', 'cider', 'bleu4ConstantBaseline', 'ciderConstantBaseline']) {
    expect(typeof m[k]).toBe('number');
    expect(m[k]).toBeGreaterThanOrEqual(0);
  }
  expect(m.captionedImages).toBe(12);
  expect(m.bleu4ConstantBaseline).toBeGreaterThan(0);
  expect(m.retrieval.textToImage.r1).toBeGreaterThanOrEqual(0);
  expect(Object.keys(results.history[0].parts).sort()).toEqual(['cap', 'itc']);

  const scenes = buildScenes(loadFashionMnist(EMBEDDED_FASHION_MNIST_ROOT, 'test'), 2, 1);
  const files: string[] = [];
  for (let i = 0; i < 2; i++) {
    const f = path.join(tmp, `scene${i}.png`);
    await sharp(Buffer.from(scenes.images.images.subarray(i * 56 * 56, (i + 1) * 56 * 56)), { raw: { width: 56, height: 56, channels: 1 } }).png().toFile(f);
    files.push(f);
  }
  const c = mmzoo(['caption', run, ...files]);
  expect(c.code).toBe(0);
  const lines = c.stdout.trim().split('\n');
  expect(lines.map((l) => l.split('\t')[0])).toEqual(files);
  for (const l of lines) expect(l.split('\t')[1].length).toBeGreaterThan(0);

  const bad = mmzoo(['caption', run, files[0], '--set', 'caption.beamWidth=2']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/model\.caption: Unrecognized key: "beamWidth"/);
  const missing = mmzoo(['caption', run, path.join(tmp, 'nope.png')]);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toMatch(/nope\.png: image file not found/);
});
