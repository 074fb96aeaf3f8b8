/**
 * Builds a run's tokenizers from their configs: word tokenizers and byte-level BPE tokenizers from the run's text (the
 * training captions), HF ones from files.
 */
import { readFileSync } from 'fs';
import { HFTokenizer, Rng, TextTokenizer, WordTokenizer } from '@mmzoo/core';
import type { PairSource } from '../data/pairs';
import type { TokenizerConfig, TokenizerKey } from './config';
import { loadSavedTokenizer, SavedTokenizers } from './saved';
import { trainByteLevelBpe } from './bpe-trainer';

/**
 * One caption per training sample, drawn as the first epoch draws them (sample `i` with `Rng(seed).fork('caption-i')`):
 * the corpus a word tokenizer's vocabulary is built from, a deterministic function of the data and seed.
 */
export function trainingCaptions(train: PairSource, seed: number): string[] {
  const captions: string[] = [];
  for (let i = 0; i < train.size; i++) captions.push(train.caption(i, new Rng(seed).fork(`caption-${i}`)));
  return captions;
}

/**
 * The word tokenizer of the training captions ({@link trainingCaptions}) with default options: what a run builds
 * for its `text` key when the config names no tokenizer.
 */
export function buildTokenizer(train: PairSource, seed: number): WordTokenizer {
  return WordTokenizer.fromCaptions(trainingCaptions(train, seed));
}

function readJson(file: string, what: string): object {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${what}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  try {
    return JSON.parse(text) as object;
  } catch (e) {
    throw new Error(`${what}: ${file} is not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * Builds one tokenizer from its config (`kind: word`: from `corpus()`; `kind: bpe`: trained on `corpus()` and loaded
 * from its tokenizer.json as an `HFTokenizer`, which a run saves with kind `hf`; `kind: hf`: from its files).
 * `corpus` is called only for the kinds built from text.
 * @param key the batch key, for error messages (`tokenizers.<key>`)
 * @throws Error naming `tokenizers.<key>` (and the file) for an unreadable or invalid tokenizer file, or a corpus a
 *   BPE cannot be trained on (no text); for kind `init` (not built: see {@link initTokenizer})
 */
export function buildTokenizerOf(cfg: TokenizerConfig, key: TokenizerKey, corpus: () => string[]): TextTokenizer {
  const what = `tokenizers.${key}`;
  if (cfg.kind === 'init') throw new Error(`${what}: kind init is not built but taken from an init: entry's run (makeTokenizers)`);
  if (cfg.kind === 'word') return WordTokenizer.fromCaptions(corpus(), { minCount: cfg.minCount, maxVocab: cfg.maxVocab });
  if (cfg.kind === 'bpe') {
    try {
      const bpe = trainByteLevelBpe(corpus(), cfg);
      return HFTokenizer.fromJSON(bpe.toTokenizerJson(), bpe.tokenizerConfig());
    } catch (e) {
      throw new Error(`${what}: ${(e as Error).message}`);
    }
  }
  const json = readJson(cfg.file, `${what}.file`);
  const config = cfg.config ? readJson(cfg.config, `${what}.config`) : {};
  try {
    return HFTokenizer.fromJSON(json, config);
  } catch (e) {
    throw new Error(`${what}: ${cfg.file}: ${(e as Error).message}`);
  }
}

/**
 * The tokenizer of a `{kind: init, entry, key?}` config: the one of key `sourceKey` (default: the same key) among the
 * tokenizers saved with the weights of `init.<entry>` (`fromInit`, by entry).
 * @throws Error naming `tokenizers.<key>` when that entry was not read or its run saved no tokenizer for that key
 */
export function initTokenizer(
  entry: string, key: TokenizerKey, fromInit: Readonly<Record<string, SavedTokenizers>> | undefined, sourceKey: TokenizerKey = key,
): TextTokenizer {
  const what = `tokenizers.${key}`;
  const saved = fromInit?.[entry];
  if (!saved) throw new Error(`${what}: kind init takes the tokenizer of init.${entry}'s run, which has no finished run yet (mmzoo train trains it first; a run stopped before train.steps does not count)`);
  const have = Object.keys(saved).join(', ') || 'none';
  if (!saved[sourceKey]) throw new Error(`${what}: kind init: the run of init.${entry} saved no '${sourceKey}' tokenizer (it has: ${have}; pick one with key)`);
  return loadSavedTokenizer(saved[sourceKey], `${what} (from init.${entry})`);
}

/**
 * The run's tokenizers: loaded from `saved` (a resumed or evaluated run) when given, else built from the configs.
 * @param configs the tokenizer of each key the model needs (config/tokenizers `resolveTokenizers`)
 * @param corpus the text word and BPE tokenizers are built from (called at most once): the training captions today
 * @param where names the saved tokenizers' source in errors (e.g. a meta.json path)
 * @param fromInit the tokenizers saved by each `init:` entry's run, by entry ({@link initTokenizer}; kind `init`)
 * @throws Error when a saved run lacks a tokenizer the model needs, or as {@link buildTokenizerOf} /
 *   {@link initTokenizer} / `loadSavedTokenizer`
 */
export function makeTokenizers(
  configs: Partial<Record<TokenizerKey, TokenizerConfig>>, corpus: () => string[], saved?: SavedTokenizers, where = 'the run',
  fromInit?: Readonly<Record<string, SavedTokenizers>>,
): Partial<Record<TokenizerKey, TextTokenizer>> {
  let texts: string[] | undefined;
  const once = () => (texts ??= corpus());
  const out: Partial<Record<TokenizerKey, TextTokenizer>> = {};
  for (const [key, cfg] of Object.entries(configs) as [TokenizerKey, TokenizerConfig][]) {
    if (saved) {
      if (!saved[key]) throw new Error(`${where}: has no saved tokenizer for the model's '${key}' input`);
      out[key] = loadSavedTokenizer(saved[key], `${where}: tokenizer ${key}`);
    } else {
      out[key] = cfg.kind === 'init' ? initTokenizer(cfg.entry, key, fromInit, cfg.key) : buildTokenizerOf(cfg, key, once);
    }
  }
  return out;
}
