/**
 * Hugging Face tokenizers (`tokenizer.json`, as saved by the `tokenizers` library and published with most
 * models on the Hub) behind mmzoo's {@link TextTokenizer} interface, through the pure-JS library
 * `@huggingface/tokenizers` (https://github.com/huggingface/tokenizers.js). Browser-safe: the caller reads
 * or fetches the JSON.
 *
 * The library supports the BPE, WordPiece and Unigram models; a `WordLevel` model is handled by its
 * generic vocabulary model, with `model.unk_token` passed on as the unknown token.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import type { DecodeOptions, EncodedBatch, TextTokenizer } from './types';

/** Options of {@link HFTokenizer.fromJSON}. */
export interface HFTokenizerOptions {
  /**
   * Padding id. Default: the id of `tokenizerConfig.pad_token`, else `padding.pad_id` of `tokenizer.json`,
   * else 0.
   */
  padId?: number;
  /** Start id that `encode` adds; default: found by encoding an empty text (see {@link HFTokenizer.startId}). */
  startId?: number;
  /** End id that `encode` adds; default: found by encoding an empty text (see {@link HFTokenizer.endId}). */
  endId?: number;
}

type Json = Record<string, unknown>;

/** The saved form of an {@link HFTokenizer} ({@link HFTokenizer.toJSON}). */
export interface HFTokenizerJSON {
  /** the parsed `tokenizer.json` */
  tokenizer: Record<string, unknown>;
  /** the parsed `tokenizer_config.json` (`{}` when there was none) */
  config: Record<string, unknown>;
  padId: number;
  startId: number | undefined;
  endId: number | undefined;
}

