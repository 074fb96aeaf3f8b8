/**
 * Run-folder safety (Node only): mmzoo writes over or deletes only folders it created itself. A run folder carries
 * a marker file, `.mmzoo-run`, written when the folder is created (or when an empty folder is adopted); a folder
 * without it is a user's folder and is never reused, except a run from before markers existed (it holds
 * `checkpoints/latest`), which `--resume` marks.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ConfigError } from '@mmzoo/core';
import { CHECKPOINT_DIR } from './checkpoint';

/** Name of the marker file that makes a folder an mmzoo run folder. */
export const RUN_MARKER = '.mmzoo-run';

/** What the marker file holds (JSON). */
export interface RunMarker {
  /** the command that created the folder, e.g. `mmzoo train` or `mmzoo compare` */
  createdBy: string;
  /** ISO time */
  created: string;
  /** set when a run from before markers existed was adopted by `--resume` */
  adopted?: boolean;
}

/** True when `dir` carries the mmzoo run marker. */
export function isMarkedRunFolder(dir: string): boolean {
  return existsSync(path.join(dir, RUN_MARKER));
}

/** Writes the marker into an existing folder. @throws fs errors */
export function markRunFolder(dir: string, createdBy: string, adopted = false): void {
  const marker: RunMarker = { createdBy, created: new Date().toISOString(), ...(adopted ? { adopted } : {}) };
  writeFileSync(path.join(dir, RUN_MARKER), JSON.stringify(marker) + '\n');
}

/**
 * Refuses run-folder paths that must never be a run folder: the empty string, the working directory or any
 * folder above it, a home directory (this user's, or any `/home/<name>`, `/root`), and `/`.
 * @param out the path as the user gave it (`--out`)
 * @param flag how to name it in the error (default `--out`)
 * @returns the absolute path
 * @throws ConfigError (exit 2) `--out '.': the working directory cannot be a run folder; name a new folder, e.g. --out runs/x`
 */
export function checkRunFolderPath(out: string, flag = '--out'): string {
  const shown = `${flag} '${out}'`;
  if (out.trim() === '') throw new ConfigError(`${shown}: empty path; name a new folder, e.g. ${flag} runs/x`);
  const abs = path.resolve(out);
  const cwd = process.cwd();
  const homes = new Set([os.homedir(), '/root'].map((p) => path.resolve(p)));
  let why: string | undefined;
  if (abs === path.parse(abs).root) why = 'the file-system root';
  else if (abs === cwd) why = 'the working directory';
  else if (cwd.startsWith(abs + path.sep)) why = 'a folder above the working directory';
  else if (homes.has(abs) || path.dirname(abs) === '/home') why = 'a home directory';
  if (why) throw new ConfigError(`${shown}: ${why} (${abs}) cannot be a run folder; name a new folder, e.g. ${flag} runs/x`);
  return abs;
}

/** What a folder at a run path holds. */
export type RunFolderState =
  /** nothing there */
  | 'missing'
  /** an empty folder: adopted and marked */
  | 'empty'
  /** an mmzoo run folder (marked) */
  | 'marked'
  /** a run from before markers: unmarked, holds checkpoints/latest */
  | 'legacy'
  /** anything else: a user's folder, or a file */
  | 'foreign';

/** Classifies the path a run would write to (see {@link RunFolderState}). */
export function runFolderState(dir: string): RunFolderState {
  let st;
  try {
    st = statSync(dir);
  } catch {
    return 'missing';
  }
  if (!st.isDirectory()) return 'foreign';
  if (isMarkedRunFolder(dir)) return 'marked';
  if (existsSync(path.join(dir, CHECKPOINT_DIR, 'latest'))) return 'legacy';
  return readdirSync(dir).length === 0 ? 'empty' : 'foreign';
}

/**
 * Throws the one-line error for a path that is not an mmzoo run folder (a file, or a folder of other files).
 * @throws ConfigError `<dir>: not an mmzoo run folder (it holds config.yaml, data/, ... and no .mmzoo-run marker); mmzoo never writes into a folder it did not create: choose another --out`
 */
