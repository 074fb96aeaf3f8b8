/**
 * Bridges between tfjs tensors and {@link RawTensor}s (the in-memory form of a safetensors file), and
 * loading a state dict into model variables by parameter name (the counterpart of PyTorch's
 * `Module.load_state_dict`). Browser-safe.
 */
import { tf } from '../tf';
import type { Tensor, Variable } from '../tf';
import { int64ToInt32, type RawTensor } from './safetensors';

/** Parameter name (reference checkpoint naming, e.g. `visual.proj`) -> tensor. */
export type StateDict = Map<string, Tensor>;

const FLOAT_DTYPES = new Set<RawTensor['dtype']>(['F32', 'F16', 'BF16', 'F64']);

/**
 * Makes a tfjs tensor from a {@link RawTensor}.
 * - F32, F16, BF16, F64 -> float32 (F64 is rounded to float32);
 * - I32, I16, I8, U8, BOOL -> int32;
 * - I64 -> int32, range-checked.
 * @param raw the tensor; `shape: []` gives a 0-d (scalar) tensor.
 * @param name names the tensor in error messages.
 * @returns a new tensor of shape `raw.shape` that the caller owns (dispose it, or create it inside `tf.tidy`).
 * @throws Error naming the tensor when an I64 value lies outside the int32 range.
 */
export function toTensor(raw: RawTensor, name = 'tensor'): Tensor {
  const shape = [...raw.shape];
  if (FLOAT_DTYPES.has(raw.dtype)) {
    const d = raw.data;
    const values = d instanceof Float32Array ? d : Float32Array.from(d as Exclude<typeof d, BigInt64Array>);
    return tf.tensor(values, shape, 'float32');
  }
  if (raw.dtype === 'I64') return tf.tensor(int64ToInt32(raw, `"${name}"`), shape, 'int32');
  const d = raw.data;
  if (d instanceof BigInt64Array) return tf.tensor(int64ToInt32(d, `"${name}"`), shape, 'int32');
  return tf.tensor(d instanceof Int32Array ? d : Int32Array.from(d), shape, 'int32');
}

/**
 * Copies a tfjs tensor into a {@link RawTensor}: float32 -> F32 (Float32Array), int32 -> I32 (Int32Array),
 * bool -> BOOL (Uint8Array of 0/1). Reads the values synchronously (`dataSync`); does not dispose `t`.
 * @param t any-rank tensor; a 0-d tensor gives `shape: []`.
 * @param name names the tensor in error messages.
 * @throws Error for other dtypes (complex64, string).
 */
export function fromTensor(t: Tensor, name = 'tensor'): RawTensor {
  const shape = [...t.shape];
  switch (t.dtype) {
    case 'float32':
      return { dtype: 'F32', shape, data: Float32Array.from(t.dataSync() as Float32Array) };
    case 'int32':
      return { dtype: 'I32', shape, data: Int32Array.from(t.dataSync() as Int32Array) };
    case 'bool':
      return { dtype: 'BOOL', shape, data: Uint8Array.from(t.dataSync() as Uint8Array) };
    default:
      throw new Error(`fromTensor: "${name}" has dtype ${t.dtype}; only float32, int32 and bool can be stored`);
  }
}

/** Options of {@link loadStateDict}. */
export interface LoadStateDictOptions {
  /**
   * When true (the default, as in PyTorch), any target variable without a source tensor ("missing") or
   * source tensor without a target ("unexpected") is an error. When false they are only reported.
   */
  strict?: boolean;
  /**
   * Maps a source (checkpoint) name to a target (variable) name, e.g. to strip a `module.` prefix; return
   * `null` to skip a source tensor on purpose (it is then neither loaded nor unexpected).
   */
  rename?: (name: string) => string | null;
  /**
   * Check everything (names, shapes, dtypes, strictness) and report what would be loaded, but assign nothing: a loader
   * filling one model from several state dicts checks each before assigning any (default false).
   */
  dryRun?: boolean;
}

