import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { chromium } from 'playwright-core';
import { CompareRow, COLUMNS, cell } from '../../packages/cli/src/compare/report';

// `mmzoo compare`: the report files, the n/a rule, failure isolation, and the HTML page in a real browser.
const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'packages', 'cli', 'bin', 'mmzoo.js');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const REPORT = path.join(ROOT, 'packages', 'cli', 'src', 'compare', 'report.ts');

const history = (n: number) => Array.from({ length: n }, (_, i) => ({ step: i + 1, loss: 5 - i * 0.3, parts: {}, lr: 1e-3 }));
const rows: CompareRow[] = [
  {
    name: 'clip-a', model: 'clip', config: 'a.yaml', runDir: '/x', status: 'ok',
    results: {
      params: 1000, towers: { vision: 600, text: 400 }, train: { samplesPerStep: 8, samplesPerSecond: 100, peakRssMB: 900, wallSeconds: 12 },
      metrics: { zeroShotTop1: 0.5, retrieval: { imageToText: { r1: 0.1, r5: 0.2, r10: 0.3 }, textToImage: { r1: 0.11, r5: 0.21, r10: 0.31 } } },
      history: history(5),
    },
  },
  {
    name: 'capt-b', model: 'coca', config: 'b.yaml', runDir: '/y', status: 'reused',
    results: { params: 2000, towers: {}, train: { samplesPerStep: 16, samplesPerSecond: 50, peakRssMB: 1000, wallSeconds: 20 }, metrics: { bleu4: 0.2, cider: 0.9, itmAccuracy: 0 }, history: history(3) },
  },
  { name: 'broken-c', model: '?', config: 'c.yaml', runDir: '', status: 'failed', error: 'model.name: unknown model' },
];

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mmzoo-compare-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('comparison report', () => {
  test('missing metrics are n/a, never 0; a real 0 stays 0', () => {
    const col = (h: string) => COLUMNS.find((c) => c.header === h)!;
    expect(cell(col('BLEU-4'), rows[0])).toBe('n/a');
    expect(cell(col('zero-shot top-1'), rows[1])).toBe('n/a');
    expect(cell(col('ITM accuracy'), rows[1])).toBe('0.0000');
    expect(cell(col('status'), rows[2])).toBe('failed: model.name: unknown model');
  });

  test('writes md, csv, json, plots and a self-contained html page that renders in Chromium', async () => {
    const out = path.join(tmp, 'report');
    // vega is an ES module with top-level await, which jest's CommonJS runtime cannot import: render in a child
    fs.writeFileSync(path.join(tmp, 'rows.json'), JSON.stringify(rows));
    const script = `require(${JSON.stringify(REPORT)}).writeReport(${JSON.stringify(out)}, 'test comparison', require(${JSON.stringify(path.join(tmp, 'rows.json'))}), { samples: 64 }).then((f) => console.log(JSON.stringify(f)))`;
    const child = spawnSync(process.execPath, ['--require', 'tsx/cjs', '-e', script], { cwd: ROOT, encoding: 'utf8' });
    expect(child.stderr).toBe('');
    const files = JSON.parse(child.stdout);
    expect(files).toEqual(['report.md', 'report.csv', 'report.json', 'loss-curves.svg', 'metrics.svg', 'report.html']);
    const csv = fs.readFileSync(path.join(out, 'report.csv'), 'utf8').trim().split('\n');
    expect(csv).toHaveLength(4);
    // plain numbers in the CSV (the Markdown table groups thousands)
    expect(csv[1].startsWith('clip-a,ok,1000,')).toBe(true);
    expect(fs.readFileSync(path.join(out, 'report.md'), 'utf8')).toContain('| clip-a | ok | 1,000 |');
    expect(JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')).rows).toHaveLength(3);
    if (!fs.existsSync(CHROMIUM)) {
      if (process.env.CI) throw new Error(`${CHROMIUM} not found: .ci/run installs Debian's chromium`);
      console.warn(`skipping the browser check: ${CHROMIUM} not found (apt-get install chromium)`);
      return;
    }
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage();
      await page.goto(`file://${path.join(out, 'report.html')}`);
      const modelsInTable = await page.locator('#results tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-model')));
      expect(modelsInTable).toEqual(['clip-a', 'capt-b', 'broken-c']);
      const plots = await page.locator('figure.plot').evaluateAll((figs) =>
        figs.map((f) => {
          const svg = f.querySelector('svg');
          const box = svg?.getBoundingClientRect();
          return { plot: f.getAttribute('data-plot'), width: box?.width ?? 0, height: box?.height ?? 0, marks: svg?.querySelectorAll('path').length ?? 0 };
        }),
      );
      expect(plots.map((p) => p.plot)).toEqual(['loss-curves.svg', 'metrics.svg']);
      for (const p of plots) {
        expect(p.width).toBeGreaterThan(100);
        expect(p.height).toBeGreaterThan(100);
        expect(p.marks).toBeGreaterThan(0);
      }
      const shot = path.join(out, 'report.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect(fs.statSync(shot).size).toBeGreaterThan(10000);
    } finally {
      await browser.close();
    }
  });
});

describe('mmzoo compare', () => {
  test('trains each model under the budget; a broken model fails alone in its row', () => {
    fs.writeFileSync(path.join(tmp, 'tiny.yaml'), `model:
  name: clip
  embedDim: 16
  vision: { imageSize: 28, patchSize: 7, channels: 1, width: 16, layers: 1, numHeads: 2 }
  text: { contextLength: 16, width: 16, layers: 1, numHeads: 2, pool: eot }
train: { batchSize: 16, steps: 1000, lr: 1.0e-3, logEvery: 1 }
eval: { retrievalGallery: 40, batchSize: 1000 }
`);
    fs.writeFileSync(path.join(tmp, 'broken.yaml'), 'model:\n  name: nosuchmodel\ntrain: { steps: 1, lr: 1 }\n');
    const cmp = path.join(tmp, 'cmp.yaml');
    fs.writeFileSync(cmp, 'models: [tiny.yaml, broken.yaml]\nbudget: { samples: 48 }\noverrides: { data.trainLimit: 128, data.scenes.train: 0 }\n');
    const out = path.join(tmp, 'cmp-out');
    const r = spawnSync(process.execPath, [BIN, 'compare', cmp, '--out', out], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, MMZOO_BACKEND: 'wasm' }, timeout: 600000 });
    expect(r.status).toBe(0);
    const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8'));
    expect(report.rows.map((x: CompareRow) => x.status)).toEqual(['ok', 'failed']);
    expect(report.rows[0].results.train.steps).toBe(3); // 48 samples / batch 16
    expect(report.rows[1].error).toMatch(/unknown model 'nosuchmodel'/);
    for (const f of ['report.md', 'report.csv', 'report.html', 'loss-curves.svg']) expect(fs.existsSync(path.join(out, f))).toBe(true);
    // a second run reuses the finished run folder (same config hash)
    const again = spawnSync(process.execPath, [BIN, 'compare', cmp, '--out', out], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, MMZOO_BACKEND: 'wasm' }, timeout: 600000 });
    expect(again.status).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')).rows[0].status).toBe('reused');
  });
});
