/**
 * The `tokenizers:` section of an experiment (and its one-tokenizer shorthand `tokenizer:`): which tokenizer each
 * tokenized batch key of the model uses (docs/architecture.md, "The run contract").
 */
import { z } from 'zod';

/**
 * mmzoo's word tokenizer (core `WordTokenizer`), built from the training captions when a run starts (one caption per
 * training sample, the draws of the first epoch): lowercase words, `[PAD] [UNK] [CLS] [SEP] [MASK]` first.
 */
export const WordTokenizerConfigSchema = z
  .object({
    kind: z.literal('word'),
    /** keep words seen at least this many times (default 1); rarer words encode as [UNK] */
    minCount: z.number().int().min(1).optional(),
    /** largest vocabulary, the five specials included (default: no limit) */
    maxVocab: z.number().int().min(5).optional(),
  })
  .strict();

/**
 * A Hugging Face tokenizer (core `HFTokenizer`) read from a `tokenizer.json` (and optionally its
 * `tokenizer_config.json`, which gives the pad and end-of-text tokens), e.g. a BERT WordPiece tokenizer for BLIP-2's
 * Q-Former or a language model's own BPE / SentencePiece tokenizer. Paths are relative to the config file.
 */
export const HfTokenizerConfigSchema = z
  .object({
    kind: z.literal('hf'),
    /** path of the `tokenizer.json` */
    file: z.string().min(1),
    /** path of the `tokenizer_config.json` (optional) */
    config: z.string().min(1).optional(),
  })
  .strict();

/** One tokenizer of a run: `{kind: word, ...}` or `{kind: hf, file, config?}`. */
export const TokenizerConfigSchema = z.discriminatedUnion('kind', [WordTokenizerConfigSchema, HfTokenizerConfigSchema]);

/** The tokenized batch keys a run's tokenizers are keyed by (core `ModelInputs`: `text`, `lm`). */
export const TOKENIZER_KEYS = ['text', 'lm'] as const;

/** One of {@link TOKENIZER_KEYS}. */
export type TokenizerKey = (typeof TOKENIZER_KEYS)[number];

/** `tokenizers:`: a tokenizer per tokenized batch key. */
export const TokenizersSchema = z.partialRecord(z.enum(TOKENIZER_KEYS), TokenizerConfigSchema);

export type TokenizerConfig = z.infer<typeof TokenizerConfigSchema>;
export type TokenizersConfig = z.infer<typeof TokenizersSchema>;

/** The default tokenizer of a tokenized key the config leaves out: the word tokenizer for `text`, none for others. */
export const DEFAULT_TEXT_TOKENIZER: TokenizerConfig = { kind: 'word' };

/**
 * The tokenizer of every key the model needs: `tokenizers:` as written, or `{text: tokenizer}` for the shorthand, with
 * `text` defaulting to {@link DEFAULT_TEXT_TOKENIZER}.
 * @param needed the model's tokenized batch keys (core `tokenInputKeys(spec.inputs(cfg))`)
 * @returns the config of each needed key, or a problem: the path of the offending key and a one-line message (a key
 *   the model does not take, a key it needs that has no default)
 */
export function resolveTokenizers(
  cfg: { tokenizer?: TokenizerConfig; tokenizers?: TokenizersConfig }, needed: readonly TokenizerKey[], modelName: string,
): { tokenizers: Partial<Record<TokenizerKey, TokenizerConfig>> } | { path: (string | number)[]; message: string } {
  const given: TokenizersConfig = cfg.tokenizers ?? (cfg.tokenizer ? { text: cfg.tokenizer } : {});
  const section = cfg.tokenizers ? 'tokenizers' : 'tokenizer';
  for (const key of Object.keys(given) as TokenizerKey[]) {
    if (!needed.includes(key)) {
      const takes = needed.length ? `it takes ${needed.join(', ')}` : 'it takes no tokenized input';
      return { path: section === 'tokenizers' ? ['tokenizers', key] : ['tokenizer'], message: `model '${modelName}' has no '${key}' input to tokenize (${takes})` };
    }
  }
  const out: Partial<Record<TokenizerKey, TokenizerConfig>> = {};
  for (const key of needed) {
    const t = given[key] ?? (key === 'text' ? DEFAULT_TEXT_TOKENIZER : undefined);
    if (!t) return { path: ['tokenizers'], message: `model '${modelName}' needs a tokenizer for its '${key}' input: add tokenizers.${key}: {kind: hf, file: path/to/tokenizer.json}` };
    out[key] = t;
  }
  return { tokenizers: out };
}
