/**
 * The interface every mmzoo text tokenizer implements, so that models, data pipelines and checkpoints
 * can use the built-in word tokenizer and Hugging Face tokenizers interchangeably. Browser-safe.
 */

/** A batch of token rows. */
export interface EncodedBatch {
  /** `[B * L]` int32 token ids, row-major (row b is `ids.subarray(b * L, (b + 1) * L)`). */
  ids: Int32Array;
  /** `[B, L]`: batch size and context length. */
  shape: [number, number];
}

/** Options of {@link TextTokenizer.decode}. */
export interface DecodeOptions {
  /**
   * Stop at the first end-of-text id (default false). Generated captions continue with arbitrary ids
   * after the end token; this cuts them off.
   */
  stopAtEnd?: boolean;
}

/**
 * A text tokenizer that produces fixed-length rows: `[start?] tokens... [end?] pad...`.
 *
 * Truncation keeps the end-of-text id as the last token. The attention (padding) mask of a row is
 * `ids != padId`. Note: open_clip's CLIP pools the text at `argmax(ids)` because its end-of-text id is the
 * largest id; that is not true of every tokenizer here, so CLIP in mmzoo pools at the first `endId`.
 */
export interface TextTokenizer {
  /** Number of ids, i.e. the largest id + 1: the row count a token-embedding table needs. */
  readonly vocabSize: number;
  /** Id written into padded positions. */
  readonly padId: number;
  /** Id that `encode` puts first (e.g. [CLS] / start-of-text), or undefined if it adds none. */
  readonly startId: number | undefined;
  /** Id that `encode` puts after the last token (e.g. [SEP] / end-of-text), or undefined if it adds none. */
  readonly endId: number | undefined;
  /** Id of unknown words, for tokenizers that have one (generation suppresses it). */
  readonly unkId?: number;
  /** Id of the [MASK] token, for tokenizers that have one (generation suppresses it). */
  readonly maskId?: number;
  /**
   * Encodes one text into exactly `contextLength` ids (truncated or padded).
   * @returns `[contextLength]` int32 ids.
   * @throws Error when `contextLength` is not a positive integer large enough for the special tokens.
   */
  encode(text: string, contextLength: number): Int32Array;
  /**
   * Encodes texts into a `[B, contextLength]` batch; each row as {@link encode} makes it.
   */
  encodeBatch(texts: readonly string[], contextLength: number): EncodedBatch;
  /**
   * Turns ids back into text, skipping special tokens and padding.
   * @param ids `[n]` token ids.
   * @throws Error naming the id when an id is not an integer in `[0, vocabSize)`.
   */
  decode(ids: ArrayLike<number>, opts?: DecodeOptions): string;
}
