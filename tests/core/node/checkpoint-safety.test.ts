import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tf } from '@mmzoo/core';
import {
  cleanUpCheckpointTemps, loadCheckpoint, readCheckpointMeta, resolveLatestCheckpoint, saveCheckpoint, verifyCheckpoint,
  loadWeightsFile,
} from '@mmzoo/train';
import { serializeSafetensors } from '@mmzoo/core/io';
import { FIXTURES, useBackend } from '../../helpers/fixtures';
import { tempDirs } from '../../helpers/temp';

// Issue 14: checkpoints survive a kill at any moment, record and verify SHA-256 hashes, refuse non-finite weights,
// and resume falls back to the newest complete checkpoint when `latest` is broken.
const ROOT = path.join(__dirname, '..', '..', '..');
const CHILD = path.join(ROOT, 'tests', 'helpers', 'checkpoint-child.ts');

const temp = tempDirs('mmzoo-ckpt-');
const tmp = temp.make;
afterAll(temp.cleanUp);
beforeAll(() => useBackend('cpu'));

function vars(value: number) {
  const w = tf.variable(tf.fill([2, 3], value), true, `w${Math.random()}`);
  const m = tf.variable(tf.fill([2, 3], value / 10), false, `m${Math.random()}`);
  return { model: new Map([['w', w]]), opt: new Map([['w.m', m]]), dispose: () => tf.dispose([w, m]) };
}

describe('checkpoint writes', () => {
  test('meta.json records the SHA-256 of each tensor file; a flipped bit is refused, naming the file', async () => {
    const dir = tmp();
    const v = vars(1.5);
    const ck = await saveCheckpoint(dir, v.model, v.opt, { step: 3 });
    const meta = readCheckpointMeta(ck);
    expect(Object.keys(meta.files!).sort()).toEqual(['model.safetensors', 'optimizer.safetensors']);
    const bytes = fs.readFileSync(path.join(ck, 'model.safetensors'));
    expect(meta.files!['model.safetensors'].bytes).toBe(bytes.byteLength);
    expect(verifyCheckpoint(ck)).toBeUndefined();
    bytes[bytes.length - 1] ^= 0x01; // one bit of the last weight
    fs.writeFileSync(path.join(ck, 'model.safetensors'), bytes);
    expect(() => verifyCheckpoint(ck)).toThrow(/model\.safetensors: checksum mismatch .*the file is corrupt/);
    const w = vars(0);
    await expect(loadCheckpoint(ck, w.model, w.opt)).rejects.toThrow(/model\.safetensors: checksum mismatch/);
    expect(Array.from(w.model.get('w')!.dataSync())).toEqual([0, 0, 0, 0, 0, 0]); // nothing assigned
    v.dispose();
    w.dispose();
  });

  test('re-saving the latest step rewrites only its meta.json; a new step gets a new folder and old ones are pruned', async () => {
    const dir = tmp();
    const v = vars(1);
    const first = await saveCheckpoint(dir, v.model, v.opt, { step: 2, note: 'a' });
    const modelFile = path.join(first, 'model.safetensors');
    const before = fs.statSync(modelFile);
    v.model.get('w')!.assign(tf.fill([2, 3], 7)); // would differ if it were written again
    const again = await saveCheckpoint(dir, v.model, v.opt, { step: 2, note: 'b' });
    expect(again).toBe(first);
    expect(fs.statSync(modelFile).ino).toBe(before.ino);
    expect(fs.statSync(modelFile).mtimeMs).toBe(before.mtimeMs);
    expect(readCheckpointMeta(first).note).toBe('b');
    expect(verifyCheckpoint(first)).toBeUndefined();
    await saveCheckpoint(dir, v.model, v.opt, { step: 4 });
    await saveCheckpoint(dir, v.model, v.opt, { step: 6 });
    const names = fs.readdirSync(path.join(dir, 'checkpoints')).sort();
    expect(names).toEqual(['latest', 'step-000004', 'step-000006']);
    v.dispose();
  });

  test('a folder of the same step that latest does not name is never deleted first: the new one takes the next free name', async () => {
    const dir = tmp();
    const v = vars(1);
    await saveCheckpoint(dir, v.model, v.opt, { step: 2 });
    const stray = path.join(dir, 'checkpoints', 'step-000005');
    fs.mkdirSync(stray);
    fs.writeFileSync(path.join(stray, 'note.txt'), 'from another time');
    const ck = await saveCheckpoint(dir, v.model, v.opt, { step: 5 });
    expect(path.basename(ck)).toBe('step-000005.1');
    expect(fs.readFileSync(path.join(dir, 'checkpoints', 'latest'), 'utf8')).toBe('step-000005.1');
    expect(resolveLatestCheckpoint(dir)).toEqual({ dir: ck });
    v.dispose();
  });
});

