import { createHash } from 'crypto';
import { promises as fsp, existsSync, readFileSync, readdirSync, statSync } from 'fs';
import * as path from 'path';
import { Variable, fromTensor, loadStateDict, parseSafetensorsWithMetadata, RawTensor, serializeSafetensors } from '@mmzoo/core';
import { writeFileAtomic } from './files';
import { killPoint } from './test-hooks';
import { fsErrorReason, processAlive } from './fs-errors';

/** SHA-256 and size of one checkpoint file (meta.json `files`). */
export interface CheckpointFileHash {
  sha256: string;
  bytes: number;
}

/** JSON metadata stored beside a checkpoint's tensors. */
export interface CheckpointMeta {
  /** optimizer steps completed */
  step: number;
  /** stagewise runs: the stage in progress and the optimizer steps completed inside it (trainer.ts StagePosition) */
  stage?: { index: number; name: string; step: number };
  /**
   * SHA-256 of each tensor file, checked on load. Absent in checkpoints written before hashes existed; those load
   * with a warning.
   */
  files?: Record<string, CheckpointFileHash>;
  [key: string]: unknown;
}

/**
 * Checkpoint layout inside a run folder: `checkpoints/step-000500/{model.safetensors, optimizer.safetensors,
 * meta.json}` and `checkpoints/latest`, a text file naming the newest complete folder.
 *
 * Crash safety: a new checkpoint is written into `checkpoints/.tmp-step-000500-<pid>-<random>`, renamed to a name
 * not yet used (`step-000500`, or `step-000500.1`, ... when a folder of that step exists: Linux cannot rename a
 * folder over a non-empty one, so nothing is deleted first), and only then does `latest` switch to it (an atomic
 * file replace); older checkpoints are pruned after the switch. A kill at any moment leaves `latest` naming a
 * complete checkpoint.
 */
export const CHECKPOINT_DIR = 'checkpoints';

const STEP_DIR = /^step-(\d+)(?:\.(\d+))?$/;
const TEMP_DIR = /^\.tmp-step-\d+-(\d+)-[0-9a-f]+$/;
const TENSOR_FILES = ['model.safetensors', 'optimizer.safetensors'] as const;

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Orders checkpoint folder names by step, then by their `.n` suffix (a re-save under a used name). */
function compareStepNames(a: string, b: string): number {
  const ma = STEP_DIR.exec(a)!;
  const mb = STEP_DIR.exec(b)!;
  return Number(ma[1]) - Number(mb[1]) || Number(ma[2] ?? 0) - Number(mb[2] ?? 0);
}

/** True when a checkpoint folder is complete: its meta.json parses and every tensor file it lists exists. */
export function isCompleteCheckpoint(dir: string): boolean {
  try {
    const meta = JSON.parse(readFileSync(path.join(dir, 'meta.json'), 'utf8')) as CheckpointMeta;
    if (typeof meta?.step !== 'number') return false;
    const files = meta.files ? Object.keys(meta.files) : ['model.safetensors'];
    return files.every((f) => existsSync(path.join(dir, f)));
  } catch {
    return false;
  }
}

/** Complete checkpoint folder names of a run, oldest first. */
function completeCheckpoints(root: string): string[] {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  return names.filter((n) => STEP_DIR.test(n) && isCompleteCheckpoint(path.join(root, n))).sort(compareStepNames);
}

/** The latest checkpoint of a run as {@link resolveLatestCheckpoint} finds it. */
export interface LatestCheckpoint {
  /** the checkpoint folder, undefined when the run has none */
  dir?: string;
  /** set when `latest` was unusable and the newest complete checkpoint was taken instead: says why */
  warning?: string;
}

/**
 * Finds the checkpoint to resume or evaluate: the folder `checkpoints/latest` names. When `latest` is missing,
 * empty, garbage or names a missing or incomplete folder, the newest complete checkpoint is taken instead and
 * `warning` says so, naming the file.
 * @throws Error naming `checkpoints/latest` and what is wrong with it when no complete checkpoint remains
 *   (`<run>/checkpoints/latest: names 'step-000009', which does not exist, and no complete checkpoint remains`)
 */
