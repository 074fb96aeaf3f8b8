/**
 * A byte-level BPE tokenizer trained in the repository (issue 16: `@huggingface/tokenizers` only encodes), written
 * as a Hugging Face `tokenizer.json` that `@huggingface/tokenizers` (core's `HFTokenizer`) loads and encodes with
 * exactly the ids of {@link ByteLevelBpe.encode}.
 *
 * Byte-pair encoding for subwords: Sennrich et al. 2016, "Neural Machine Translation of Rare Words with Subword
 * Units", section 3.2 (merge the most frequent adjacent pair, repeatedly); over bytes with GPT-2's pre-tokenization
 * (Radford et al. 2019, section 2.2; byte-level.ts).
 */
import { byteLevelPieces, byteLevelString, BYTE_TO_CHAR, fromByteLevel, gpt2Pieces, splitSpecials } from './byte-level';

/** Options of {@link trainByteLevelBpe}. */
export interface BpeTrainOptions {
  /** the vocabulary size to reach: specials + 256 bytes + merged tokens (fewer when pairs run out, see `minFrequency`) */
  vocabSize: number;
  /** special tokens, ids 0, 1, ... in this order; never split, never learned from (default none) */
  specials?: readonly string[];
  /** the special put before every encoded text (the post-processor's template), if any */
  start?: string;
  /** the special put after every encoded text, if any */
  end?: string;
  /**
   * the special of padded positions (none by default: `HFTokenizer` then pads with id 0); keep it apart from `end`,
   * since a row's padding mask is `ids != padId`
   */
  pad?: string;
  /** stop merging when the most frequent pair occurs fewer times than this (default 2) */
  minFrequency?: number;
  /** put a space before a text (each part between specials) that does not start with one (default false, as GPT-2) */
  addPrefixSpace?: boolean;
}

/** What a {@link ByteLevelBpe} is made of: its specials and merges, the template and padding roles, the prefix space. */
export interface ByteLevelBpeParts extends Pick<BpeTrainOptions, 'start' | 'end' | 'pad' | 'addPrefixSpace'> {
  specials: readonly string[];
  /** merges in rank order, each a pair of tokens (byte-level strings) */
  merges: readonly (readonly [string, string])[];
}

/** The largest vocabulary {@link trainByteLevelBpe} builds (pair keys pack two token ids into one number). */
export const MAX_BPE_VOCAB = 1 << 21;

/**
 * A trained byte-level BPE: special tokens (ids 0 .. k-1), the 256 byte tokens (ids k .. k+255, in byte order, written
 * with `BYTE_TO_CHAR`), then the merged tokens in the order they were learned.
 *
 * Encoding ({@link encode}) splits out the specials, cuts the rest into GPT-2 pieces and applies the merges to each
 * piece one at a time: the adjacent pair of lowest merge rank, the leftmost of equal ranks, until none applies (what
 * Hugging Face's tokenizers do; GPT-2's `encoder.py` merges every occurrence of a pair at once, which differs only when
 * two merges make the same token). Then the template: `start`, the ids, `end`.
 */
export class ByteLevelBpe {
  /** special tokens, ids 0 .. k-1 */
  readonly specials: readonly string[];
  /** merges in rank order, each a pair of tokens (byte-level strings) */
  readonly merges: readonly (readonly [string, string])[];
  /** every token's id: specials, bytes, merged tokens */
  readonly vocab: ReadonlyMap<string, number>;
  /** the special put before every encoded text, if any */
  readonly start: string | undefined;
  /** the special put after every encoded text (the end-of-text token), if any */
  readonly end: string | undefined;
  /** the special of padded positions (tokenizer_config.json's `pad_token`), if any */
  readonly pad: string | undefined;
  /** whether a space is put before a text (each part between specials) that does not start with one */
  readonly addPrefixSpace: boolean;
  private readonly ranks = new Map<string, number>();
  private readonly tokens: readonly string[];
  private readonly cache = new Map<string, number[]>();

  /**
   * @throws Error for bad specials ({@link bpeOptionProblems}) or a merge of tokens not in the vocabulary
   */
  constructor(opts: ByteLevelBpeParts) {
    checkOptions(opts);
    this.specials = [...opts.specials];
    this.merges = opts.merges.map(([a, b]) => [a, b] as const);
    this.start = opts.start;
    this.end = opts.end;
    this.pad = opts.pad;
    this.addPrefixSpace = opts.addPrefixSpace ?? false;
    const vocab = new Map<string, number>();
    for (const t of [...this.specials, ...BYTE_TO_CHAR]) vocab.set(t, vocab.size);
    this.merges.forEach(([a, b], rank) => {
      if (!vocab.has(a) || !vocab.has(b)) throw new Error(`ByteLevelBpe: merge ${rank} (${a} ${b}) joins a token that is not in the vocabulary`);
      if (!this.ranks.has(`${a} ${b}`)) this.ranks.set(`${a} ${b}`, rank);
      if (!vocab.has(a + b)) vocab.set(a + b, vocab.size);
    });
    this.vocab = vocab;
    this.tokens = [...vocab.keys()];
  }

