import * as fs from 'fs';
import * as path from 'path';
import { HFTokenizer, parseSafetensors } from '@mmzoo/core';
import type { LoadStateDictResult, RawTensor } from '@mmzoo/core';
import { llamaConfigFromHf } from './llama-config';
import { gpt2ConfigFromHf } from './gpt2-config';
import { optConfigFromHf } from './opt-config';
import { buildLm } from './lm-config';
import type { LmConfig, LmModel } from './lm-config';
import { Llama, buildLlama } from './llama';
import { Gpt2 } from './gpt2';
import { Opt, loadOptWeights } from './opt';
import { loadLlamaWeights } from './llama-weights';
import { loadGpt2Weights } from './gpt2-weights';
import { parseLlama2cBin } from './llama2c-bin';

/** A model loaded from a Hugging Face folder or a llama2.c `.bin`: its config, the model with the weights, and the tokenizer when the folder has one. */
export interface LoadedLm {
  config: LmConfig;
  model: LmModel;
  /** from tokenizer.json (+ tokenizer_config.json when present); undefined when the folder has no tokenizer.json */
  tokenizer?: HFTokenizer;
  /** what the strict load did */
  loaded: LoadStateDictResult;
}

/** config.json's `model_type` -> the config reader of that family. */
const HF_CONFIGS: Record<string, (json: Record<string, unknown>, where: string) => LmConfig> = {
  llama: llamaConfigFromHf,
  gpt2: gpt2ConfigFromHf,
  opt: optConfigFromHf,
};

function readJson(file: string): Record<string, unknown> {
  if (!fs.existsSync(file)) throw new Error(`loadHfFolder: ${file} is missing`);
  let value: unknown;
  try {
    value = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`loadHfFolder: ${file} is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error(`loadHfFolder: ${file} is not a JSON object`);
  return value as Record<string, unknown>;
}

/** F16 / BF16 tensors as F32 (core's parser already widened their values exactly); other dtypes unchanged. */
function asFloat32(tensors: Map<string, RawTensor>, into: Map<string, RawTensor>): void {
  for (const [name, raw] of tensors) into.set(name, raw.dtype === 'F16' || raw.dtype === 'BF16' ? { ...raw, dtype: 'F32' } : raw);
}

/**
 * The tensors of a folder: `model.safetensors`, or the shards listed by `model.safetensors.index.json`'s
 * `weight_map` (each shard read once; every name the map lists must be in its shard). F16 and BF16 become F32.
 * @throws Error (one line, naming the file) when neither file exists, the index is malformed, or a listed tensor is missing
 */
export function readHfWeights(dir: string): { tensors: Map<string, RawTensor>; source: string } {
  const tensors = new Map<string, RawTensor>();
  const single = path.join(dir, 'model.safetensors');
  if (fs.existsSync(single)) {
    asFloat32(parseSafetensors(new Uint8Array(fs.readFileSync(single)), single), tensors);
    return { tensors, source: single };
  }
  const indexFile = path.join(dir, 'model.safetensors.index.json');
  if (!fs.existsSync(indexFile)) throw new Error(`loadHfFolder: ${dir} has neither model.safetensors nor model.safetensors.index.json`);
  const map = readJson(indexFile).weight_map;
  if (!map || typeof map !== 'object') throw new Error(`loadHfFolder: ${indexFile} has no weight_map object`);
  const byShard = new Map<string, string[]>();
  for (const [name, shard] of Object.entries(map as Record<string, unknown>)) {
    if (typeof shard !== 'string' || shard.includes('/') || shard.includes('\\')) throw new Error(`loadHfFolder: ${indexFile}: weight_map["${name}"] is not a file name in the folder: ${JSON.stringify(shard)}`);
    byShard.set(shard, [...(byShard.get(shard) ?? []), name]);
  }
  for (const [shard, names] of byShard) {
    const file = path.join(dir, shard);
    if (!fs.existsSync(file)) throw new Error(`loadHfFolder: ${file} (listed in ${indexFile}) is missing`);
    const part = parseSafetensors(new Uint8Array(fs.readFileSync(file)), file);
    for (const name of names) if (!part.has(name)) throw new Error(`loadHfFolder: ${file} has no tensor ${name} (listed in ${indexFile})`);
    asFloat32(part, tensors);
  }
  return { tensors, source: indexFile };
}

/**
 * Loads a Hugging Face model folder (Node only): `config.json` (model_type llama, gpt2 or opt, read by
 * llamaConfigFromHf / gpt2ConfigFromHf / optConfigFromHf), the weights ({@link readHfWeights}), strictly loaded by
 * that family's loader, and `tokenizer.json` (+ `tokenizer_config.json`) through core's HFTokenizer when present.
 * @param dir the folder (e.g. a snapshot of `gpt2` or `TinyLlama/TinyLlama-1.1B-...` from the Hub)
 * @throws Error (one line, naming the file) for a missing or malformed config.json, an unsupported model_type or
 *   variant, missing weights, or a checkpoint the model refuses (missing, unexpected or misshapen tensors)
 */
export function loadHfFolder(dir: string): LoadedLm {
  const configFile = path.join(dir, 'config.json');
  const json = readJson(configFile);
  const read = HF_CONFIGS[String(json.model_type)];
  if (!read) throw new Error(`loadHfFolder: ${configFile}: model_type ${JSON.stringify(json.model_type)} is not supported (${Object.keys(HF_CONFIGS).join(', ')})`);
  const config = read(json, configFile);
  const { tensors, source } = readHfWeights(dir);
  const model = buildLm(config);
  let loaded: LoadStateDictResult;
  try {
    if (model instanceof Llama) loaded = loadLlamaWeights(model, tensors, 'hf');
    else if (model instanceof Gpt2) loaded = loadGpt2Weights(model, tensors, 'hf');
    else if (model instanceof Opt) loaded = loadOptWeights(model, tensors);
    else throw new Error(`no loader for ${config.name}`);
  } catch (e) {
    model.dispose();
    throw new Error(`loadHfFolder: ${source}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const tokenizerFile = path.join(dir, 'tokenizer.json');
  const tokenizerConfig = path.join(dir, 'tokenizer_config.json');
  const tokenizer = fs.existsSync(tokenizerFile)
    ? HFTokenizer.fromJSON(fs.readFileSync(tokenizerFile, 'utf8'), fs.existsSync(tokenizerConfig) ? fs.readFileSync(tokenizerConfig, 'utf8') : {})
    : undefined;
  return { config, model, tokenizer, loaded };
}

/**
 * Loads a llama2.c `.bin` checkpoint (Node only; format: {@link parseLlama2cBin}) into a new {@link Llama}.
 * @param file the checkpoint's path
 * @throws Error (one line, naming the file) for a file that is missing or not a llama2.c checkpoint
 */
export function loadLlama2cBin(file: string): LoadedLm {
  if (!fs.existsSync(file)) throw new Error(`loadLlama2cBin: ${file} is missing`);
  const { config, tensors } = parseLlama2cBin(new Uint8Array(fs.readFileSync(file)), file);
  const model = buildLlama(config);
  return { config, model, loaded: loadLlamaWeights(model, tensors, 'llama2c') };
}
