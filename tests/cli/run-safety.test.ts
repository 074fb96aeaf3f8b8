import { spawn, spawnSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FIXTURES } from '../helpers/fixtures';

// Issue 14, as a user meets it: one writer per run folder, --overwrite that loses nothing, kills at named points
// that resume to the same weights as an uninterrupted run, resume checks, and runs from before markers.
const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'packages', 'cli', 'bin', 'mmzoo.js');
const ENV = { ...process.env, MMZOO_BACKEND: 'cpu', MMZOO_TEST_KILL_AT: '' };

function mmzoo(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...ENV, ...env }, timeout: 300000 });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, error: errorLine(r.stderr) };
}

function mmzooAsync(args: string[], onStderr?: (all: string) => void): Promise<{ code: number | null; stderr: string; error: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: ENV });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      onStderr?.(stderr);
    });
    child.stdout.resume();
    child.on('close', (code) => resolve({ code, stderr, error: errorLine(stderr) }));
  });
}

/** The `mmzoo: ...` error line of a command (empty when it printed none). */
function errorLine(stderr: string): string {
  return stderr.split('\n').filter((l) => l.startsWith('mmzoo: ')).join('\n');
}

/** SHA-256 of every file under a folder, by relative path. */
function hashTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[path.relative(dir, p)] = createHash('sha256').update(fs.readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mmzoo-safety-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const config = (steps: number, extra = '') => {
  const f = path.join(tmp, `tiny-${steps}${extra ? '-x' : ''}.yaml`);
  fs.writeFileSync(f, `model:
  name: clip
  embedDim: 8
  vision: { imageSize: 28, patchSize: 14, channels: 1, width: 8, layers: 1, numHeads: 2 }
  text: { contextLength: 8, width: 8, layers: 1, numHeads: 2, pool: eot }
data:
  trainLimit: 64
  scenes: { train: 8 }
train:
  batchSize: 8
  steps: ${steps}
  lr: 1.0e-3
  warmupSteps: 1
  checkpointEvery: 2
  logEvery: 1
eval:
  zeroShot: false
  retrievalGallery: 0
${extra}`);
  return f;
};

const finalWeights = (run: string) => fs.readFileSync(path.join(run, 'checkpoints', fs.readFileSync(path.join(run, 'checkpoints', 'latest'), 'utf8'), 'model.safetensors'));

describe('one writer per run folder', () => {
  test('two trainings started at once on one folder: exactly one runs, the other exits with the lock message', async () => {
    const cfg = config(6);
    const out = path.join(tmp, 'both');
    const [a, b] = await Promise.all([mmzooAsync(['train', cfg, '--out', out]), mmzooAsync(['train', cfg, '--out', out])]);
    expect([a.code, b.code].sort()).toEqual([0, 1]);
    const loser = a.code === 1 ? a : b;
    expect(loser.error).toMatch(new RegExp(`^mmzoo: ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is in use by mmzoo train .*tiny-6\\.yaml \\(process \\d+ on .* since .*\\); wait for it to finish or use another --out$`));
    expect(JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')).train.steps).toBe(6);
    expect(fs.existsSync(path.join(tmp, '.both.lock'))).toBe(false);
  });

  test('--overwrite during a running training is refused and the running training finishes', async () => {
    const cfg = config(40);
    const out = path.join(tmp, 'running');
    let second: ReturnType<typeof mmzoo> | undefined;
    const first = await mmzooAsync(['train', cfg, '--out', out], (s) => {
      if (!second && /step 2\/40 /.test(s)) second = mmzoo(['train', cfg, '--out', out, '--overwrite']);
    });
    expect(second?.code).toBe(1);
    expect(second?.error).toMatch(/running is in use by mmzoo train .*; wait for it to finish or use another --out/);
    expect(first.code).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')).train.steps).toBe(40);
  });
});

describe('stop requests are handled at the next step, not the next checkpoint', () => {
  test.each(['SIGINT', 'SIGTERM'] as const)('%s at step 3 of 40 (checkpoints every 100) saves within a step or two and exits 130; the hint resumes it', async (signal) => {
    const cfg = config(40);
    const out = path.join(tmp, `stop-${signal}`);
    let sent = false;
    const child = spawn(process.execPath, [BIN, 'train', cfg, '--out', out, '--set', 'train.checkpointEvery=100'], { cwd: ROOT, env: ENV });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (!sent && /step 3\/40 /.test(stderr)) {
        sent = true;
        child.kill(signal);
      }
    });
    child.stdout.resume();
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(code).toBe(130);
    const step = JSON.parse(fs.readFileSync(path.join(out, 'checkpoints', fs.readFileSync(path.join(out, 'checkpoints', 'latest'), 'utf8'), 'meta.json'), 'utf8')).step;
    expect(step).toBeGreaterThanOrEqual(3);
    expect(step).toBeLessThanOrEqual(5);
    const hint = /Continue with: npx mmzoo train (.*)$/m.exec(stderr)![1];
    expect(hint).toContain('--set train.checkpointEvery=100');
    expect(mmzoo(['train', ...hint.split(' ')]).code).toBe(0);
  });
});

