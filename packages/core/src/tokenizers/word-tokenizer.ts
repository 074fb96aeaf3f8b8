/**
 * A word-level tokenizer built from training captions: the simple, deterministic tokenizer mmzoo uses for
 * its generated captions (Fashion-MNIST labels) and small experiments. Browser-safe.
 *
 * Text is NFC-normalised, lowercased and split on every character that is not a letter, combining mark
 * or digit (Unicode `\p{L}`, `\p{M}`, `\p{N}`), so punctuation never becomes a token:
 * `"A red T-shirt."` -> `a`, `red`, `t`, `shirt`.
 *
 * Ids: the special tokens come first at fixed ids: `[PAD]` 0, `[UNK]` 1, `[CLS]` 2 (start of text),
 * `[SEP]` 3 (end of text), `[MASK]` 4, then the optional extra specials in the order given (e.g. `[ENC]` 5,
 * `[DEC]` 6 for BLIP), then the words by descending frequency, ties in code-unit (alphabetical) order.
 */
import { z } from 'zod';
import type { DecodeOptions, EncodedBatch, TextTokenizer } from './types';

/** The five built-in special tokens, in id order (`[PAD]` = 0 ... `[MASK]` = 4). */
export const WORD_TOKENIZER_BASE_SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;

const PAD = 0;
const UNK = 1;
const CLS = 2;
const SEP = 3;
const MASK = 4;

const WORD_SPLIT = /[^\p{L}\p{M}\p{N}]+/u;
const WORD = /^[\p{L}\p{M}\p{N}]+$/u;

/**
 * Splits text into the words {@link WordTokenizer} uses: NFC, lowercase, split on non-(letter, mark,
 * digit) characters, empty pieces dropped.
 * @returns the words in order (may be empty).
 */
export function splitWords(text: string): string[] {
  return text
    .normalize('NFC')
    .toLowerCase()
    .split(WORD_SPLIT)
    .filter((w) => w.length > 0);
}

/** Options of {@link WordTokenizer.fromCaptions}. */
export interface WordTokenizerOptions {
  /** Keep words seen at least this many times (an integer >= 1; default 1). Rarer words encode as `[UNK]`. */
  minCount?: number;
  /**
   * Largest vocabulary size, special tokens included (so the token-embedding table has at most this many
   * rows); the most frequent words are kept. Default: no limit.
   */
  maxVocab?: number;
  /**
   * Extra special tokens, given ids 5, 6, ... in this order (e.g. `['[ENC]', '[DEC]']`). Each must contain
   * a character that is not a letter, mark or digit (so that no word can equal it) and be unique.
   */
  specials?: string[];
}

/** The saved form of a {@link WordTokenizer} (stored with checkpoints). `vocab[id]` is the token of `id`. */
export interface WordTokenizerJSON {
  type: 'mmzoo.WordTokenizer';
  version: 1;
  /** Every special token in id order: the five base specials, then the extras. */
  specials: string[];
  /** The words in id order; word `i` has id `specials.length + i`. */
  words: string[];
}

const jsonSchema = z
  .object({
    type: z.literal('mmzoo.WordTokenizer'),
    version: z.literal(1),
    specials: z.array(z.string()),
    words: z.array(z.string()),
  })
  .strict();

function checkExtraSpecials(extras: readonly string[], where: string): void {
  const seen = new Set<string>(WORD_TOKENIZER_BASE_SPECIALS);
  for (const s of extras) {
    if (typeof s !== 'string' || s.length === 0) throw new Error(`${where}: special token ${JSON.stringify(s)} is not a non-empty string`);
    if (WORD.test(s)) {
      throw new Error(`${where}: special token "${s}" could equal a word; use a non-alphanumeric character, e.g. "[${s.toUpperCase()}]"`);
    }
    if (seen.has(s)) throw new Error(`${where}: special token "${s}" is given twice (the base specials are ${WORD_TOKENIZER_BASE_SPECIALS.join(', ')})`);
    seen.add(s);
  }
}

/**
 * Word-level tokenizer; see the module comment for the text rules and id layout. Build it with
 * {@link WordTokenizer.fromCaptions} or {@link WordTokenizer.fromJSON}.
 */
export class WordTokenizer implements TextTokenizer {
  private readonly vocab: readonly string[];
  private readonly ids: ReadonlyMap<string, number>;
  private readonly numSpecials: number;

