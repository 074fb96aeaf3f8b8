import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  acquireRunLock, checkRunFolderPath, cleanUpAside, ensureRunFolder, lockPath, moveAside, restoreAside, runFolderState,
  RUN_MARKER, LOCK_STALE_SECONDS,
} from '@mmzoo/train';
import { tempDirs } from '../../helpers/temp';

// Issue 14: mmzoo writes only into folders it created (marker), refuses dangerous --out paths, and holds one
// exclusive lock per run folder.
const temp = tempDirs('mmzoo-runfolder-');
const tmp = temp.make;
afterAll(temp.cleanUp);

const deadPid = () => Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);

describe('run-folder paths', () => {
  test.each([
    ['', /--out '': empty path/],
    ['.', /--out '\.': the working directory \(.*\) cannot be a run folder/],
    ['./', /the working directory/],
    [process.cwd(), /the working directory/],
    ['..', /a folder above the working directory/],
    ['/', /--out '\/': the file-system root \(\/\) cannot be a run folder/],
    [os.homedir(), /a home directory/],
    ['/home/someone', /a home directory/],
    ['/root', /a home directory/],
  ])('%j is refused', (out, message) => {
    expect(() => checkRunFolderPath(out)).toThrow(message);
  });

  test('ordinary paths resolve', () => {
    expect(checkRunFolderPath('runs/x')).toBe(path.resolve('runs/x'));
    expect(checkRunFolderPath('/home/someone/runs/x')).toBe('/home/someone/runs/x');
  });
});

describe('run-folder states and markers', () => {
  test('missing and empty folders are created or adopted and marked; a folder of user files is refused, untouched', () => {
    const d = tmp();
    const fresh = path.join(d, 'new');
    expect(runFolderState(fresh)).toBe('missing');
    ensureRunFolder(fresh, 'mmzoo train');
    expect(runFolderState(fresh)).toBe('marked');
    expect(JSON.parse(fs.readFileSync(path.join(fresh, RUN_MARKER), 'utf8')).createdBy).toBe('mmzoo train');
    const empty = path.join(d, 'empty');
    fs.mkdirSync(empty);
    expect(runFolderState(empty)).toBe('empty');
    ensureRunFolder(empty, 'mmzoo train');
    expect(runFolderState(empty)).toBe('marked');
    const user = path.join(d, 'user');
    fs.mkdirSync(user);
    fs.writeFileSync(path.join(user, 'config.yaml'), 'mine');
    expect(runFolderState(user)).toBe('foreign');
    expect(() => ensureRunFolder(user, 'mmzoo train')).toThrow(/user: not an mmzoo run folder \(it holds config\.yaml; no \.mmzoo-run marker\)/);
    expect(fs.readdirSync(user)).toEqual(['config.yaml']);
    const file = path.join(d, 'file');
    fs.writeFileSync(file, 'x');
    expect(() => ensureRunFolder(file, 'mmzoo train')).toThrow(/file: is a file, not a folder/);
  });

  test('an unmarked folder holding checkpoints/latest is a run from before markers; ensureRunFolder marks it as adopted', () => {
    const d = path.join(tmp(), 'old');
    fs.mkdirSync(path.join(d, 'checkpoints'), { recursive: true });
    fs.writeFileSync(path.join(d, 'checkpoints', 'latest'), 'step-000004');
    expect(runFolderState(d)).toBe('legacy');
    ensureRunFolder(d, 'mmzoo train');
    expect(JSON.parse(fs.readFileSync(path.join(d, RUN_MARKER), 'utf8')).adopted).toBe(true);
  });

  test('a run moved aside by --overwrite is restored when its replacement died before a checkpoint, else deleted', () => {
    const d = tmp();
    const run = path.join(d, 'run');
    const hasCkpt = (p: string) => fs.existsSync(path.join(p, 'checkpoints', 'latest'));
    fs.mkdirSync(path.join(run, 'checkpoints'), { recursive: true });
    fs.writeFileSync(path.join(run, 'checkpoints', 'latest'), 'step-000001');
    const aside = moveAside(run);
    expect(fs.existsSync(run)).toBe(false);
    // simulate the dead process: rename the aside folder to another pid's name
    const dead = aside.replace(/\d+$/, String(deadPid()));
    fs.renameSync(aside, dead);
    fs.mkdirSync(run); // the replacement's folder, no checkpoint yet
    expect(cleanUpAside(run, hasCkpt)).toEqual([expect.stringMatching(/restored .*run from .*: the --overwrite that moved it aside .* ended before its first checkpoint/)]);
    expect(hasCkpt(run)).toBe(true);
    expect(fs.existsSync(dead)).toBe(false);
    // the replacement got its checkpoint: leftovers go
    fs.mkdirSync(dead);
    expect(cleanUpAside(run, hasCkpt)).toEqual([expect.stringMatching(/removed .*replaced-\d+, left by an --overwrite/)]);
    expect(fs.existsSync(dead)).toBe(false);
    const again = moveAside(run);
    restoreAside(again, run);
    expect(hasCkpt(run)).toBe(true);
  });
});