export function resolveLatestCheckpoint(runDir: string): LatestCheckpoint {
  const root = path.join(runDir, CHECKPOINT_DIR);
  const pointer = path.join(root, 'latest');
  const complete = completeCheckpoints(root);
  let problem: string;
  if (!existsSync(pointer)) {
    if (!complete.length) return {};
    problem = 'is missing';
  } else {
    let name: string;
    try {
      name = readFileSync(pointer, 'utf8').trim();
    } catch (e) {
      throw new Error(`${pointer}: cannot read it: ${(e as Error).message}`);
    }
    if (name === '') problem = 'is empty';
    else if (!STEP_DIR.test(name)) problem = `does not name a checkpoint folder (it holds '${name.slice(0, 40).replace(/[^\x20-\x7e]/g, '?')}')`;
    else if (!existsSync(path.join(root, name))) problem = `names '${name}', which does not exist`;
    else if (!isCompleteCheckpoint(path.join(root, name))) problem = `names '${name}', which is incomplete (no readable meta.json or a missing tensor file)`;
    else return { dir: path.join(root, name) };
  }
  if (!complete.length) throw new Error(`${pointer}: ${problem}, and no complete checkpoint remains in ${root}`);
  const newest = complete[complete.length - 1];
  return { dir: path.join(root, newest), warning: `${pointer} ${problem}; using the newest complete checkpoint, ${newest}` };
}

/** The checkpoint folder `latest` names (or the newest complete one), or undefined when the run has none. Never throws. */
export function latestCheckpoint(runDir: string): string | undefined {
  try {
    return resolveLatestCheckpoint(runDir).dir;
  } catch {
    return undefined;
  }
}

/** A checkpoint to load, as {@link findCheckpoint} resolves it. */
export interface CheckpointRef {
  /** the checkpoint folder (meta.json and hashed tensor files); undefined for a bare weights file */
  dir?: string;
  /** the model weights: `<dir>/model.safetensors`, or the bare `.safetensors` file named */
  file: string;
  /** how results name it: the folder name (`step-000004`), or the bare file's name without `.safetensors` */
  name: string;
  /** set when `latest` was unusable and the newest complete checkpoint was taken instead ({@link resolveLatestCheckpoint}) */
  warning?: string;
}

/**
 * Finds the checkpoint of a run to load: its latest ({@link resolveLatestCheckpoint}) when `which` is undefined,
 * otherwise, in this order: an existing path (relative to the working directory) to a checkpoint folder, to the
 * `model.safetensors` inside one (taken as that folder) or to a bare `.safetensors` weights file; a folder name under
 * `<run>/checkpoints` (`step-000002`); a step number (`2`: the newest complete checkpoint of that step).
 * @throws Error `<run>: no checkpoint found (expected <run>/checkpoints/latest)` when the run has none;
 *   `checkpoint '<which>': no such file or folder, and <run>/checkpoints has no complete checkpoint of that name or
 *   step (it holds step-000002, step-000004)`; `<path>: not a checkpoint folder (...)` / `not a checkpoint (...)`
 */
export function findCheckpoint(runDir: string, which?: string): CheckpointRef {
  const root = path.join(runDir, CHECKPOINT_DIR);
  const folder = (dir: string, warning?: string): CheckpointRef => ({ dir, file: path.join(dir, TENSOR_FILES[0]), name: path.basename(dir), ...(warning ? { warning } : {}) });
  if (which === undefined) {
    const found = resolveLatestCheckpoint(runDir);
    if (!found.dir) throw new Error(`${runDir}: no checkpoint found (expected ${path.join(root, 'latest')})`);
    return folder(found.dir, found.warning);
  }
  if (existsSync(which)) {
    const at = path.resolve(which);
    if (statSync(at).isDirectory()) {
      if (!isCompleteCheckpoint(at)) throw new Error(`${which}: not a checkpoint folder (no readable meta.json with a step, or a tensor file it lists is missing)`);
      return folder(at);
    }
    if (path.basename(at) === TENSOR_FILES[0] && isCompleteCheckpoint(path.dirname(at))) return folder(path.dirname(at));
    if (!at.endsWith('.safetensors')) throw new Error(`${which}: not a checkpoint (expected a checkpoint folder or a .safetensors weights file)`);
    return { file: at, name: path.basename(at, '.safetensors') };
  }
  const complete = completeCheckpoints(root);
  if (complete.includes(which)) return folder(path.join(root, which));
  const step = /^\d+$/.test(which) ? Number(which) : NaN;
  const ofStep = complete.filter((n) => Number(STEP_DIR.exec(n)![1]) === step);
  if (ofStep.length) return folder(path.join(root, ofStep[ofStep.length - 1]));
  const holds = complete.length ? `it holds ${complete.join(', ')}` : 'it holds none';
  throw new Error(`checkpoint '${which}': no such file or folder, and ${root} has no complete checkpoint of that name or step (${holds})`);
}

