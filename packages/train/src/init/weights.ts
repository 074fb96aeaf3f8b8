import { existsSync, statSync } from 'fs';
import * as path from 'path';
import { RawTensor } from '@mmzoo/core';
import { assertFiniteTensors, readCheckpointMeta, resolveLatestCheckpoint, verifyCheckpoint } from '../run/checkpoint';
import { fsErrorReason } from '../run/fs-errors';
import { SavedTokenizers, savedTokenizersOfMeta } from '../tokenizers/saved';
import { readSafetensorsFile } from '../run/files';

/** Tensors read for `init:`: the file they came from, by name, and the source model's config when one is known. */
export interface InitWeights {
  /** the safetensors file read (named in every error about its tensors) */
  file: string;
  tensors: Map<string, RawTensor>;
  /** the `model:` section of the run that wrote them (checkpoints record it); undefined for a bare safetensors file */
  modelConfig?: { name: string } & Record<string, unknown>;
  /** the tokenizers the run saved with them (checkpoints record them; tokenizer kind `init` takes them), by key */
  tokenizers?: SavedTokenizers;
}

/**
 * Reads a safetensors file of weights, refusing non-finite values.
 * @throws Error naming the file: unreadable, not safetensors, or holding a NaN / infinite value
 */
export async function readSafetensorsWeights(file: string): Promise<InitWeights> {
  const { tensors } = await readSafetensorsFile(file).catch((e) => {
    throw new Error(e.code ? `${file}: cannot read weights: ${fsErrorReason(e)}` : (e as Error).message);
  });
  assertFiniteTensors(tensors, file);
  return { file, tensors };
}

/**
 * Reads the model weights of a checkpoint folder (`checkpoints/step-N`): its model.safetensors, checked against the
 * SHA-256 its meta.json records, and the run's `model:` config and saved tokenizers from meta.json.
 * @throws Error naming the folder or file: not a checkpoint (no meta.json), checksum mismatch, non-finite weights
 */
export async function readCheckpointWeights(dir: string): Promise<InitWeights> {
  const meta = readCheckpointMeta(dir);
  verifyCheckpoint(dir, meta);
  const weights = await readSafetensorsWeights(path.join(dir, 'model.safetensors'));
  const config = meta.config as { model?: InitWeights['modelConfig'] } | undefined;
  return { ...weights, modelConfig: config?.model, tokenizers: savedTokenizersOfMeta(meta) };
}

/**
 * Reads the model weights of a run folder's latest checkpoint ({@link readCheckpointWeights}).
 * @throws Error `<dir>: not a run folder (no such folder)` / `<dir>: has no checkpoint to take weights from`, or
 *   what reading the checkpoint throws
 */
export async function readRunWeights(dir: string): Promise<InitWeights> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`${dir}: not a run folder (no such folder)`);
  const found = resolveLatestCheckpoint(dir);
  if (!found.dir) throw new Error(`${dir}: has no checkpoint to take weights from`);
  return readCheckpointWeights(found.dir);
}
