/**
 * Tokenizers as a run saves them: `tokenizer.json` (the `text` tokenizer; the form checkpoints have always had) and
 * `tokenizer-<key>.json` for the others in the run folder, the same objects under `tokenizer` / `tokenizers` in each
 * checkpoint's meta.json. Each carries its `kind` and is loaded back by it; a saved tokenizer without a kind (runs
 * from before kinds) is a word tokenizer.
 */
import { writeFileSync } from 'fs';
import * as path from 'path';
import { HFTokenizer, TextTokenizer, WordTokenizer } from '@mmzoo/core';
import type { HFTokenizerJSON, WordTokenizerJSON } from '@mmzoo/core';
import type { TokenizerKey } from './config';

/** A saved tokenizer: its kind and the tokenizer's own saved form. */
export type SavedTokenizer = ({ kind: 'word' } & WordTokenizerJSON) | ({ kind: 'hf' } & HFTokenizerJSON);

/** The saved tokenizers of a run, by key. */
export type SavedTokenizers = Partial<Record<TokenizerKey, SavedTokenizer>>;

/**
 * The saved form of a tokenizer, with its kind.
 * @throws Error for a tokenizer of another class (only WordTokenizer and HFTokenizer are saved)
 */
export function saveTokenizer(tok: TextTokenizer): SavedTokenizer {
  if (tok instanceof WordTokenizer) return { kind: 'word', ...tok.toJSON() };
  if (tok instanceof HFTokenizer) return { kind: 'hf', ...tok.toJSON() };
  throw new Error(`cannot save a tokenizer of class ${tok.constructor.name}: a run saves WordTokenizer (kind word) and HFTokenizer (kind hf) tokenizers`);
}

/**
 * Loads a saved tokenizer by its kind (none: `word`, the form of runs from before kinds).
 * @param where names the file or meta field in errors
 * @throws Error `<where>: ...` for an unknown kind or a malformed saved tokenizer
 */
export function loadSavedTokenizer(saved: unknown, where: string): TextTokenizer {
  if (saved === null || typeof saved !== 'object' || Array.isArray(saved)) throw new Error(`${where}: a saved tokenizer must be a JSON object`);
  const { kind, ...rest } = saved as Record<string, unknown>;
  try {
    if (kind === undefined || kind === 'word') return WordTokenizer.fromJSON(rest);
    if (kind === 'hf') {
      const j = rest as Partial<HFTokenizerJSON>;
      if (!j.tokenizer || typeof j.tokenizer !== 'object') throw new Error('kind hf without its tokenizer.json object');
      return HFTokenizer.fromJSON(j.tokenizer, j.config ?? {}, { padId: j.padId, startId: j.startId, endId: j.endId });
    }
  } catch (e) {
    throw new Error(`${where}: ${(e as Error).message}`);
  }
  throw new Error(`${where}: unknown tokenizer kind ${JSON.stringify(kind)} (known: word, hf)`);
}

/**
 * The saved tokenizers a checkpoint's meta.json holds, by key: `tokenizer` (the `text` tokenizer) and `tokenizers`
 * (the others); `{}` when it holds none.
 */
export function savedTokenizersOfMeta(meta: { [field: string]: unknown }): SavedTokenizers {
  return { ...(meta.tokenizer ? { text: meta.tokenizer as SavedTokenizer } : {}), ...((meta.tokenizers ?? {}) as SavedTokenizers) };
}

/**
 * The saved tokenizers of a checkpoint's meta.json ({@link savedTokenizersOfMeta}), which must hold at least one.
 * @param where names the meta.json in errors
 * @throws Error when the meta has no tokenizer
 */
export function tokenizersOfMeta(meta: { [field: string]: unknown }, where: string): SavedTokenizers {
  if (!meta.tokenizer && !meta.tokenizers) throw new Error(`${where}: has no tokenizer; it was not written by mmzoo train`);
  return savedTokenizersOfMeta(meta);
}

/** The meta.json fields of saved tokenizers: `tokenizer` for `text` (as checkpoints always had it), `tokenizers` for the others. */
export function tokenizersMeta(saved: SavedTokenizers): { tokenizer?: SavedTokenizer; tokenizers?: SavedTokenizers } {
  const { text, ...others } = saved;
  return { ...(text ? { tokenizer: text } : {}), ...(Object.keys(others).length ? { tokenizers: others } : {}) };
}

/** The run-folder file of a tokenizer: `tokenizer.json` for `text`, `tokenizer-<key>.json` for the others. */
export function tokenizerFileName(key: TokenizerKey): string {
  return key === 'text' ? 'tokenizer.json' : `tokenizer-${key}.json`;
}

/**
 * Writes each saved tokenizer into the run folder as {@link tokenizerFileName} (`tokenizer.json`, `tokenizer-lm.json`).
 * @throws Error from the file system (the caller names the folder)
 */
export function writeTokenizerFiles(runDir: string, saved: SavedTokenizers): void {
  for (const [key, json] of Object.entries(saved) as [TokenizerKey, SavedTokenizer][]) {
    writeFileSync(path.join(runDir, tokenizerFileName(key)), JSON.stringify(json));
  }
}