/**
 * Removes temporary checkpoint folders (`checkpoints/.tmp-step-*-<pid>-*`) whose writing process is dead: they
 * are incomplete by construction (a checkpoint is renamed into place only when complete). Call with the run's lock
 * held.
 * @returns the removed folders
 */
export async function cleanUpCheckpointTemps(runDir: string): Promise<string[]> {
  const root = path.join(runDir, CHECKPOINT_DIR);
  let names: string[];
  try {
    names = await fsp.readdir(root);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const n of names) {
    const m = TEMP_DIR.exec(n);
    if (!m) continue;
    const pid = Number(m[1]);
    const alive = pid === process.pid || processAlive(pid);
    if (alive) continue;
    await fsp.rm(path.join(root, n), { recursive: true, force: true });
    removed.push(path.join(root, n));
  }
  return removed;
}

/**
 * Saves model weights (reference names), optimizer state and metadata as a checkpoint and keeps the newest `keep`.
 *
 * When `meta.step` is the step of the latest complete checkpoint (a Ctrl-C right after a periodic checkpoint),
 * only that checkpoint's meta.json is replaced (atomically, keeping its file hashes): its tensors are those of the
 * same step. Otherwise a new checkpoint is written (see {@link CHECKPOINT_DIR} for the order of operations), its
 * meta.json recording the SHA-256 of each tensor file.
 * @param model parameters and buffers by name (e.g. `model.namedParameters()`)
 * @param optimizer optimizer tensors by name (e.g. `AdamW.state().tensors`)
 * @returns the checkpoint folder
 * @throws Error `cannot write checkpoint <folder>: <reason>`; the previous checkpoint stays `latest`
 */
export async function saveCheckpoint(
  runDir: string, model: Map<string, Variable>, optimizer: Map<string, Variable>, meta: CheckpointMeta, keep = 2,
): Promise<string> {
  const root = path.join(runDir, CHECKPOINT_DIR);
  const name = `step-${String(meta.step).padStart(6, '0')}`;
  let stage = 'creating the checkpoints folder';
  let where = root;
  try {
    await fsp.mkdir(root, { recursive: true });
    const current = latestCheckpoint(runDir);
    if (current) {
      const old = readCheckpointMeta(current);
      if (old.step === meta.step && JSON.stringify(old.stage) === JSON.stringify(meta.stage) && old.files) {
        stage = 're-saving its metadata';
        where = current;
        killPoint('resave');
        await writeFileAtomic(path.join(current, 'meta.json'), JSON.stringify({ ...meta, files: old.files }, null, 1));
        return current;
      }
    }
    const tmp = path.join(root, `.tmp-${name}-${process.pid}-${Date.now().toString(16)}`);
    where = tmp;
    stage = 'writing it';
    await fsp.mkdir(tmp);
    const files: Record<string, CheckpointFileHash> = {};
    const raw = (vars: Map<string, Variable>) => new Map<string, RawTensor>([...vars].map(([n, v]) => [n, fromTensor(v, n)]));
    for (const [file, vars] of [[TENSOR_FILES[0], model], [TENSOR_FILES[1], optimizer]] as const) {
      const bytes = serializeSafetensors(raw(vars), { format: 'mmzoo' });
      files[file] = { sha256: sha256(bytes), bytes: bytes.byteLength };
      await writeFileAtomic(path.join(tmp, file), bytes);
      killPoint('checkpoint-write');
    }
    await writeFileAtomic(path.join(tmp, 'meta.json'), JSON.stringify({ ...meta, files }, null, 1));
    // a name not yet used: a folder of this step may exist (an older run's, or one `latest` no longer names)
    let final = name;
    for (let k = 1; existsSync(path.join(root, final)); k++) final = `${name}.${k}`;
    stage = 'renaming it into place';
    await fsp.rename(tmp, path.join(root, final));
    killPoint('checkpoint-rename');
    stage = 'switching checkpoints/latest to it';
    where = path.join(root, 'latest');
    await writeFileAtomic(where, final);
    killPoint('checkpoint-latest');
    stage = 'pruning old checkpoints';
    const all = completeCheckpoints(root).filter((n) => n !== final);
    for (const old of all.slice(0, Math.max(0, all.length - (keep - 1)))) await fsp.rm(path.join(root, old), { recursive: true, force: true });
    return path.join(root, final);
  } catch (e) {
    throw new Error(`cannot write checkpoint ${where} (${stage}): ${fsErrorReason(e)}`);
  }
}

/**
 * Reads a checkpoint's metadata.
 * @throws Error naming the file: missing, not JSON, or without a numeric `step`
 */