  /** Number of tokens (the largest id + 1). */
  get vocabSize(): number {
    return this.vocab.size;
  }

  /** The tokens of one GPT-2 piece (a byte-level string) after the merges. */
  private bpe(piece: string): number[] {
    const cached = this.cache.get(piece);
    if (cached) return cached;
    const parts = piece.split('');
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < parts.length; i++) {
        const r = this.ranks.get(`${parts[i]} ${parts[i + 1]}`);
        if (r !== undefined && r < bestRank) {
          best = i;
          bestRank = r;
        }
      }
      if (best < 0) break;
      parts.splice(best, 2, parts[best] + parts[best + 1]);
    }
    const ids = parts.map((t) => this.vocab.get(t)!);
    this.cache.set(piece, ids);
    return ids;
  }

  /** The ids of a text without the template: specials as their ids, the rest by the merges. */
  tokenIds(text: string): number[] {
    const out: number[] = [];
    for (const sec of splitSpecials(text, this.specials)) {
      if (sec.special) out.push(this.vocab.get(sec.text)!);
      else for (const piece of byteLevelPieces(sec.text, this.addPrefixSpace)) out.push(...this.bpe(piece));
    }
    return out;
  }

  /** The ids of a text with the template: `start`, {@link tokenIds}, `end` (each when configured). */
  encode(text: string): number[] {
    const ids = this.tokenIds(text);
    if (this.start !== undefined) ids.unshift(this.vocab.get(this.start)!);
    if (this.end !== undefined) ids.push(this.vocab.get(this.end)!);
    return ids;
  }

  /**
   * The text of ids, specials left out.
   * @throws Error naming the position of an id outside [0, vocabSize)
   */
  decode(ids: ArrayLike<number>): string {
    const special = new Set(this.specials);
    let s = '';
    for (let i = 0; i < ids.length; i++) {
      const t = this.tokens[ids[i]];
      if (t === undefined) throw new Error(`ByteLevelBpe.decode: ids[${i}] = ${ids[i]} is not an id in [0, ${this.tokens.length})`);
      if (!special.has(t)) s += t;
    }
    return fromByteLevel(s);
  }

  /**
   * The Hugging Face `tokenizer.json` (format version 1.0): a `BPE` model (vocab, merges as `"a b"` strings, no unknown
   * token), the specials as special added tokens, `ByteLevel` pre-tokenizer (GPT-2 pattern, `add_prefix_space` as
   * trained) and decoder, and a `TemplateProcessing` post-processor putting `start` / `end` around a text (a
   * `ByteLevel` one when there is neither).
   */
  toTokenizerJson(): Record<string, unknown> {
    const byteLevel = { type: 'ByteLevel', add_prefix_space: this.addPrefixSpace, trim_offsets: true, use_regex: true };
    return {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: this.specials.map((content) => ({
        id: this.vocab.get(content), content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
      })),
      normalizer: null,
      pre_tokenizer: byteLevel,
      post_processor: this.postProcessor(),
      decoder: { ...byteLevel, add_prefix_space: true },
      model: {
        type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false,
        byte_fallback: false, ignore_merges: false, vocab: Object.fromEntries(this.vocab), merges: this.merges.map(([a, b]) => `${a} ${b}`),
      },
    };
  }

  private postProcessor(): Record<string, unknown> {
    if (this.start === undefined && this.end === undefined) return { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true };
    const special = (t: string | undefined, typeId: number) => (t === undefined ? [] : [{ SpecialToken: { id: t, type_id: typeId } }]);
    const sequence = (id: 'A' | 'B', typeId: number) => [...special(this.start, typeId), { Sequence: { id, type_id: typeId } }, ...special(this.end, typeId)];
    const roles = [...new Set([this.start, this.end].filter((t): t is string => t !== undefined))];
    return {
      type: 'TemplateProcessing',
      single: sequence('A', 0),
      pair: [...sequence('A', 0), ...sequence('B', 1)],
      special_tokens: Object.fromEntries(roles.map((t) => [t, { id: t, ids: [this.vocab.get(t)], tokens: [t] }])),
    };
  }

  /**
   * The `tokenizer_config.json`: the start, end and pad tokens as `bos_token`, `eos_token`, `pad_token` (which
   * core's `HFTokenizer` reads), and `clean_up_tokenization_spaces: false` so that decoding gives the text back.
   */
  tokenizerConfig(): Record<string, unknown> {
    return {
      tokenizer_class: 'PreTrainedTokenizerFast',
      clean_up_tokenization_spaces: false,
      add_prefix_space: this.addPrefixSpace,
      ...(this.start !== undefined ? { bos_token: this.start } : {}),
      ...(this.end !== undefined ? { eos_token: this.end } : {}),
      ...(this.pad !== undefined ? { pad_token: this.pad } : {}),
    };
  }
}

