/** A run's tokenizers: the `tokenizers:` config, building them, saving / loading them by kind; the byte-level BPE trainer. */
export {
  BpeTokenizerConfigSchema, DEFAULT_TEXT_TOKENIZER, HfTokenizerConfigSchema, TOKENIZER_KEYS, TokenizerConfigSchema, TokenizersSchema,
  WordTokenizerConfigSchema, resolveTokenizers,
} from './config';
export type { TokenizerConfig, TokenizerKey, TokenizersConfig } from './config';
export { buildTokenizer, buildTokenizerOf, makeTokenizers, trainingCaptions } from './build';
export {
  loadSavedTokenizer, saveTokenizer, savedTokenizersOfMeta, tokenizerFileName, tokenizersMeta, tokenizersOfMeta, writeTokenizerFiles,
} from './saved';
export type { SavedTokenizer, SavedTokenizers } from './saved';
export { BYTE_TO_CHAR, CHAR_TO_BYTE, GPT2_PATTERN, byteLevelPieces, byteLevelString, fromByteLevel, gpt2Pieces, splitSpecials } from './byte-level';
export type { TextSection } from './byte-level';
export { ByteLevelBpe, MAX_BPE_VOCAB, bpeOptionProblems, trainByteLevelBpe } from './bpe-trainer';
export type { BpeOptionProblem, BpeTrainOptions, ByteLevelBpeParts } from './bpe-trainer';
