import type { BuildParts } from './model-spec';

/**
 * The vocabulary size a builder uses: the config's `model.text.vocabSize`, else the tokenizer's
 * ({@link BuildParts.vocabSize}).
 * @param configured `model.text.vocabSize`, when the config sets it
 * @throws Error naming `model.text.vocabSize` when neither gives it
 */
export function resolveVocabSize(configured: number | undefined, parts: BuildParts): number {
  const vocabSize = configured ?? parts.vocabSize;
  if (vocabSize === undefined) throw new Error('model.text.vocabSize is not set and no tokenizer gives it');
  return vocabSize;
}
