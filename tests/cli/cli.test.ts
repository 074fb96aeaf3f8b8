import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { TINY_CLIP_YAML } from '../helpers/configs';

// The `mmzoo` command as a user runs it (a child process), including its errors and exit codes.
const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'packages', 'cli', 'bin', 'mmzoo.js');

function mmzoo(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, MMZOO_BACKEND: 'wasm', ...env }, timeout: 300000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mmzoo-cli-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The error lines a command printed (its log lines aside): exactly one, without a stack trace. */
function errorLines(stderr: string): string[] {
  const lines = stderr.trim().split('\n').filter((l) => !/^\[\d\d:\d\d:\d\d\] (INFO|WARN)/.test(l));
  expect(lines.filter((l) => /^\s+at /.test(l))).toEqual([]);
  return lines;
}

function writeConfig(name: string, text: string): string {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, text);
  return f;
}

const TINY = TINY_CLIP_YAML;

describe('mmzoo CLI', () => {
  test('unknown commands and flags print usage and exit 2', () => {
    const a = mmzoo(['frobnicate']);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/unknown command 'frobnicate'/);
    expect(a.stderr).toMatch(/Usage: mmzoo/);
    const b = mmzoo(['train', 'x.yaml', '--bogus']);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/unknown option '--bogus'/);
  });

  test('info prints the paper parameter count of CLIP ViT-B/32', () => {
    const r = mmzoo(['info', 'configs/clip/vit-b-32.yaml']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/total parameters\s+151,277,313/);
    expect(r.stdout).toMatch(/vision\s+87,849,216/);
  });

  test('info --all puts every preset beside its published parameter count', () => {
    const r = mmzoo(['info', '--all']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/configs\/clip\/vit-b-32\.yaml\s+clip\s+151,277,313\s+151,277,313\s+\+0 \(0\.0%\)/);
    expect(r.stdout).toMatch(/configs\/vlmo\/base\.yaml\s+vlmo\s+208,715,166\s+175,000,000/);
    expect(r.stdout).toMatch(/configs\/beit3\/base\.yaml\s+beit3\s+276,510,730\s+276,000,000/);
    // BLIP-2 (issue 17): a preset with frozen: is compared by its trainable count, the Q-Former's
    expect(r.stdout).toMatch(/configs\/blip2\/pretrain-stage1\.yaml\s+blip2\s+186,705,470\s+188,000,000\s+-1,294,530 \(-0\.7%\)/);
    // the decoder LMs (issue 16), counted exactly: GPT-2 with lm_head tied to wte, OPT with its 2 offset position rows
    expect(r.stdout).toMatch(/configs\/lm\/gpt2-124m\.yaml\s+gpt2\s+124,439,808\s+124,439,808\s+\+0 \(0\.0%\)/);
    expect(r.stdout).toMatch(/configs\/lm\/opt-125m\.yaml\s+opt\s+125,239,296\s+125,239,296\s+\+0 \(0\.0%\)/);
  });

  test('configs lists the shipped configs', () => {
    const r = mmzoo(['configs']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/configs\/clip\/fmnist-tiny\.yaml/);
    expect(r.stdout).toMatch(/configs\/clip\/vit-b-32\.yaml/);
  });

  test('malformed YAML is a one-line error naming file and line', () => {
    const f = writeConfig('bad.yaml', 'model:\n  name: clip\n  vision: [1, 2\ntrain: {}\n');
    const r = mmzoo(['train', f]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`${f}:`);
    expect(r.stderr).toMatch(/malformed YAML/);
  });

  test('unknown keys and wrong types name the YAML path and line', () => {
    const f = writeConfig('unknown.yaml', TINY.replace('  lr: 1.0e-3', '  lr: fast\n  lrr: 3'));
    const r = mmzoo(['train', f]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`${f.replace(/[.]/g, '\\.')}:\\d+:\\d+: train\\.lr: expected number`));
    expect(r.stderr).toMatch(/train\.lrr: unknown key/);
    const g = writeConfig('unknown-model.yaml', TINY.replace('name: clip', 'name: clipp'));
    const m = mmzoo(['train', g]);
    expect(m.code).toBe(2);
    expect(m.stderr).toMatch(/:3:9: model\.name: unknown model 'clipp'; registered models: clip/);
  });

  test('a missing data folder and a malformed CSV row are one-line errors naming the place', () => {
    const f = writeConfig('nodata.yaml', TINY.replace('  trainLimit: 256', '  root: /nonexistent/fmnist'));
    const r = mmzoo(['train', f, '--out', path.join(tmp, 'r0')]);
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/data\.root: folder \/nonexistent\/fmnist does not exist/);
    fs.writeFileSync(path.join(tmp, 'caps.csv'), 'image,caption\na.png,a bag\nb.png\n');
    const c = writeConfig('csv.yaml', TINY.replace(/data:\n  trainLimit: 256\n  scenes: \{ train: 32 \}/, 'data:\n  dataset: csv\n  train: caps.csv'));
    const s = mmzoo(['train', c, '--out', path.join(tmp, 'r1')]);
    expect(s.code).toBe(1);
    expect(errorLines(s.stderr)).toHaveLength(1);
    expect(s.stderr).toMatch(/caps\.csv:3:/);
  });

  test('train writes results.json, curves and checkpoints; eval re-evaluates the run into evals/, leaving results.json', () => {
    const f = writeConfig('tiny.yaml', TINY);
    const out = path.join(tmp, 'run');
    const r = mmzoo(['train', f, '--out', out]);
    expect(r.stderr).not.toMatch(/mmzoo:/);
    expect(r.code).toBe(0);
    const res = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
    expect(res.model).toBe('clip');
    expect(res.backend).toBe('wasm');
    expect(res.train.steps).toBe(6);
    for (const k of ['samplesPerSecond', 'wallSeconds', 'peakRssMB', 'initialLoss', 'finalLoss']) expect(Number.isFinite(res.train[k])).toBe(true);
    expect(res.metrics.zeroShotTop1).toBeGreaterThanOrEqual(0);
    expect(res.metrics.zeroShotTop5).toBeGreaterThanOrEqual(res.metrics.zeroShotTop1);
    for (const dir of ['imageToText', 'textToImage']) {
      const d = res.metrics.retrieval[dir];
      expect(d.r10).toBeGreaterThanOrEqual(d.r5);
      expect(d.chance.r1).toBeGreaterThan(0);
    }
    expect(fs.readFileSync(path.join(out, 'curves.svg'), 'utf8')).toMatch(/^<svg/);
    expect(fs.readFileSync(path.join(out, 'train.log'), 'utf8').split('\n')[0]).toMatch(/^\{"level":/);
    expect(fs.readFileSync(path.join(out, 'checkpoints', 'latest'), 'utf8')).toBe('step-000006');
    expect(r.stdout).toMatch(/zero-shot top-1/);
    // a second train into the same folder refuses to clobber it
    const again = mmzoo(['train', f, '--out', out]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already holds a run; pass --resume/);
    const saved = fs.readFileSync(path.join(out, 'results.json'), 'utf8');
    const e = mmzoo(['eval', out]);
    expect(e.code).toBe(0);
    const res2 = JSON.parse(fs.readFileSync(path.join(out, 'evals', '001-step-000006-run.json'), 'utf8'));
    expect(res2.metrics.zeroShotTop1).toBeCloseTo(res.metrics.zeroShotTop1, 6);
    expect(fs.readFileSync(path.join(out, 'results.json'), 'utf8')).toBe(saved);
  });

  test('Ctrl-C saves a checkpoint and exits 130; --resume finishes the run', async () => {
    const f = writeConfig('sigint.yaml', TINY.replace('  steps: 6', '  steps: 40').replace('  logEvery: 2', '  logEvery: 1'));
    const out = path.join(tmp, 'sigint-run');
    const child = spawn(process.execPath, [BIN, 'train', f, '--out', out], { cwd: ROOT, env: { ...process.env, MMZOO_BACKEND: 'wasm' } });
    let stderr = '';
    const code = await new Promise<number | null>((resolve) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (/step 3\/40 /.test(stderr) && !child.killed) child.kill('SIGINT');
      });
      child.on('close', resolve);
    });
    expect(code).toBe(130);
    expect(stderr).toMatch(/checkpoint saved/);
    const step = Number(fs.readFileSync(path.join(out, 'checkpoints', 'latest'), 'utf8').replace('step-', ''));
    expect(step).toBeGreaterThanOrEqual(3);
    expect(step).toBeLessThan(40);
    const r = mmzoo(['train', f, '--out', out, '--resume', '--set', 'eval.zeroShot=false', '--set', 'eval.retrievalGallery=0']);
    // the resumed config must be the same run: overriding eval settings does not change training
    expect(r.code).toBe(0);
    expect(fs.readFileSync(path.join(out, 'checkpoints', 'latest'), 'utf8')).toBe('step-000040');
    expect(r.stderr).toMatch(new RegExp(`resumed from .*step-${String(step).padStart(6, '0')} at step ${step}`));
  });
});
