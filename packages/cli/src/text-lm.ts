/**
 * A causal language model to generate with, from any of the places `mmzoo generate` accepts: an mmzoo run folder, a
 * Hugging Face model folder, or a llama2.c `.bin` with a tokenizer.json; with the conventions its prompts follow
 * (the id put first, the ids that end a text, the chat template).
 */
import * as fs from 'fs';
import * as path from 'path';
import { CausalLM, HFTokenizer, TextTokenizer, isCausalLM, isImagePromptedLM, tokenContent } from '@mmzoo/core';
import { initBackend } from '@mmzoo/train';
import { chatTemplateOf } from '@mmzoo/lm';
import { loadHfFolder, loadLlama2cBin } from '@mmzoo/lm/node';
import { loadRun } from './specs';

/** A loaded language model and the conventions of its prompts. */
export interface TextLm {
  /** the model with its weights */
  model: CausalLM;
  tokenizer: HFTokenizer;
  /** the id a plain prompt starts with, if any (HF: `add_bos_token` / the tokenizer's start id; a run: `<|endoftext|>`) */
  bosId?: number;
  /** ids that end a generated text (HF: config.json `eos_token_id`, else the tokenizer's `eos_token`; a run: its end-of-text id) */
  stopIds: number[];
  /** the chat template (`chat_template` of tokenizer_config.json), if any */
  chatTemplate?: string;
  /** the begin- and end-of-sequence token texts a chat template sees ('' when none) */
  bosToken: string;
  eosToken: string;
  /** what the caller should show (e.g. an older checkpoint was taken) */
  warnings: string[];
  /** frees the model's weights */
  dispose(): void;
}

/** Options of {@link loadTextLm}. */
export interface TextLmOptions {
  /** a run folder's checkpoint (see `mmzoo eval --checkpoint`); only for run folders */
  checkpoint?: string;
  /** a tokenizer.json (tokenizer_config.json beside it is read too): needed with a `.bin`, overrides an HF folder's */
  tokenizer?: string;
  /** tfjs backend; default: the run's `runtime.backend`, else the first available */
  backend?: string;
}

type Json = Record<string, unknown>;

/**
 * Loads `source`: a folder with config.json is a Hugging Face folder (@mmzoo/lm/node `loadHfFolder`), a folder with
 * config.yaml or checkpoints/ an mmzoo run (`loadRun`: its text tokenizer, and a `tokenizer_config.json` in the run
 * folder over the tokenizer's own config), a `.bin` file a llama2.c checkpoint (`loadLlama2cBin`, with `--tokenizer`).
 * @throws Error one line naming the source: missing, not one of the three (`config.json is missing`), a model that is
 *   not a causal LM, no tokenizer, a tokenizer that is not a Hugging Face one; and the loaders' errors
 */
export async function loadTextLm(source: string, opts: TextLmOptions): Promise<TextLm> {
  if (!fs.existsSync(source)) throw new Error(`${source}: no such file or folder`);
  const isDir = fs.statSync(source).isDirectory();
  const run = isDir && !fs.existsSync(path.join(source, 'config.json')) && ['config.yaml', 'checkpoints', '.mmzoo-run'].some((f) => fs.existsSync(path.join(source, f)));
  if (!run && opts.checkpoint !== undefined) throw new Error(`--checkpoint is for run folders; ${source} is not one`);
  if (run) {
    if (opts.tokenizer !== undefined) throw new Error(`--tokenizer is for Hugging Face folders and llama2.c .bin files; the run ${source} has its own`);
    return loadRunLm(source, opts);
  }
  if (isDir && !fs.existsSync(path.join(source, 'config.json'))) {
    throw new Error(`${path.join(source, 'config.json')} is missing: ${source} is neither a Hugging Face model folder nor an mmzoo run folder (config.yaml, checkpoints/)`);
  }
  if (!isDir && !source.endsWith('.bin')) throw new Error(`${source}: expected a run folder, a Hugging Face model folder or a llama2.c .bin file`);
  if (!isDir && opts.tokenizer === undefined) throw new Error(`${source}: a llama2.c .bin has no tokenizer; give its tokenizer.json with --tokenizer`);
  await initBackend(opts.backend);
  const loaded = isDir ? loadHfFolder(source) : loadLlama2cBin(source);
  try {
    const tokenizerFile = opts.tokenizer ?? path.join(source, 'tokenizer.json');
    if (!fs.existsSync(tokenizerFile)) throw new Error(`${tokenizerFile} is missing; give a tokenizer.json with --tokenizer`);
    const configFile = path.join(path.dirname(tokenizerFile), 'tokenizer_config.json');
    const tokenizer = HFTokenizer.fromJSON(fs.readFileSync(tokenizerFile, 'utf8'), fs.existsSync(configFile) ? fs.readFileSync(configFile, 'utf8') : {});
    const modelConfig = isDir ? readJson(path.join(source, 'config.json')) : {};
    return conventions(loaded.model, tokenizer, {
      config: tokenizer.toJSON().config, where: configFile, defaultBos: tokenizer.startId, eosTokenId: modelConfig.eos_token_id, warnings: [],
    });
  } catch (e) {
    loaded.model.dispose();
    throw e;
  }
}