export function readCheckpointMeta(dir: string): CheckpointMeta {
  const file = path.join(dir, 'meta.json');
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(readFileSync(file, 'utf8')) as CheckpointMeta;
  } catch (e) {
    throw new Error(`${file}: cannot read checkpoint metadata: ${(e as Error).message.split('\n')[0]}`);
  }
  if (!meta || typeof meta !== 'object' || typeof meta.step !== 'number') throw new Error(`${file}: not checkpoint metadata (no numeric "step")`);
  return meta;
}

/**
 * Checks each tensor file of a checkpoint against the SHA-256 its meta.json records.
 * @returns a warning when the checkpoint predates hashes (nothing could be verified), else undefined
 * @throws Error `<file>: checksum mismatch (meta.json records sha256 <a>..., the file has <b>...): the file is corrupt` or a missing file
 */
export function verifyCheckpoint(dir: string, meta: CheckpointMeta = readCheckpointMeta(dir)): string | undefined {
  if (!meta.files) return `${dir}: written before checkpoints recorded SHA-256 hashes; its files are loaded without verification`;
  for (const [name, want] of Object.entries(meta.files)) {
    const file = path.join(dir, name);
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch (e) {
      throw new Error(`${file}: cannot read checkpoint file: ${fsErrorReason(e)}`);
    }
    const got = sha256(bytes);
    if (got !== want.sha256 || bytes.byteLength !== want.bytes) {
      throw new Error(`${file}: checksum mismatch (meta.json records sha256 ${want.sha256.slice(0, 12)}... for ${want.bytes} bytes, the file has ${got.slice(0, 12)}... for ${bytes.byteLength}): the file is corrupt`);
    }
  }
  return undefined;
}

/**
 * Refuses weights that are not finite: a NaN or infinite value in any float tensor.
 * @throws Error `<file>: tensor '<name>' holds a NaN (element i of n); refusing non-finite weights`
 */
export function assertFiniteTensors(tensors: Map<string, RawTensor>, file: string): void {
  for (const [name, t] of tensors) {
    if (!(t.data instanceof Float32Array || t.data instanceof Float64Array)) continue;
    const d = t.data;
    for (let i = 0; i < d.length; i++) {
      if (!Number.isFinite(d[i])) throw new Error(`${file}: tensor '${name}' holds ${Number.isNaN(d[i]) ? 'a NaN' : 'an infinite value'} (element ${i} of ${d.length}); refusing non-finite weights`);
    }
  }
}

/**
 * Restores model weights and optimizer tensors from a checkpoint folder (strict: every name must match), after
 * checking each file's SHA-256 against meta.json and that every weight is finite. Nothing is assigned unless all
 * checks pass.
 * @param warn called with a message for a checkpoint written before hashes existed (loaded unverified)
 * @throws Error naming the file: checksum mismatch, non-finite weights, mismatching tensor names or shapes
 */
export async function loadCheckpoint(dir: string, model: Map<string, Variable>, optimizer?: Map<string, Variable>, warn: (msg: string) => void = () => {}): Promise<CheckpointMeta> {
  const meta = readCheckpointMeta(dir);
  const note = verifyCheckpoint(dir, meta);
  if (note) warn(note);
  const read = async (file: string) => {
    const buf = await fsp.readFile(file).catch((e) => {
      throw new Error(`${file}: cannot read checkpoint file: ${fsErrorReason(e)}`);
    });
    return parseSafetensorsWithMetadata(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), file).tensors;
  };
  const modelFile = path.join(dir, 'model.safetensors');
  const weights = await read(modelFile);
  assertFiniteTensors(weights, modelFile);
  const optFile = path.join(dir, 'optimizer.safetensors');
  const moments = optimizer ? await read(optFile) : undefined;
  const assign = (file: string, target: Map<string, Variable>, tensors: Map<string, RawTensor>) => {
    try {
      loadStateDict(target, tensors);
    } catch (e) {
      throw new Error(`${file}: ${(e as Error).message}`);
    }
  };
  assign(modelFile, model, weights);
  if (optimizer && moments) assign(optFile, optimizer, moments);
  return meta;
}

/**
 * Loads reference weights (e.g. open_clip safetensors) into a model by name, refusing non-finite weights.
 * @throws Error naming the file, with missing / unexpected names, shape mismatches or the first non-finite tensor
 */
export function loadWeightsFile(file: string, model: Map<string, Variable>, strict = true): void {
  const buf = readFileSync(file);
  const tensors = parseSafetensorsWithMetadata(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), file).tensors;
  assertFiniteTensors(tensors, file);
  try {
    loadStateDict(model, tensors, { strict });
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
}
