import { mkdirSync, readFileSync } from 'fs';
import * as path from 'path';
import { parse } from 'yaml';
import { latestCheckpoint, readCheckpointMeta } from '../run/checkpoint';
import { acquireRunLock, RunLock, RunLockedError } from '../run/lock';
import { configHash } from './config-hash';

/**
 * The folder, beside the run that needs them, where the runs of `init: {x: {config: FILE}}` sources are built:
 * `<parent>/.init/<name>-<hash12>/` (`runs/.init/clip-fmnist-tiny-3f2a9c0d1b7e/` for a run in `runs/`), `<name>`
 * being the config's experiment name and `<hash12>` the first 12 hex digits of its {@link configHash}.
 */
export const PREREQUISITE_FOLDER = '.init';

/**
 * Where the run of a config needed by `init:` is looked for, beside the run that needs it (in `parent`): first the
 * folder `mmzoo train` gives that config by default, `<parent>/<name>/` (used when it holds a finished run of exactly
 * this config), else `<parent>/.init/<name>-<hash12>/` (built there when missing).
 */
export function prerequisiteRunDirs(parent: string, name: string, hash: string): { reuse: string; own: string } {
  return { reuse: path.join(parent, name), own: path.join(parent, PREREQUISITE_FOLDER, `${name}-${hash.slice(0, 12)}`) };
}

/**
 * Whether `dir` holds a finished run of the config whose {@link configHash} is `hash`: its config.yaml hashes to
 * `hash` and its latest checkpoint is at that config's last step (`train.steps`). Never throws: anything unreadable
 * is not a finished run.
 */
export function isFinishedRunOf(dir: string, hash: string): boolean {
  try {
    const config = parse(readFileSync(path.join(dir, 'config.yaml'), 'utf8')) as { train?: { steps?: unknown } };
    if (configHash(config) !== hash) return false;
    const ckpt = latestCheckpoint(dir);
    return ckpt !== undefined && readCheckpointMeta(ckpt).step === config.train?.steps;
  } catch {
    return false;
  }
}

/** Options of {@link buildOnce}. */
export interface BuildOnceOptions {
  /** whether the run is there (checked with the lock held, before and after `build`) */
  isDone: () => boolean;
  /** makes the run, with the folder's lock held (pass it on to whatever writes the folder) */
  build: (lock: RunLock) => Promise<void>;
  /** what holds the lock, shown to a process that finds it held */
  command: string;
  /** told once when another process holds the lock and this one waits, and of a stale lock taken over */
  log?: (msg: string) => void;
  /** seconds between tries while the lock is held elsewhere (default 1) */
  pollSeconds?: number;
}

/**
 * Makes sure the run in `dir` exists, building it at most once however many processes (or concurrent calls in one
 * process) need it: each takes the folder's run lock, waiting while another holds it (a dead holder's lock goes stale
 * and is taken over, run/lock.ts), and builds only when the run is still not there once the lock is held. So a
 * second run needing the same prerequisite waits for the first to build it, then finds it.
 * @throws Error `<dir>: the run stopped before its last step ...` when `build` returned without finishing it (e.g.
 *   interrupted), or what `build` throws; the lock is released either way
 */
export async function buildOnce(dir: string, opts: BuildOnceOptions): Promise<void> {
  mkdirSync(path.dirname(path.resolve(dir)), { recursive: true });
  let told = false;
  for (;;) {
    let lock: RunLock;
    try {
      lock = acquireRunLock(dir, opts.command, opts.log);
    } catch (e) {
      if (!(e instanceof RunLockedError)) throw e;
      if (!told) opts.log?.(`${e.message.replace(/; wait for it.*$/, '')}: waiting for it to finish`);
      told = true;
      await new Promise((resolve) => setTimeout(resolve, (opts.pollSeconds ?? 1) * 1000));
      continue;
    }
    try {
      if (!opts.isDone()) await opts.build(lock);
      if (!opts.isDone()) throw new Error(`${dir}: the run stopped before its last step; run the command again to resume it`);
    } finally {
      lock.release();
    }
    return;
  }
}
