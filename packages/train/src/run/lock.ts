/**
 * One writer per run folder: an exclusive lock file beside the folder, `<parent>/.<name>.lock`, so that moving
 * the run folder aside (`--overwrite`) does not move its lock. Node only.
 */
import { closeSync, openSync, readFileSync, statSync, unlinkSync, utimesSync, writeSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { processAlive } from './fs-errors';

/** What a lock file holds (JSON). Its modification time is the heartbeat. */
export interface LockInfo {
  pid: number;
  host: string;
  /** what holds it, e.g. `mmzoo train configs/x.yaml` */
  command: string;
  /** ISO time the lock was taken */
  started: string;
}

/** Seconds between heartbeats (the lock file's mtime is refreshed by a worker thread, so long synchronous steps do not stop it). */
export const LOCK_HEARTBEAT_SECONDS = 5;
/** A lock whose heartbeat is older than this is stale, whatever host holds it. */
export const LOCK_STALE_SECONDS = 60;

/** Thrown when another live process holds the run folder's lock. */
export class RunLockedError extends Error {
  constructor(message: string, readonly holder: LockInfo | undefined) {
    super(message);
    this.name = 'RunLockedError';
  }
}

/** The lock file of a run folder: `<parent>/.<name>.lock`. */
export function lockPath(runDir: string): string {
  const abs = path.resolve(runDir);
  return path.join(path.dirname(abs), `.${path.basename(abs)}.lock`);
}

function readLock(file: string): { info?: LockInfo; ageSeconds: number } | undefined {
  let mtimeMs: number;
  try {
    mtimeMs = statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
  let info: LockInfo | undefined;
  try {
    info = JSON.parse(readFileSync(file, 'utf8')) as LockInfo;
  } catch {
    info = undefined; // being written, or garbage: judged by its age alone
  }
  return { info, ageSeconds: (Date.now() - mtimeMs) / 1000 };
}

/**
 * Why a lock is stale, or undefined when its holder may still be alive: its process is dead on this host, or its
 * heartbeat is older than {@link LOCK_STALE_SECONDS}.
 */
function staleReason(lock: { info?: LockInfo; ageSeconds: number }): string | undefined {
  const { info, ageSeconds } = lock;
  if (info && info.host === os.hostname() && info.pid !== process.pid && !processAlive(info.pid)) return `process ${info.pid} on ${info.host} is gone`;
  if (ageSeconds > LOCK_STALE_SECONDS) return `its heartbeat is ${Math.round(ageSeconds)} s old`;
  return undefined;
}

/** A held run-folder lock. */
export interface RunLock {
  readonly file: string;
  /** Stops the heartbeat and removes the lock file (if it is still ours). Idempotent. */
  release(): void;
}

/**
 * Takes the exclusive lock of a run folder: creates `<parent>/.<name>.lock` with O_EXCL, holding the process id,
 * host, command and start time; a worker thread refreshes its mtime every {@link LOCK_HEARTBEAT_SECONDS} s. A stale
 * lock (dead process on this host, or heartbeat older than {@link LOCK_STALE_SECONDS} s) is taken over, with
 * `warn` called once. The lock is released by `release()` and, as a last resort, when the process exits.
 * @param runDir the run folder (need not exist yet); its parent folder is created if missing
 * @param command what takes the lock, shown to a second process that finds it held
 * @throws RunLockedError `<runDir> is in use by <command> (process P on H since T); wait for it to finish` (and, for
 *   `mmzoo train`, `capfilt` and `compare`, which choose their folder, `or use another --out`)
 * @throws fs errors of creating the lock file (EACCES, EROFS, ...)
 */
export function acquireRunLock(runDir: string, command: string, warn: (msg: string) => void = () => {}): RunLock {
  const file = lockPath(runDir);
  const info: LockInfo = { pid: process.pid, host: os.hostname(), command, started: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw lockedError(runDir, readLock(file)?.info, command);
        throw e;
      }
      const held = readLock(file);
      if (!held) continue; // released meanwhile
      const why = staleReason(held);
      if (!why) throw lockedError(runDir, held.info, command);
      warn(`taking over the stale lock ${file} (${why})`);
      try {
        unlinkSync(file);
      } catch {
        /* removed by someone else meanwhile */
      }
      continue;
    }
    try {
      writeSync(fd, JSON.stringify(info));
    } finally {
      closeSync(fd);
    }
    return holdLock(file);
  }
}

/** `requester`: the command asking; only commands that write a run folder of their choosing are offered `--out` */
function lockedError(runDir: string, holder: LockInfo | undefined, requester: string): RunLockedError {
  const who = holder ? `${holder.command} (process ${holder.pid} on ${holder.host} since ${holder.started})` : 'another process';
  const elsewhere = /^mmzoo (train|capfilt|compare)\b/.test(requester) ? ' or use another --out' : '';
  return new RunLockedError(`${runDir} is in use by ${who}; wait for it to finish${elsewhere}`, holder);
}

const HEARTBEAT_SOURCE = `
const { parentPort, workerData } = require('worker_threads');
const fs = require('fs');
const beat = () => { try { const t = new Date(); fs.utimesSync(workerData.file, t, t); } catch {} };
const timer = setInterval(beat, workerData.ms);
parentPort.on('message', () => { clearInterval(timer); process.exit(0); });
`;

function holdLock(file: string): RunLock {
  let worker: Worker | undefined;
  try {
    worker = new Worker(HEARTBEAT_SOURCE, { eval: true, workerData: { file, ms: LOCK_HEARTBEAT_SECONDS * 1000 } });
    worker.unref();
  } catch {
    // no worker threads: refresh from the main thread instead (stops during long synchronous work)
    const timer = setInterval(() => {
      try {
        const t = new Date();
        utimesSync(file, t, t);
      } catch {
        /* gone */
      }
    }, LOCK_HEARTBEAT_SECONDS * 1000);
    timer.unref();
    worker = undefined;
    const release = () => {
      clearInterval(timer);
      removeIfOurs(file);
    };
    process.once('exit', release);
    return { file, release };
  }
  let released = false;
  const onExit = () => removeIfOurs(file);
  process.once('exit', onExit);
  return {
    file,
    release() {
      if (released) return;
      released = true;
      worker?.postMessage('stop');
      process.off('exit', onExit);
      removeIfOurs(file);
    },
  };
}

function removeIfOurs(file: string): void {
  try {
    const info = JSON.parse(readFileSync(file, 'utf8')) as LockInfo;
    if (info.pid === process.pid && info.host === os.hostname()) unlinkSync(file);
  } catch {
    /* already gone or replaced */
  }
}