export function refuseForeign(dir: string, flag = '--out'): never {
  let what: string;
  try {
    if (!statSync(dir).isDirectory()) throw new ConfigError(`${dir}: is a file, not a folder; choose another ${flag}`);
    const names = readdirSync(dir).sort();
    what = `it holds ${names.slice(0, 3).join(', ')}${names.length > 3 ? `, ... (${names.length} entries)` : ''}`;
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    what = (e as Error).message;
  }
  throw new ConfigError(`${dir}: not an mmzoo run folder (${what}; no ${RUN_MARKER} marker); mmzoo never writes into a folder it did not create: choose another ${flag}`);
}

/**
 * Makes sure `dir` is a marked run folder that may receive a new run: creates and marks a missing folder,
 * adopts an empty one, accepts a marked one; refuses a foreign folder.
 * @param createdBy recorded in the marker (`mmzoo train`, `mmzoo compare`)
 * @throws ConfigError for a foreign folder or a file; fs errors of mkdir / the marker
 */
export function ensureRunFolder(dir: string, createdBy: string, flag = '--out'): void {
  const state = runFolderState(dir);
  if (state === 'foreign') refuseForeign(dir, flag);
  if (state === 'missing') mkdirSync(dir, { recursive: true });
  if (state !== 'marked') markRunFolder(dir, createdBy, state === 'legacy');
}

/** Prefix of a run folder moved aside by `--overwrite`: `<parent>/.<name>.replaced-<pid>`. */
function asidePrefix(runDir: string): string {
  return path.join(path.dirname(runDir), `.${path.basename(runDir)}.replaced-`);
}

/**
 * Moves a run folder aside (same parent, so a rename) while its replacement starts: `--overwrite` deletes the old
 * run only once the new one has written its first checkpoint ({@link discardAside}), and puts it back if the new
 * run fails before that ({@link restoreAside}).
 * @returns the aside path
 * @throws fs errors of the rename
 */
export function moveAside(runDir: string): string {
  const aside = `${asidePrefix(runDir)}${process.pid}`;
  rmSync(aside, { recursive: true, force: true });
  renameSync(runDir, aside);
  return aside;
}

/** Deletes a folder moved aside by {@link moveAside}. */
export function discardAside(aside: string): void {
  rmSync(aside, { recursive: true, force: true });
}

/**
 * Puts a folder moved aside back in place of the failed new run (whose partial folder is deleted; it holds no
 * checkpoint yet).
 */
export function restoreAside(aside: string, runDir: string): void {
  if (!existsSync(aside)) return;
  rmSync(runDir, { recursive: true, force: true });
  renameSync(aside, runDir);
}

/**
 * Leftovers of an `--overwrite` whose process died (call with the run's lock held): when the run folder has no
 * complete checkpoint the newest leftover is put back (the replacement never started), otherwise leftovers are
 * deleted.
 * @param hasCheckpoint whether the run folder holds a complete checkpoint
 * @returns messages for the log
 */
export function cleanUpAside(runDir: string, hasCheckpoint: (dir: string) => boolean): string[] {
  const prefix = asidePrefix(runDir);
  const parent = path.dirname(runDir);
  const notes: string[] = [];
  let leftovers: string[];
  try {
    leftovers = readdirSync(parent).map((n) => path.join(parent, n)).filter((p) => p.startsWith(prefix));
  } catch {
    return notes;
  }
  for (const aside of leftovers) {
    const pid = Number(aside.slice(prefix.length));
    if (pid === process.pid) continue;
    if (!hasCheckpoint(runDir) && hasCheckpoint(aside)) {
      restoreAside(aside, runDir);
      notes.push(`restored ${runDir} from ${aside}: the --overwrite that moved it aside (process ${pid}) ended before its first checkpoint`);
    } else {
      discardAside(aside);
      notes.push(`removed ${aside}, left by an --overwrite of process ${pid} that did not finish cleaning up`);
    }
  }
  return notes;
}