describe('broken latest pointer', () => {
  const setup = async () => {
    const dir = tmp();
    const v = vars(1);
    await saveCheckpoint(dir, v.model, v.opt, { step: 1 });
    await saveCheckpoint(dir, v.model, v.opt, { step: 2 });
    v.dispose();
    return { dir, latest: path.join(dir, 'checkpoints', 'latest') };
  };
  test.each([
    ['dangling', 'step-000009', /latest names 'step-000009', which does not exist; using the newest complete checkpoint, step-000002/],
    ['empty', '', /latest is empty; using the newest complete checkpoint, step-000002/],
    ['garbage', '\u0000\u0001garbage', /latest does not name a checkpoint folder \(it holds '\?\?garbage'\); using the newest complete checkpoint, step-000002/],
  ])('%s latest falls back to the newest complete checkpoint and says so', async (_name, content, warning) => {
    const { dir, latest } = await setup();
    fs.writeFileSync(latest, content);
    const r = resolveLatestCheckpoint(dir);
    expect(r.dir).toBe(path.join(dir, 'checkpoints', 'step-000002'));
    expect(r.warning).toMatch(warning);
  });

  test('latest naming an incomplete folder falls back; with no complete checkpoint left the error names the file', async () => {
    const { dir, latest } = await setup();
    fs.rmSync(path.join(dir, 'checkpoints', 'step-000002', 'meta.json'));
    expect(resolveLatestCheckpoint(dir).warning).toMatch(/names 'step-000002', which is incomplete.*step-000001/);
    fs.rmSync(path.join(dir, 'checkpoints', 'step-000001'), { recursive: true });
    expect(() => resolveLatestCheckpoint(dir)).toThrow(new RegExp(`^${latest.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: names 'step-000002', which is incomplete .*, and no complete checkpoint remains`));
  });

  test('temporary folders of dead processes are removed, those of live ones kept', async () => {
    const dir = tmp();
    const root = path.join(dir, 'checkpoints');
    fs.mkdirSync(root);
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    fs.mkdirSync(path.join(root, `.tmp-step-000003-${dead}-18c`));
    fs.mkdirSync(path.join(root, `.tmp-step-000003-${process.pid}-18d`));
    const removed = await cleanUpCheckpointTemps(dir);
    expect(removed.map((r) => path.basename(r))).toEqual([`.tmp-step-000003-${dead}-18c`]);
    expect(fs.readdirSync(root)).toEqual([`.tmp-step-000003-${process.pid}-18d`]);
  });
});

describe('non-finite and legacy weights', () => {
  test('a checkpoint whose weights hold NaN or Infinity is refused at load, naming the tensor', async () => {
    const dir = tmp();
    const v = vars(1);
    v.model.get('w')!.assign(tf.tensor2d([[1, 2, NaN], [4, 5, 6]]));
    const ck = await saveCheckpoint(dir, v.model, v.opt, { step: 1 });
    const w = vars(0);
    await expect(loadCheckpoint(ck, w.model, w.opt)).rejects.toThrow(/model\.safetensors: tensor 'w' holds a NaN \(element 2 of 6\); refusing non-finite weights/);
    const file = path.join(dir, 'inf.safetensors');
    fs.writeFileSync(file, serializeSafetensors(new Map([['w', { dtype: 'F32' as const, shape: [2, 3], data: new Float32Array([0, 0, 0, 0, Infinity, 0]) }]])));
    expect(() => loadWeightsFile(file, w.model)).toThrow(/inf\.safetensors: tensor 'w' holds an infinite value \(element 4 of 6\)/);
    v.dispose();
    w.dispose();
  });

  test('a checkpoint written before hashes (committed fixture) loads with a warning', async () => {
    const ck = path.join(FIXTURES, 'run-legacy', 'checkpoints', 'step-000004');
    expect(readCheckpointMeta(ck).files).toBeUndefined();
    expect(verifyCheckpoint(ck)).toMatch(/written before checkpoints recorded SHA-256 hashes; its files are loaded without verification/);
  });
});

describe('a kill at any point of a checkpoint write leaves a resumable checkpoint', () => {
  // the child saves step 1, step 2, then re-saves step 2; each kill point SIGKILLs it at that moment
  test.each([
    ['checkpoint-write:1', 0], ['checkpoint-write:3', 1], ['checkpoint-write:4', 1], ['checkpoint-rename:2', 1], ['checkpoint-latest:2', 2], ['resave', 2], ['none', 2],
  ])('killed at %s: latest is complete, verifies and loads step %i (0 = none yet)', async (point, step) => {
    const dir = tmp();
    const r = spawnSync(process.execPath, ['--require', 'tsx/cjs', CHILD, dir], { cwd: ROOT, env: { ...process.env, MMZOO_TEST_KILL_AT: point }, encoding: 'utf8', timeout: 60000 });
    expect(r.signal).toBe(point === 'none' ? null : 'SIGKILL');
    const found = resolveLatestCheckpoint(dir);
    if (step === 0) {
      expect(found.dir).toBeUndefined();
      return;
    }
    expect(found.warning).toBeUndefined();
    const meta = readCheckpointMeta(found.dir!);
    expect(meta.step).toBe(step);
    expect(verifyCheckpoint(found.dir!)).toBeUndefined();
    const w = vars(0);
    await loadCheckpoint(found.dir!, w.model, w.opt);
    expect(Array.from(w.model.get('w')!.dataSync())).toEqual(new Array(6).fill(step));
    w.dispose();
    // the next save cleans up after the dead writer and goes on normally
    await cleanUpCheckpointTemps(dir);
    expect(fs.readdirSync(path.join(dir, 'checkpoints')).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
  });
});
