/** Text tokenizers: the built-in word tokenizer and Hugging Face `tokenizer.json` tokenizers. Browser-safe. */
export type { DecodeOptions, EncodedBatch, TextTokenizer } from './types';
export { WORD_TOKENIZER_BASE_SPECIALS, WordTokenizer, splitWords } from './word-tokenizer';
export type { WordTokenizerJSON, WordTokenizerOptions } from './word-tokenizer';
export { HFTokenizer, tokenContent } from './hf-tokenizer';
export type { HFTokenizerJSON, HFTokenizerOptions } from './hf-tokenizer';
