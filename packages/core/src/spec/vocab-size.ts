import type { BuildParts } from './model-spec';

/**
 * The vocabulary size a builder uses: the config's `model.text.vocabSize` (decoder LMs: `model.vocabSize`), else
 * the tokenizer's ({@link BuildParts.vocabSize}).
 * @param configured the config's value, when it sets one
 * @param key the config key, for the error (default `model.text.vocabSize`)
 * @throws Error naming `key` when neither gives it
 */
export function resolveVocabSize(configured: number | undefined, parts: BuildParts, key = 'model.text.vocabSize'): number {
  const vocabSize = configured ?? parts.vocabSize;
  if (vocabSize === undefined) throw new Error(`${key} is not set and no tokenizer gives it`);
  return vocabSize;
}