/** A problem with BPE options ({@link bpeOptionProblems}): the option and a one-line message. */
export interface BpeOptionProblem {
  key: 'vocabSize' | 'specials' | 'start' | 'end' | 'pad';
  message: string;
}

/**
 * What is wrong with BPE options, one entry per problem (none when they are good): an empty, repeated or single-byte
 * special; a start / end / pad that is not one of the specials; with `vocabSize`, one that is not an integer from
 * 256 + the number of specials to {@link MAX_BPE_VOCAB}. The `kind: bpe` config schema reports them at their keys.
 */
export function bpeOptionProblems(opts: { vocabSize?: number; specials?: readonly string[]; start?: string; end?: string; pad?: string }): BpeOptionProblem[] {
  const specials = opts.specials ?? [];
  const out: BpeOptionProblem[] = [];
  const seen = new Set<string>();
  for (const s of specials) {
    if (!s) out.push({ key: 'specials', message: 'a special token is empty' });
    else if (seen.has(s)) out.push({ key: 'specials', message: `${JSON.stringify(s)} is given twice` });
    else if (BYTE_TO_CHAR.includes(s)) out.push({ key: 'specials', message: `${JSON.stringify(s)} is one of the 256 byte tokens` });
    seen.add(s);
  }
  for (const key of ['start', 'end', 'pad'] as const) {
    const t = opts[key];
    if (t !== undefined && !seen.has(t)) out.push({ key, message: `${JSON.stringify(t)} is not one of the specials (${specials.length ? specials.join(' ') : 'none'})` });
  }
  const v = opts.vocabSize;
  const min = 256 + specials.length;
  if (v !== undefined && (!Number.isInteger(v) || v < min || v > MAX_BPE_VOCAB)) {
    out.push({ key: 'vocabSize', message: `${v} is not an integer from ${min} (the 256 byte tokens + ${specials.length} special${specials.length === 1 ? '' : 's'}) to ${MAX_BPE_VOCAB}` });
  }
  return out;
}

/** @throws Error `byte-level BPE: <key>: <message>` for the first of {@link bpeOptionProblems} */
function checkOptions(opts: Parameters<typeof bpeOptionProblems>[0]): void {
  const [p] = bpeOptionProblems(opts);
  if (p) throw new Error(`byte-level BPE: ${p.key}: ${p.message}`);
}

/** Packs a pair of token ids (< {@link MAX_BPE_VOCAB}) into one number. */
const pairKey = (a: number, b: number) => a * MAX_BPE_VOCAB + b;

/** A max-heap of pair counts: the larger count first, equal counts by the left token, then the right (code points). */
class PairHeap {
  private readonly items: { count: number; a: number; b: number }[] = [];
  constructor(private readonly tokens: readonly string[]) {}

  private before(x: { count: number; a: number; b: number }, y: { count: number; a: number; b: number }): boolean {
    if (x.count !== y.count) return x.count > y.count;
    const [xa, ya, xb, yb] = [this.tokens[x.a], this.tokens[y.a], this.tokens[x.b], this.tokens[y.b]];
    return xa !== ya ? xa < ya : xb < yb;
  }

