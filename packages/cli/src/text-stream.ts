import type { TextTokenizer } from '@mmzoo/core';

/**
 * The text of one generated row as its tokens arrive, for printing as it goes: each step decodes the whole sequence
 * (prompt included, so that a token's leading space and multi-byte characters split over several byte-level BPE
 * tokens come out right) and hands out the new suffix. Held back until they are settled: a trailing U+FFFD (an
 * incomplete UTF-8 character) and a tail that may be the start of a stop string. The first stop string ends the row;
 * the text ends before it.
 */
export class TextStream {
  private readonly ids: number[];
  private readonly promptLength: number;
  private readonly base: string;
  private printed = 0;
  private stopped = false;
  /** the generated text so far (cut before a stop string once one appeared) */
  text = '';

  /**
   * @param prompt the prompt's ids (decoded once, as the base the generated text follows)
   * @param stops stop strings (empty ones are ignored)
   */
  constructor(private readonly tokenizer: TextTokenizer, prompt: readonly number[], private readonly stops: readonly string[]) {
    this.ids = [...prompt];
    this.promptLength = prompt.length;
    this.base = tokenizer.decode(this.ids);
    this.stops = stops.filter((s) => s.length > 0);
  }

  /**
   * Adds a generated token.
   * @returns the text now safe to print, and whether a stop string has appeared (the row should end)
   */
  push(token: number): { text: string; stop: boolean } {
    if (this.stopped) return { text: '', stop: true };
    this.ids.push(token);
    const full = this.tokenizer.decode(this.ids);
    let text = full.startsWith(this.base) ? full.slice(this.base.length) : this.tokenizer.decode(this.ids.slice(this.promptLength));
    const cut = Math.min(...this.stops.map((s) => text.indexOf(s)).filter((i) => i >= 0));
    if (Number.isFinite(cut)) {
      text = text.slice(0, cut);
      this.stopped = true;
    }
    this.text = text;
    return { text: this.take(this.stopped ? text.length : this.settled(text)), stop: this.stopped };
  }

  /** The rest of the text, held back until now. */
  finish(): string {
    return this.take(this.text.length);
  }

  /** The text from what was printed up to `end`. */
  private take(end: number): string {
    if (end <= this.printed) return '';
    const out = this.text.slice(this.printed, end);
    this.printed = end;
    return out;
  }

  /** Length of the prefix of `text` that cannot change: without a trailing U+FFFD or the start of a stop string. */
  private settled(text: string): number {
    let n = text.length;
    while (n > 0 && text[n - 1] === '\uFFFD') n--;
    let hold = 0;
    for (const s of this.stops) {
      for (let k = Math.min(s.length - 1, n); k > hold; k--) {
        if (text.endsWith(s.slice(0, k), n)) {
          hold = k;
          break;
        }
      }
    }
    return n - hold;
  }
}