describe('--overwrite and --resume lose nothing', () => {
  let done: string;
  let hashes: Record<string, string>;
  beforeAll(() => {
    done = path.join(tmp, 'done');
    expect(mmzoo(['train', config(4), '--out', done]).code).toBe(0);
    hashes = hashTree(done);
  });

  test('--overwrite whose new run cannot open its data deletes nothing', () => {
    const r = mmzoo(['train', config(4), '--out', done, '--overwrite', '--set', 'data.dataset=csv', '--set', `data.train=${path.join(tmp, 'missing.csv')}`]);
    expect(r.code).toBe(1);
    expect(r.error).toMatch(/missing\.csv: file not found/);
    expect(hashTree(done)).toEqual(hashes);
  });

  test('--resume of a finished run is refused and leaves it byte for byte (its results.json keeps the training figures)', () => {
    const r = mmzoo(['train', config(4), '--out', done, '--resume']);
    expect(r.code).toBe(1);
    expect(r.error).toMatch(/^mmzoo: --resume: .*done has finished \(step 4 of 4\) and holds its results\.json; to evaluate it again run npx mmzoo eval .*done, to train further raise train\.steps/);
    expect(hashTree(done)).toEqual(hashes);
  });

  test('Ctrl-C of an --overwrite before its first scheduled checkpoint puts the old run back (exit 130)', async () => {
    const child = spawn(process.execPath, [BIN, 'train', config(40), '--out', done, '--overwrite', '--set', 'train.checkpointEvery=100'], { cwd: ROOT, env: ENV });
    let stderr = '';
    let sent = false;
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (!sent && /step 3\/40 /.test(stderr)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    child.stdout.resume();
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(code).toBe(130);
    expect(stderr).toMatch(/--overwrite: interrupted before the new run's first checkpoint; restored the old run in .*done/);
    expect(hashTree(done)).toEqual(hashes);
    expect(fs.readdirSync(tmp).filter((n) => n.startsWith('.done.replaced-'))).toEqual([]);
  });

  test('a kill right after --overwrite moved the old run aside: the next start puts it back', () => {
    const r = mmzoo(['train', config(4), '--out', done, '--overwrite'], { MMZOO_TEST_KILL_AT: 'overwrite-aside' });
    expect(r.signal).toBe('SIGKILL');
    expect(fs.readdirSync(tmp).filter((n) => n.startsWith('.done.replaced-'))).toHaveLength(1);
    const again = mmzoo(['train', config(4), '--out', done]);
    expect(again.code).toBe(1);
    expect(again.error).toMatch(/done already holds a run; pass --resume to continue it, --overwrite to replace it/);
    expect(again.stderr).toMatch(/restored .*done from .*\.done\.replaced-\d+/);
    expect(hashTree(done)).toEqual(hashes);
  });

  test('--resume with a changed config is refused listing the differences and writes nothing; --force accepts and logs them', () => {
    const cfg = config(4);
    const r = mmzoo(['train', cfg, '--out', done, '--resume', '--set', 'train.lr=0.002', '--set', 'train.batchSize=4']);
    expect(r.code).toBe(2);
    expect(r.error).toBe('mmzoo: --resume: the config differs from the checkpoint\'s (train.batchSize: 8 -> 4; train.lr: 0.001 -> 0.002); pass --force to continue with the new values');
    expect(hashTree(done)).toEqual(hashes);
    const f = mmzoo(['train', cfg, '--out', done, '--resume', '--force', '--set', 'train.steps=6']);
    expect(f.code).toBe(0);
    expect(fs.readFileSync(path.join(done, 'train.log'), 'utf8')).toMatch(/--force: resuming with a config that differs from the checkpoint's: train.steps: 4 -> 6/);
    expect(JSON.parse(fs.readFileSync(path.join(done, 'results.json'), 'utf8')).train.steps).toBe(6);
  });

  test('--resume and --overwrite together are an error', () => {
    const r = mmzoo(['train', config(4), '--out', done, '--resume', '--overwrite']);
    expect(r.code).toBe(2);
    expect(r.error).toMatch(/--resume and --overwrite together/);
  });
});

describe('kill -9 at named points, then --resume: the same weights as an uninterrupted run', () => {
  let reference: Buffer;
  beforeAll(() => {
    const out = path.join(tmp, 'uninterrupted');
    expect(mmzoo(['train', config(6), '--out', out]).code).toBe(0);
    reference = finalWeights(out);
  });
  // checkpoints at steps 2, 4 and 6; each checkpoint passes checkpoint-write twice (model, optimizer)
  test.each(['checkpoint-write:3', 'checkpoint-rename:2', 'checkpoint-latest:2'])('killed at %s', (point) => {
    const out = path.join(tmp, `killed-${point.replace(':', '-')}`);
    const r = mmzoo(['train', config(6), '--out', out], { MMZOO_TEST_KILL_AT: point });
    expect(r.signal).toBe('SIGKILL');
    const resumed = mmzoo(['train', config(6), '--out', out, '--resume']);
    expect(resumed.code).toBe(0);
    expect(finalWeights(out).equals(reference)).toBe(true);
    expect(fs.readdirSync(path.join(out, 'checkpoints')).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
  });
});

describe('a run folder from before markers and hashes (tests/fixtures/run-legacy)', () => {
  test('eval loads it with a warning; --resume marks it and continues to more steps', () => {
    const run = path.join(tmp, 'legacy');
    fs.cpSync(path.join(FIXTURES, 'run-legacy'), run, { recursive: true });
    const cfg = path.join(run, 'tiny.yaml');
    const plain = mmzoo(['train', cfg, '--out', run]);
    expect(plain.code).toBe(1);
    expect(plain.error).toMatch(/legacy already holds a run; pass --resume/);
    const ev = mmzoo(['eval', run]);
    expect(ev.code).toBe(0);
    expect(ev.stderr).toMatch(/written before checkpoints recorded SHA-256 hashes/);
    const results = JSON.parse(fs.readFileSync(path.join(run, 'results.json'), 'utf8'));
    expect(results.train.steps).toBe(4);
    const r = mmzoo(['train', cfg, '--out', run, '--resume', '--force', '--set', 'train.steps=6']);
    expect(r.code).toBe(0);
    expect(fs.existsSync(path.join(run, '.mmzoo-run'))).toBe(true);
    expect(JSON.parse(fs.readFileSync(path.join(run, 'results.json'), 'utf8')).train.steps).toBe(6);
  });
});