function asObject(value: unknown, what: string): Json {
  let v = value;
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch (e) {
      throw new Error(`HFTokenizer: ${what} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`HFTokenizer: ${what} is not a JSON object`);
  return v as Json;
}

/**
 * The text of a token named in tokenizer_config.json (`bos_token`, `eos_token`, `pad_token`, ...): either a string or
 * an AddedToken object `{content, ...}`; undefined for anything else.
 */
export function tokenContent(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as Json).content === 'string') return (v as Json).content as string;
  return undefined;
}

/**
 * A Hugging Face tokenizer with the {@link TextTokenizer} surface. Rows are what the tokenizer's own
 * post-processor produces (e.g. `[CLS] ... [SEP]` for BERT, `<|startoftext|> ... <|endoftext|>` for CLIP),
 * truncated to the context length keeping the end id last, then padded with `padId`.
 */
export class HFTokenizer implements TextTokenizer {
  /** The underlying `@huggingface/tokenizers` instance (for anything this wrapper does not expose). */
  readonly inner: Tokenizer;
  /** Largest id in the vocabulary (added tokens included) + 1. */
  readonly vocabSize: number;
  /** Id written into padded positions (see {@link HFTokenizerOptions.padId} for the default). */
  readonly padId: number;
  /**
   * The id the post-processor puts first: the first id of an encoded empty text when that has 2 or more
   * ids, or its only id when that is not the config's `eos_token`; undefined when it adds none.
   */
  readonly startId: number | undefined;
  /**
   * The id the post-processor puts last: the last id of an encoded empty text when that has 2 or more
   * ids, or its only id when that is the config's `eos_token`; undefined when it adds none. Truncation
   * keeps it as the last token.
   */
  readonly endId: number | undefined;

  /** What it was loaded from (parsed `tokenizer.json` and `tokenizer_config.json`), for {@link toJSON}. */
  private readonly source: { tokenizer: Json; config: Json };

  private constructor(inner: Tokenizer, padId: number, startId: number | undefined, endId: number | undefined, source: { tokenizer: Json; config: Json }) {
    this.inner = inner;
    this.source = source;
    let max = -1;
    for (const id of inner.get_vocab(true).values()) if (id > max) max = id;
    this.vocabSize = max + 1;
    this.padId = padId;
    this.startId = startId;
    this.endId = endId;
  }

  /**
   * Loads a tokenizer.
   * @param tokenizerJson the contents of `tokenizer.json`, parsed or as text.
   * @param tokenizerConfig the contents of `tokenizer_config.json` (optional; gives pad/eos tokens and
   *   options such as `clean_up_tokenization_spaces`), parsed or as text.
   * @param opts override the pad, start and end ids.
   * @throws Error when either JSON is invalid or not an object, when the library rejects the tokenizer
   *   (e.g. an unsupported model, normalizer or pre-tokenizer type; its message is included), or when
   *   `pad_token` names a token missing from the vocabulary.
   */
  static fromJSON(tokenizerJson: object | string, tokenizerConfig: object | string = {}, opts: HFTokenizerOptions = {}): HFTokenizer {
    const source = { tokenizer: asObject(tokenizerJson, 'tokenizer.json'), config: asObject(tokenizerConfig, 'tokenizer_config.json') };
    const json: Json = { ...source.tokenizer };
    const config: Json = { ...source.config };
    for (const k of ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder']) if (!(k in json)) json[k] = null;
    if (!('added_tokens' in json)) json.added_tokens = [];
    const model = json.model as Json | undefined;
    if (!model || typeof model !== 'object') throw new Error('HFTokenizer: tokenizer.json has no "model" object');
    if (model.type === 'WordLevel' && config.unk_token === undefined && typeof model.unk_token === 'string') {
      config.unk_token = model.unk_token;
    }
    let inner: Tokenizer;
    try {
      inner = new Tokenizer(json, config);
    } catch (e) {
      throw new Error(`HFTokenizer: cannot build the tokenizer: ${e instanceof Error ? e.message : String(e)}`);
    }

    let padId = opts.padId;
    if (padId === undefined) {
      const padToken = tokenContent(config.pad_token);
      if (padToken !== undefined) {
        padId = inner.token_to_id(padToken);
        if (padId === undefined) throw new Error(`HFTokenizer: pad_token "${padToken}" is not in the vocabulary`);
      }
    }
    if (padId === undefined) {
      const padding = json.padding as Json | null | undefined;
      if (padding && typeof padding.pad_id === 'number') padId = padding.pad_id;
    }

    let startId = opts.startId;
    let endId = opts.endId;
    if (startId === undefined || endId === undefined) {
      const probe = inner.encode('').ids;
      const eos = tokenContent(config.eos_token);
      const eosId = eos === undefined ? undefined : inner.token_to_id(eos);
      let s: number | undefined;
      let e: number | undefined;
      if (probe.length >= 2) {
        s = probe[0];
        e = probe[probe.length - 1];
      } else if (probe.length === 1) {
        if (probe[0] === eosId) e = probe[0];
        else s = probe[0];
      }
      startId ??= s;
      endId ??= e;
    }
    return new HFTokenizer(inner, padId ?? 0, startId, endId, source);
  }

  /**
   * The saved form: the `tokenizer.json` and `tokenizer_config.json` objects it was loaded from and the resolved pad,
   * start and end ids; `HFTokenizer.fromJSON(j.tokenizer, j.config, j)` of it gives an identical tokenizer.
   */
  toJSON(): HFTokenizerJSON {
    return { tokenizer: this.source.tokenizer, config: this.source.config, padId: this.padId, startId: this.startId, endId: this.endId };
  }

  /** The tokenizer's tokens for `text` (after normalisation and pre-tokenisation), without special tokens. */
  tokenize(text: string): string[] {
    return this.inner.tokenize(text);
  }

  /** The id of a token, or undefined if it is not in the vocabulary. */
  tokenToId(token: string): number | undefined {
    return this.inner.token_to_id(token);
  }

  /** The token of an id, or undefined if there is none. */
  idToToken(id: number): string | undefined {
    return this.inner.id_to_token(id);
  }

  /**
   * Encodes one text with the tokenizer's special tokens, truncated to `contextLength` (the end id, when
   * the row ends with it, stays last) and padded with `padId`.
   * @param contextLength L, a positive integer (>= 2 when the tokenizer adds an end id).
   * @returns `[L]` int32 ids.
   * @throws Error on a bad `contextLength`, or when a token has no id and the tokenizer has no unknown token.
   */
  encode(text: string, contextLength: number): Int32Array {
    this.checkContextLength(contextLength);
    const out = new Int32Array(contextLength).fill(this.padId);
    this.encodeInto(text, out);
    return out;
  }

  /**
   * Encodes texts row by row as {@link encode} does.
   * @returns ids `[B * L]` and shape `[B, L]`.
   */
  encodeBatch(texts: readonly string[], contextLength: number): EncodedBatch {
    this.checkContextLength(contextLength);
    const ids = new Int32Array(texts.length * contextLength).fill(this.padId);
    texts.forEach((t, b) => this.encodeInto(t, ids.subarray(b * contextLength, (b + 1) * contextLength)));
    return { ids, shape: [texts.length, contextLength] };
  }

  private checkContextLength(contextLength: number): void {
    const min = this.endId === undefined ? 1 : 2;
    if (!Number.isInteger(contextLength) || contextLength < min) {
      throw new Error(`HFTokenizer: contextLength must be an integer >= ${min}, got ${contextLength}`);
    }
  }

  private encodeInto(text: string, row: Int32Array): void {
    const enc = this.inner.encode(text);
    const ids = enc.ids as (number | undefined)[];
    const bad = ids.findIndex((id) => id === undefined);
    if (bad >= 0) {
      throw new Error(`HFTokenizer: token "${enc.tokens[bad]}" is not in the vocabulary and the tokenizer has no unknown token`);
    }
    const full = ids as number[];
    const L = row.length;
    if (full.length <= L) {
      row.set(full);
    } else if (this.endId !== undefined && full[full.length - 1] === this.endId) {
      row.set(full.slice(0, L - 1));
      row[L - 1] = this.endId;
    } else {
      row.set(full.slice(0, L));
    }
  }

  /**
   * Decodes ids with the tokenizer's decoder, skipping special tokens and `padId`.
   * @param ids `[n]` ids.
   * @param opts `stopAtEnd`: stop at the first `endId`.
   * @throws Error naming the position and value of an id that is not an integer in `[0, vocabSize)`.
   */
  decode(ids: ArrayLike<number>, opts: DecodeOptions = {}): string {
    const kept: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new Error(`HFTokenizer.decode: ids[${i}] = ${id} is not an id in [0, ${this.vocabSize})`);
      }
      if (opts.stopAtEnd && id === this.endId) break;
      if (id !== this.padId) kept.push(id);
    }
    if (kept.length === 0) return '';
    return this.inner.decode(kept, { skip_special_tokens: true });
  }
}
