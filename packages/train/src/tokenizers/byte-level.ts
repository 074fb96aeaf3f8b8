/**
 * Byte-level pre-tokenization as GPT-2 defines it (Radford et al. 2019, "Language Models are Unsupervised Multitask
 * Learners", section 2.2; its `encoder.py`) and Hugging Face's `ByteLevel` pre-tokenizer applies it: special tokens
 * are split out first, the rest is cut into pieces by GPT-2's pattern, and each piece's UTF-8 bytes are written as
 * printable characters ({@link BYTE_TO_CHAR}), so that a BPE over those characters needs no unknown token.
 */

/**
 * The character standing for each byte: the printable bytes `!`..`~`, `¡`..`¬` and `®`..`ÿ` stand for themselves;
 * the other 68 (control characters, space, DEL, NBSP, soft hyphen), in byte order, for U+0100, U+0101, ... (so a
 * space is `Ġ` U+0120, a newline `Ċ` U+010A). Indexed by byte, 256 entries.
 */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const out: string[] = [];
  let next = 0x100;
  for (let b = 0; b < 256; b++) out.push(String.fromCharCode(printable(b) ? b : next++));
  return out;
})();

/** The byte each character of {@link BYTE_TO_CHAR} stands for. */
export const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

/**
 * GPT-2's pre-tokenization pattern: the contractions `'s 't 're 've 'm 'll 'd`, then an optional space followed by
 * letters, by digits, or by other non-space characters, then runs of whitespace (a run before a non-space keeps its
 * last space for the next piece). The same pattern as `@huggingface/tokenizers`' ByteLevel pre-tokenizer (a
 * JavaScript regular expression: `\s` is JavaScript's whitespace class).
 */
export const GPT2_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

const utf8 = new TextEncoder();

/** A text's UTF-8 bytes written with {@link BYTE_TO_CHAR} (`" héllo"` -> `Ġh Ã© llo` joined). Lone surrogates become U+FFFD. */
export function byteLevelString(text: string): string {
  let out = '';
  for (const b of utf8.encode(text)) out += BYTE_TO_CHAR[b];
  return out;
}

/** The text of the bytes a byte-level string stands for (the inverse of {@link byteLevelString}; invalid UTF-8 becomes U+FFFD). */
export function fromByteLevel(s: string): string {
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const b = CHAR_TO_BYTE.get(s[i]);
    if (b === undefined) throw new Error(`fromByteLevel: '${s[i]}' (U+${s.charCodeAt(i).toString(16).toUpperCase().padStart(4, '0')}) stands for no byte`);
    bytes[i] = b;
  }
  return new TextDecoder().decode(bytes);
}

/**
 * A text cut into pieces by {@link GPT2_PATTERN}; with `addPrefixSpace`, a space is put first when the text does not
 * start with one (so a text's first word is cut as a later word is).
 */
export function gpt2Pieces(text: string, addPrefixSpace = false): string[] {
  const t = addPrefixSpace && !text.startsWith(' ') ? ` ${text}` : text;
  return t.match(GPT2_PATTERN) ?? [];
}

/** The pieces of {@link gpt2Pieces}, each written as a byte-level string ({@link byteLevelString}). */
export function byteLevelPieces(text: string, addPrefixSpace = false): string[] {
  return gpt2Pieces(text, addPrefixSpace).map(byteLevelString);
}

/** A section of a text split at its special tokens. */
export interface TextSection {
  text: string;
  /** true for an occurrence of a special token */
  special: boolean;
}

/**
 * A text split at occurrences of special tokens, scanning left to right and taking the longest special that starts
 * at each position (as Hugging Face tokenizers split out added tokens before pre-tokenization). Empty sections are
 * left out.
 */
export function splitSpecials(text: string, specials: readonly string[]): TextSection[] {
  if (!specials.some((s) => text.includes(s))) return text ? [{ text, special: false }] : [];
  const out: TextSection[] = [];
  let start = 0;
  let i = 0;
  while (i < text.length) {
    let match = '';
    for (const s of specials) if (s.length > match.length && text.startsWith(s, i)) match = s;
    if (!match) {
      i++;
      continue;
    }
    if (i > start) out.push({ text: text.slice(start, i), special: false });
    out.push({ text: match, special: true });
    i += match.length;
    start = i;
  }
  if (start < text.length) out.push({ text: text.slice(start), special: false });
  return out;
}
