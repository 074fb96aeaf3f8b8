/**
 * The `tokenizers:` section of an experiment (and its one-tokenizer shorthand `tokenizer:`): which tokenizer each
 * tokenized batch key of the model uses (docs/architecture.md, "The run contract").
 */
import { z } from 'zod';
import { bpeOptionProblems } from './bpe-trainer';

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

/**
 * A byte-level BPE tokenizer trained when a run starts (tokenizers/bpe-trainer.ts) on the run's text (the training
 * captions, one per training sample as the first epoch draws them), then used and saved as a Hugging Face tokenizer
 * (kind `hf`, its `tokenizer.json`), so a resumed or evaluated run loads it back without training it again.
 */
export const BpeTokenizerConfigSchema = z
  .object({
    kind: z.literal('bpe'),
    /** tokens in all: specials + 256 bytes + merged tokens; at least 256 + the number of specials */
    vocabSize: z.number().int(),
    /** special tokens, ids 0, 1, ... in this order; never split */
    specials: z.array(z.string().min(1)).default(['<|endoftext|>', '<pad>']),
    /** the special put before every text (e.g. `<s>`); none by default */
    start: z.string().optional(),
    /** the special put after every text: the end-of-text id */
    end: z.string().default('<|endoftext|>'),
    /** the special of padded positions; apart from `end`, since a row's padding mask is `ids != padId` */
    pad: z.string().default('<pad>'),
    /** stop merging when the most frequent pair occurs fewer times than this */
    minFrequency: z.number().int().min(1).default(2),
    /** put a space before a text that does not start with one (GPT-2: false) */
    addPrefixSpace: z.boolean().default(false),
  })
  .strict()
  .superRefine((c, ctx) => {
    for (const p of bpeOptionProblems(c)) ctx.addIssue({ code: 'custom', path: [p.key], message: p.message });
  });

/**
 * The tokenizer of the run an `init:` entry takes its weights from (`entry`, default `model`): the tokenizer of the
 * same key (or `key`) saved in that run's checkpoint (its meta.json), so that a run continuing another one's weights (the chat LM
 * from the base LM) reads the ids those weights were trained on instead of training a new tokenizer. The entry must
 * name a run, checkpoint or config source (a bare safetensors file has no tokenizer); checked when the config loads.
 * A run saves it as what it is (kind `hf` for a trained BPE), so a resumed or evaluated run needs no `init:` source.
 */
export const InitTokenizerConfigSchema = z
  .object({
    kind: z.literal('init'),
    /** the `init:` entry whose run's tokenizer this is */
    entry: z.string().min(1).default('model'),
    /**
     * which of that run's tokenizers (default: the one of this key): a language model trained alone keeps its
     * tokenizer under `text`, which a bridge reads as its `lm` tokenizer (`{kind: init, entry: lm, key: text}`)
     */
    key: z.enum(['text', 'lm']).optional(),
  })
  .strict();

/**
 * One tokenizer of a run: `{kind: word, ...}`, `{kind: hf, file, config?}`, `{kind: bpe, vocabSize, ...}` or
 * `{kind: init, entry?, key?}`.
 */
export const TokenizerConfigSchema = z.discriminatedUnion('kind', [
  WordTokenizerConfigSchema, HfTokenizerConfigSchema, BpeTokenizerConfigSchema, InitTokenizerConfigSchema,
]);

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