  private constructor(specials: readonly string[], words: readonly string[]) {
    this.vocab = [...specials, ...words];
    this.numSpecials = specials.length;
    this.ids = new Map(this.vocab.map((t, i) => [t, i]));
  }

  /**
   * Builds the vocabulary from training captions.
   * @param captions training texts.
   * @param opts see {@link WordTokenizerOptions}.
   * @throws Error when `minCount` is not an integer >= 1, `maxVocab` is not an integer >= the number of
   *   special tokens, or an extra special token is invalid or repeated.
   */
  static fromCaptions(captions: readonly string[], opts: WordTokenizerOptions = {}): WordTokenizer {
    const where = 'WordTokenizer.fromCaptions';
    const extras = opts.specials ?? [];
    checkExtraSpecials(extras, where);
    const specials = [...WORD_TOKENIZER_BASE_SPECIALS, ...extras];
    const minCount = opts.minCount ?? 1;
    if (!Number.isInteger(minCount) || minCount < 1) throw new Error(`${where}: minCount must be an integer >= 1, got ${minCount}`);
    const maxVocab = opts.maxVocab ?? Infinity;
    if (maxVocab !== Infinity && (!Number.isInteger(maxVocab) || maxVocab < specials.length)) {
      throw new Error(`${where}: maxVocab must be an integer >= ${specials.length} (the number of special tokens), got ${maxVocab}`);
    }
    const counts = new Map<string, number>();
    for (const c of captions) for (const w of splitWords(c)) counts.set(w, (counts.get(w) ?? 0) + 1);
    const words = [...counts.entries()]
      .filter(([, n]) => n >= minCount)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([w]) => w)
      .slice(0, Math.max(0, maxVocab - specials.length));
    return new WordTokenizer(specials, words);
  }

  /**
   * Restores a tokenizer saved with {@link toJSON}.
   * @param obj the parsed JSON object (or its JSON text).
   * @throws Error starting with `WordTokenizer.fromJSON:` and naming the field when the object is not a
   *   valid {@link WordTokenizerJSON}: wrong type/version, unknown keys, base specials not first and in
   *   order, invalid extra specials, a word that is not one lowercase NFC word, or a repeated word.
   */
  static fromJSON(obj: unknown): WordTokenizer {
    const where = 'WordTokenizer.fromJSON';
    if (typeof obj === 'string') {
      try {
        obj = JSON.parse(obj);
      } catch (e) {
        throw new Error(`${where}: not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    const parsed = jsonSchema.safeParse(obj);
    if (!parsed.success) {
      const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
      throw new Error(`${where}: not a saved WordTokenizer: ${issues.join('; ')}`);
    }
    const { specials, words } = parsed.data;
    WORD_TOKENIZER_BASE_SPECIALS.forEach((s, i) => {
      if (specials[i] !== s) {
        throw new Error(`${where}: specials[${i}] must be "${s}" (base specials ${WORD_TOKENIZER_BASE_SPECIALS.join(', ')} come first), got ${JSON.stringify(specials[i])}`);
      }
    });
    checkExtraSpecials(specials.slice(WORD_TOKENIZER_BASE_SPECIALS.length), where);
    const seen = new Set<string>();
    words.forEach((w, i) => {
      const split = splitWords(w);
      if (split.length !== 1 || split[0] !== w) {
        throw new Error(`${where}: words[${i}] = ${JSON.stringify(w)} is not a single lowercase word`);
      }
      if (seen.has(w)) throw new Error(`${where}: words[${i}] = "${w}" appears twice`);
      seen.add(w);
    });
    return new WordTokenizer(specials, words);
  }

  /** The saved form; `WordTokenizer.fromJSON(t.toJSON())` gives an identical tokenizer. */
  toJSON(): WordTokenizerJSON {
    return {
      type: 'mmzoo.WordTokenizer',
      version: 1,
      specials: this.vocab.slice(0, this.numSpecials),
      words: this.vocab.slice(this.numSpecials),
    };
  }

  /** Number of ids: special tokens + words. */
  get vocabSize(): number {
    return this.vocab.length;
  }
  /** `[PAD]`: always 0. */
  get padId(): number {
    return PAD;
  }
  /** `[UNK]`, for words outside the vocabulary: always 1. */
  get unkId(): number {
    return UNK;
  }
  /** `[CLS]`, the start-of-text id: always 2. */
  get clsId(): number {
    return CLS;
  }
  /** Same as {@link clsId}. */
  get startId(): number {
    return CLS;
  }
  /** `[SEP]`, the end-of-text id: always 3. Not the largest id (see {@link TextTokenizer}). */
  get sepId(): number {
    return SEP;
  }
  /** Same as {@link sepId}. */
  get endId(): number {
    return SEP;
  }
  /** `[MASK]`, for masked language modelling: always 4. */
  get maskId(): number {
    return MASK;
  }
  /** Every special token in id order (ids `0 .. specials.length - 1`). */
  get specials(): string[] {
    return this.vocab.slice(0, this.numSpecials);
  }

  /**
   * The id of a special token, e.g. `specialId('[DEC]')`.
   * @throws Error listing the special tokens when `token` is not one.
   */
  specialId(token: string): number {
    const id = this.ids.get(token);
    if (id === undefined || id >= this.numSpecials) {
      throw new Error(`WordTokenizer: "${token}" is not a special token; the special tokens are ${this.specials.join(', ')}`);
    }
    return id;
  }

  /** The id of a token (word or special), or undefined if it is not in the vocabulary. */
  tokenToId(token: string): number | undefined {
    return this.ids.get(token);
  }

  /** The token of an id, or undefined outside `[0, vocabSize)`. */
  idToToken(id: number): string | undefined {
    return Number.isInteger(id) ? this.vocab[id] : undefined;
  }

  /** The words of `text` (see {@link splitWords}), without special tokens. */
  tokenize(text: string): string[] {
    return splitWords(text);
  }

  /**
   * Encodes one text as `[CLS] words... [SEP] [PAD]...`; words outside the vocabulary become `[UNK]`.
   * When too long, words are dropped from the end and `[SEP]` stays the last token.
   * @param contextLength L, an integer >= 2.
   * @returns `[L]` int32 ids.
   * @throws Error when `contextLength` is not an integer >= 2.
   */
  encode(text: string, contextLength: number): Int32Array {
    checkContextLength(contextLength);
    const out = new Int32Array(contextLength).fill(PAD);
    this.encodeInto(text, out);
    return out;
  }

  /**
   * Encodes texts row by row as {@link encode} does.
   * @returns ids `[B * L]` and shape `[B, L]`.
   */
  encodeBatch(texts: readonly string[], contextLength: number): EncodedBatch {
    checkContextLength(contextLength);
    const ids = new Int32Array(texts.length * contextLength).fill(PAD);
    texts.forEach((t, b) => this.encodeInto(t, ids.subarray(b * contextLength, (b + 1) * contextLength)));
    return { ids, shape: [texts.length, contextLength] };
  }

  private encodeInto(text: string, row: Int32Array): void {
    const words = splitWords(text);
    const n = Math.min(words.length, row.length - 2);
    row[0] = CLS;
    for (let i = 0; i < n; i++) row[1 + i] = this.ids.get(words[i]) ?? UNK;
    row[1 + n] = SEP;
  }

  /**
   * Joins the words of `ids` with single spaces. Padding, `[CLS]`, `[SEP]`, `[MASK]` and extra specials are
   * skipped; `[UNK]` is kept (written `[UNK]`) so that lost words stay visible.
   * @param ids `[n]` ids.
   * @param opts `stopAtEnd`: stop at the first `[SEP]`.
   * @throws Error naming the position and value of an id that is not an integer in `[0, vocabSize)`.
   */
  decode(ids: ArrayLike<number>, opts: DecodeOptions = {}): string {
    const out: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= this.vocab.length) {
        throw new Error(`WordTokenizer.decode: ids[${i}] = ${id} is not an id in [0, ${this.vocab.length})`);
      }
      if (id === SEP && opts.stopAtEnd) break;
      if (id === UNK || id >= this.numSpecials) out.push(this.vocab[id]);
    }
    return out.join(' ');
  }
}

function checkContextLength(contextLength: number): void {
  if (!Number.isInteger(contextLength) || contextLength < 2) {
    throw new Error(`WordTokenizer: contextLength must be an integer >= 2 (room for [CLS] and [SEP]), got ${contextLength}`);
  }
}
