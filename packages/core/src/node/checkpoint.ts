import { promises as fsp, existsSync, readFileSync } from 'fs';
import * as path from 'path';
import { Variable } from '../tf';
import { fromTensor, loadStateDict } from '../io/state-dict';
import { parseSafetensorsWithMetadata, RawTensor } from '../io/safetensors';
import { readSafetensorsFile, writeFileAtomic, writeSafetensorsFile } from './files';

/** JSON metadata stored beside a checkpoint's tensors. */
export interface CheckpointMeta {
  /** optimizer steps completed */
  step: number;
  /** stagewise runs: the stage in progress and the optimizer steps completed inside it (trainer.ts StagePosition) */
  stage?: { index: number; name: string; step: number };
  [key: string]: unknown;
}

/**
 * Checkpoint layout inside a run folder:
 * `checkpoints/step-000500/{model.safetensors, optimizer.safetensors, meta.json}` and `checkpoints/latest`
 * (a text file naming the newest complete folder). A checkpoint is written to `step-N.tmp-<pid>` and renamed
 * into place, then `latest` is replaced atomically: a kill at any moment leaves the previous checkpoint
 * intact and resumable.
 */
export const CHECKPOINT_DIR = 'checkpoints';

/**
 * Saves model weights (reference names), optimizer state and metadata as a new checkpoint and keeps the newest
 * `keep` checkpoints.
 * @param model parameters and buffers by name (e.g. `model.namedParameters()`)
 * @param optimizer optimizer tensors by name (e.g. `AdamW.state().tensors`)
 * @returns the checkpoint folder
 * @throws fs errors; a failure leaves the previous checkpoint as `latest`
 */
export async function saveCheckpoint(
  runDir: string, model: Map<string, Variable>, optimizer: Map<string, Variable>, meta: CheckpointMeta, keep = 2,
): Promise<string> {
  const root = path.join(runDir, CHECKPOINT_DIR);
  await fsp.mkdir(root, { recursive: true });
  const name = `step-${String(meta.step).padStart(6, '0')}`;
  const tmp = path.join(root, `${name}.tmp-${process.pid}`);
  await fsp.rm(tmp, { recursive: true, force: true });
  await fsp.mkdir(tmp);
  const raw = (vars: Map<string, Variable>) => new Map<string, RawTensor>([...vars].map(([n, v]) => [n, fromTensor(v, n)]));
  await writeSafetensorsFile(path.join(tmp, 'model.safetensors'), raw(model), { format: 'mmzoo' });
  await writeSafetensorsFile(path.join(tmp, 'optimizer.safetensors'), raw(optimizer), { format: 'mmzoo' });
  await writeFileAtomic(path.join(tmp, 'meta.json'), JSON.stringify(meta, null, 1));
  const final = path.join(root, name);
  await fsp.rm(final, { recursive: true, force: true });
  await fsp.rename(tmp, final);
  await writeFileAtomic(path.join(root, 'latest'), name);
  const all = (await fsp.readdir(root)).filter((d) => /^step-\d+$/.test(d)).sort();
  for (const old of all.slice(0, Math.max(0, all.length - keep))) if (old !== name) await fsp.rm(path.join(root, old), { recursive: true, force: true });
  return final;
}

/** The newest complete checkpoint folder of a run, or undefined when it has none. */
export function latestCheckpoint(runDir: string): string | undefined {
  const pointer = path.join(runDir, CHECKPOINT_DIR, 'latest');
  if (!existsSync(pointer)) return undefined;
  const dir = path.join(runDir, CHECKPOINT_DIR, readFileSync(pointer, 'utf8').trim());
  return existsSync(path.join(dir, 'meta.json')) ? dir : undefined;
}

/** Reads a checkpoint's metadata. @throws Error naming the file when it is missing or not JSON */
export function readCheckpointMeta(dir: string): CheckpointMeta {
  const file = path.join(dir, 'meta.json');
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as CheckpointMeta;
  } catch (e) {
    throw new Error(`${file}: cannot read checkpoint metadata: ${(e as Error).message}`);
  }
}

/**
 * Restores model weights and optimizer tensors from a checkpoint folder (strict: every name must match).
 * @throws Error naming the file and the mismatching tensors
 */
export async function loadCheckpoint(dir: string, model: Map<string, Variable>, optimizer?: Map<string, Variable>): Promise<CheckpointMeta> {
  const meta = readCheckpointMeta(dir);
  const load = async (file: string, target: Map<string, Variable>) => {
    try {
      loadStateDict(target, (await readSafetensorsFile(file)).tensors);
    } catch (e) {
      throw new Error(`${file}: ${(e as Error).message}`);
    }
  };
  await load(path.join(dir, 'model.safetensors'), model);
  if (optimizer) await load(path.join(dir, 'optimizer.safetensors'), optimizer);
  return meta;
}

/**
 * Loads reference weights (e.g. open_clip safetensors) into a model by name.
 * @throws Error naming the file, with missing / unexpected names and shape mismatches
 */
export function loadWeightsFile(file: string, model: Map<string, Variable>, strict = true): void {
  const buf = readFileSync(file);
  try {
    loadStateDict(model, parseSafetensorsWithMetadata(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), file).tensors, { strict });
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
}