/** What {@link loadStateDict} did; names are target names except `unexpected` and `skipped` (source names). */
export interface LoadStateDictResult {
  loaded: string[];
  missing: string[];
  unexpected: string[];
  skipped: string[];
}

const LIST_LIMIT = 10;

function listNames(names: string[]): string {
  const shown = names.slice(0, LIST_LIMIT).join(', ');
  return names.length > LIST_LIMIT ? `${shown}, ... (${names.length - LIST_LIMIT} more)` : shown;
}

function shapeStr(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * Assigns checkpoint tensors to model variables by name. Everything is checked before anything is
 * assigned, so on error no variable has changed.
 * @param target variable name -> variable (e.g. a model's named parameters).
 * @param source checkpoint name -> {@link RawTensor} (e.g. from `parseSafetensors`).
 * @param opts see {@link LoadStateDictOptions}.
 * @returns the names loaded, missing, unexpected and skipped.
 * @throws Error listing, each with up to 10 names: shape mismatches (name, checkpoint shape, variable
 *   shape); float tensors for int32 variables; two source names renamed to one target; and, in strict mode,
 *   missing and unexpected names.
 */
export function loadStateDict(
  target: Map<string, Variable>,
  source: Map<string, RawTensor>,
  opts: LoadStateDictOptions = {},
): LoadStateDictResult {
  const strict = opts.strict ?? true;
  const plan: { from: string; to: string; raw: RawTensor; v: Variable }[] = [];
  const unexpected: string[] = [];
  const skipped: string[] = [];
  const mismatches: string[] = [];
  const dtypeErrors: string[] = [];
  const seen = new Map<string, string>();
  const duplicates: string[] = [];
  for (const [from, raw] of source) {
    const to = opts.rename ? opts.rename(from) : from;
    if (to === null) {
      skipped.push(from);
      continue;
    }
    const v = target.get(to);
    if (!v) {
      unexpected.push(from);
      continue;
    }
    const first = seen.get(to);
    if (first !== undefined) {
      duplicates.push(`"${first}" and "${from}" -> "${to}"`);
      continue;
    }
    seen.set(to, from);
    const label = to === from ? `"${to}"` : `"${to}" (checkpoint "${from}")`;
    if (raw.shape.length !== v.shape.length || raw.shape.some((d, i) => d !== v.shape[i])) {
      mismatches.push(`${label}: checkpoint ${shapeStr(raw.shape)} vs variable ${shapeStr(v.shape)}`);
      continue;
    }
    if (v.dtype === 'int32' && FLOAT_DTYPES.has(raw.dtype)) {
      dtypeErrors.push(`${label}: checkpoint dtype ${raw.dtype} into an int32 variable`);
      continue;
    }
    plan.push({ from, to, raw, v });
  }
  const missing = [...target.keys()].filter((k) => !seen.has(k));

  const problems: string[] = [];
  if (mismatches.length > 0) problems.push(`shape mismatch for ${mismatches.length}: ${listNames(mismatches)}`);
  if (dtypeErrors.length > 0) problems.push(`dtype mismatch for ${dtypeErrors.length}: ${listNames(dtypeErrors)}`);
  if (duplicates.length > 0) problems.push(`several checkpoint names renamed to one variable: ${listNames(duplicates)}`);
  if (strict && missing.length > 0) problems.push(`missing ${missing.length} (in the model, not the checkpoint): ${listNames(missing)}`);
  if (strict && unexpected.length > 0) {
    problems.push(`unexpected ${unexpected.length} (in the checkpoint, not the model): ${listNames(unexpected)}`);
  }
  if (problems.length > 0) throw new Error(`loadStateDict: ${problems.join('; ')}`);

  for (const { to, raw, v } of opts.dryRun ? [] : plan) {
    tf.tidy(() => {
      const t = toTensor(raw, to);
      v.assign(t.dtype === v.dtype ? t : tf.cast(t, v.dtype));
    });
  }
  return { loaded: plan.map((p) => p.to), missing, unexpected, skipped };
}