/** A run folder: the model at its checkpoint, its `text` tokenizer, `<|endoftext|>` first as in its training documents. */
async function loadRunLm(dir: string, opts: TextLmOptions): Promise<TextLm> {
  const run = await loadRun(dir, {
    checkpoint: opts.checkpoint,
    beforeBuild: async (config) => {
      await initBackend(opts.backend ?? config.runtime.backend);
    },
  });
  const model = run.model;
  try {
    if (isImagePromptedLM(model)) throw new Error(`${dir}: model '${run.spec.name}' answers about images: give the image with --image FILE`);
    if (!isCausalLM(model)) throw new Error(`${dir}: model '${run.spec.name}' is not a causal language model; it cannot generate text`);
    const tokenizer = hfTokenizer(run.tokenizer, dir);
    // a tokenizer_config.json in the run folder (e.g. a chat LM's chat_template) goes over the tokenizer's own config
    const file = path.join(run.dir, 'tokenizer_config.json');
    const config = { ...tokenizer.toJSON().config, ...(fs.existsSync(file) ? readJson(file) : {}) };
    // the text dataset's documents are `<|endoftext|> ids <|endoftext|>` (@mmzoo/train data/text-batches.ts)
    return conventions(model, tokenizer, { config, where: file, defaultBos: tokenizer.endId, warnings: run.checkpoint.warnings });
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/** What {@link conventions} reads. */
interface PromptFacts {
  /** the tokenizer_config.json keys (`add_bos_token`, `bos_token`, `eos_token`, `chat_template`) */
  config: Json;
  /** the file they came from, for errors */
  where: string;
  /** the bos id when `add_bos_token` is absent */
  defaultBos: number | undefined;
  /** config.json's `eos_token_id` (a number or a list), if any */
  eosTokenId?: unknown;
  warnings: string[];
}

/**
 * The prompt conventions of a tokenizer config: bos added when `add_bos_token` says so (absent: `defaultBos`), stop
 * ids from the model config's `eos_token_id`, else the config's `eos_token`, else the tokenizer's end id.
 */
function conventions(model: CausalLM & { dispose(): void }, tokenizer: HFTokenizer, facts: PromptFacts): TextLm {
  const { config, defaultBos, eosTokenId } = facts;
  const idOf = (v: unknown) => {
    const t = tokenContent(v);
    return t === undefined ? undefined : tokenizer.tokenToId(t);
  };
  const bosId = config.add_bos_token === false ? undefined : (config.add_bos_token === true ? idOf(config.bos_token) : undefined) ?? defaultBos;
  const eosIds = typeof eosTokenId === 'number' ? [eosTokenId] : Array.isArray(eosTokenId) ? eosTokenId.filter((x): x is number => typeof x === 'number') : [];
  const eos = idOf(config.eos_token) ?? tokenizer.endId;
  const stopIds = eosIds.length > 0 ? eosIds : eos === undefined ? [] : [eos];
  const text = (token: unknown, id: number | undefined) => tokenContent(token) ?? (id === undefined ? undefined : tokenizer.idToToken(id)) ?? '';
  return {
    model, tokenizer, bosId, stopIds, chatTemplate: chatTemplateOf(config, facts.where), bosToken: text(config.bos_token, bosId ?? defaultBos),
    eosToken: text(config.eos_token, stopIds[0]), warnings: facts.warnings, dispose: () => model.dispose(),
  };
}

/** @throws Error when the run's text tokenizer is not a Hugging Face one (a word tokenizer cannot encode free text) */
function hfTokenizer(tokenizer: TextTokenizer, dir: string): HFTokenizer {
  if (!(tokenizer instanceof HFTokenizer)) throw new Error(`${dir}: generation needs a Hugging Face tokenizer (tokenizers.text kind bpe or hf)`);
  return tokenizer;
}

/** @throws Error `<file>: not valid JSON ...` / `<file>: not a JSON object` */
function readJson(file: string): Json {
  let value: unknown;
  try {
    value = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${file}: not a JSON object`);
  return value as Json;
}