  push(item: { count: number; a: number; b: number }): void {
    const h = this.items;
    h.push(item);
    for (let i = h.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (!this.before(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  pop(): { count: number; a: number; b: number } | undefined {
    const h = this.items;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      for (let i = 0; ;) {
        const [l, r] = [2 * i + 1, 2 * i + 2];
        let m = i;
        if (l < h.length && this.before(h[l], h[m])) m = l;
        if (r < h.length && this.before(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}

/**
 * Trains a byte-level BPE on texts: counts the GPT-2 pieces of every text (specials split out and not counted), then
 * repeatedly merges the most frequent adjacent pair of tokens inside the pieces (Sennrich et al. 2016, section 3.2),
 * every occurrence left to right, until the vocabulary has `vocabSize` tokens or the most frequent pair occurs fewer
 * than `minFrequency` times. Ties between equally frequent pairs go to the smaller left token, then the smaller right
 * token (byte-level strings compared by code point), so the result depends on the texts and options alone. A pair
 * whose merged token already exists (`t`+`he` after `th`+`e`) adds a merge but no token.
 * @param texts the training corpus (e.g. the run's captions, or text-corpus documents)
 * @throws Error `byte-level BPE: <option>: ...` for bad options ({@link bpeOptionProblems}: e.g. a `vocabSize` below
 *   256 + the specials), or when the texts hold no character outside the specials (an empty corpus)
 */
export function trainByteLevelBpe(texts: Iterable<string>, opts: BpeTrainOptions): ByteLevelBpe {
  checkOptions(opts);
  const specials = opts.specials ?? [];
  const minFrequency = opts.minFrequency ?? 2;

  // the pieces and their counts (counted as text, then written as bytes: far fewer conversions)
  const textCounts = new Map<string, number>();
  let nTexts = 0;
  for (const text of texts) {
    nTexts++;
    for (const sec of splitSpecials(text, specials)) {
      if (sec.special) continue;
      for (const p of gpt2Pieces(sec.text, opts.addPrefixSpace)) textCounts.set(p, (textCounts.get(p) ?? 0) + 1);
    }
  }
  if (textCounts.size === 0) throw new Error(`byte-level BPE: the training corpus has no text (${nTexts} text${nTexts === 1 ? '' : 's'}, none with a character outside the specials)`);
  const pieceCounts = new Map<string, number>();
  for (const [p, n] of textCounts) {
    const b = byteLevelString(p);
    pieceCounts.set(b, (pieceCounts.get(b) ?? 0) + n);
  }

  // tokens as numbers: the 256 bytes first; a merged token gets the next number unless its string exists
  const tokens: string[] = [...BYTE_TO_CHAR];
  const tokenOf = new Map<string, number>(tokens.map((t, i) => [t, i]));
  const words: number[][] = [];
  const wordCounts: number[] = [];
  for (const [piece, n] of pieceCounts) {
    words.push(piece.split('').map((c) => tokenOf.get(c)!));
    wordCounts.push(n);
  }

  const pairCounts = new Map<number, number>();
  const pairWords = new Map<number, number[]>();
  const addPairs = (w: number, sign: 1 | -1, touched: Set<number>) => {
    const word = words[w];
    for (let i = 0; i + 1 < word.length; i++) {
      const k = pairKey(word[i], word[i + 1]);
      pairCounts.set(k, (pairCounts.get(k) ?? 0) + sign * wordCounts[w]);
      touched.add(k);
      if (sign > 0) {
        const list = pairWords.get(k);
        if (!list) pairWords.set(k, [w]);
        else if (list[list.length - 1] !== w) list.push(w);
      }
    }
  };
  const heap = new PairHeap(tokens);
  const pushAll = (keys: Iterable<number>) => {
    for (const k of keys) {
      const count = pairCounts.get(k)!;
      if (count > 0) heap.push({ count, a: Math.floor(k / MAX_BPE_VOCAB), b: k % MAX_BPE_VOCAB });
    }
  };
  const initial = new Set<number>();
  words.forEach((_, w) => addPairs(w, 1, initial));
  pushAll(initial);

  const merges: [string, string][] = [];
  const merged = new Set<number>();
  // specials take ids first and a merged token equal to one reuses it, so the vocabulary counts the specials' strings
  const specialStrings = new Set(specials);
  let vocabSize = specials.length + 256;
  while (vocabSize < opts.vocabSize) {
    const top = heap.pop();
    if (!top) break;
    const key = pairKey(top.a, top.b);
    if (pairCounts.get(key) !== top.count) continue; // a stale entry: the count changed since it was pushed
    if (top.count < minFrequency) break;
    const text = tokens[top.a] + tokens[top.b];
    let id = tokenOf.get(text);
    if (id === undefined) {
      id = tokens.length;
      tokens.push(text);
      tokenOf.set(text, id);
      if (!specialStrings.has(text)) vocabSize++;
    }
    if (!merged.has(key)) {
      merged.add(key);
      merges.push([tokens[top.a], tokens[top.b]]);
    }
    const touched = new Set<number>();
    for (const w of pairWords.get(key) ?? []) {
      const word = words[w];
      let has = false;
      for (let i = 0; i + 1 < word.length && !has; i++) has = word[i] === top.a && word[i + 1] === top.b;
      if (!has) continue;
      addPairs(w, -1, touched);
      const next: number[] = [];
      for (let i = 0; i < word.length; i++) {
        if (i + 1 < word.length && word[i] === top.a && word[i + 1] === top.b) {
          next.push(id);
          i++;
        } else {
          next.push(word[i]);
        }
      }
      words[w] = next;
      addPairs(w, 1, touched);
    }
    pairWords.delete(key);
    pushAll(touched);
  }
  return new ByteLevelBpe({ specials, merges, start: opts.start, end: opts.end, pad: opts.pad, addPrefixSpace: opts.addPrefixSpace });
}