describe('run lock', () => {
  test('a second holder is refused with the holder named; release frees it', () => {
    const run = path.join(tmp(), 'run');
    const a = acquireRunLock(run, 'mmzoo train a.yaml');
    expect(a.file).toBe(lockPath(run));
    expect(path.basename(a.file)).toBe('.run.lock');
    const info = JSON.parse(fs.readFileSync(a.file, 'utf8'));
    expect(info).toMatchObject({ pid: process.pid, host: os.hostname(), command: 'mmzoo train a.yaml' });
    // another process's live lock: this process's own lock file with a live foreign pid (the parent of jest)
    a.release();
    expect(fs.existsSync(lockPath(run))).toBe(false);
    fs.writeFileSync(lockPath(run), JSON.stringify({ pid: process.ppid, host: os.hostname(), command: 'mmzoo train b.yaml', started: '2026-12-07T10:00:00Z' }));
    expect(() => acquireRunLock(run, 'mmzoo train c.yaml')).toThrow(new RegExp(`run is in use by mmzoo train b\\.yaml \\(process ${process.ppid} on .* since 2026-12-07T10:00:00Z\\); wait for it to finish or use another --out`));
    fs.rmSync(lockPath(run));
  });

  test('a lock whose process is dead on this host, or whose heartbeat is older than a minute, is taken over with a warning', () => {
    const run = path.join(tmp(), 'run');
    fs.writeFileSync(lockPath(run), JSON.stringify({ pid: deadPid(), host: os.hostname(), command: 'mmzoo train x', started: 'then' }));
    const warnings: string[] = [];
    const a = acquireRunLock(run, 'mmzoo train y', (w) => warnings.push(w));
    expect(warnings).toEqual([expect.stringMatching(/taking over the stale lock .*\.run\.lock \(process \d+ on .* is gone\)/)]);
    a.release();
    fs.writeFileSync(lockPath(run), JSON.stringify({ pid: 1, host: 'another-host', command: 'mmzoo train x', started: 'then' }));
    const old = new Date(Date.now() - (LOCK_STALE_SECONDS + 5) * 1000);
    fs.utimesSync(lockPath(run), old, old);
    const b = acquireRunLock(run, 'mmzoo train y', (w) => warnings.push(w));
    expect(warnings[1]).toMatch(/its heartbeat is 6\d s old/);
    b.release();
    // a fresh lock of another host is respected
    fs.writeFileSync(lockPath(run), JSON.stringify({ pid: 1, host: 'another-host', command: 'mmzoo train x', started: 'then' }));
    expect(() => acquireRunLock(run, 'mmzoo train y')).toThrow(/in use by mmzoo train x \(process 1 on another-host/);
  });

  test('the heartbeat refreshes the lock file while it is held', async () => {
    const run = path.join(tmp(), 'run');
    const a = acquireRunLock(run, 'mmzoo train a.yaml');
    const old = new Date(Date.now() - 50_000);
    fs.utimesSync(a.file, old, old);
    await new Promise((r) => setTimeout(r, 5600));
    expect(Date.now() - fs.statSync(a.file).mtimeMs).toBeLessThan(6000);
    a.release();
  });
});
