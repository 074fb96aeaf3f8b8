import { WordTokenizer, splitWords, type TextTokenizer } from '@mmzoo/core/tokenizers';

const captions = ['A red shirt.', 'a blue shirt', 'A red dress, red!', 'The shoe'];
// Counts worked out by hand: a 3, red 3, shirt 2, blue 1, dress 1, shoe 1, the 1.
// Order: count descending, then alphabetical; ids start after the 5 specials.
const expectedWords = ['a', 'red', 'shirt', 'blue', 'dress', 'shoe', 'the'];

describe('WordTokenizer', () => {
  const tok = WordTokenizer.fromCaptions(captions);

  it('splits on non-alphanumerics and lowercases', () => {
    expect(splitWords("  A red T-shirt, it's 2x ÉTÉ! ")).toEqual(['a', 'red', 't', 'shirt', 'it', 's', '2x', 'été']);
    expect(splitWords('e\u0301')).toEqual(['\u00e9']); // NFC: decomposed é becomes one word
    expect(splitWords('...')).toEqual([]);
  });

  it('assigns fixed special ids and frequency-ordered word ids', () => {
    expect([tok.padId, tok.unkId, tok.clsId, tok.sepId, tok.maskId]).toEqual([0, 1, 2, 3, 4]);
    expect(tok.startId).toBe(2);
    expect(tok.endId).toBe(3);
    expect(tok.specials).toEqual(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
    expect(tok.vocabSize).toBe(12);
    expect(expectedWords.map((w) => tok.tokenToId(w))).toEqual([5, 6, 7, 8, 9, 10, 11]);
    expect(tok.idToToken(11)).toBe('the');
    expect(tok.idToToken(12)).toBeUndefined();
  });

  it('encodes with start, end and padding; unknown words become [UNK]', () => {
    expect(Array.from(tok.encode('A red hat!', 6))).toEqual([2, 5, 6, 1, 3, 0]);
    expect(Array.from(tok.encode('', 3))).toEqual([2, 3, 0]);
  });

  it('truncates keeping the end id last', () => {
    expect(Array.from(tok.encode('a red shirt blue dress', 4))).toEqual([2, 5, 6, 3]);
    expect(Array.from(tok.encode('a red shirt blue dress', 2))).toEqual([2, 3]);
    expect(Array.from(tok.encode('a red', 4))).toEqual([2, 5, 6, 3]);
  });

  it('rejects a context length without room for [CLS] and [SEP]', () => {
    expect(() => tok.encode('a', 1)).toThrow(/contextLength must be an integer >= 2.*got 1/);
    expect(() => tok.encodeBatch(['a'], 2.5)).toThrow(/got 2.5/);
  });

  it('encodes batches row by row', () => {
    const { ids, shape } = tok.encodeBatch(['the shoe', 'red red red red red'], 5);
    expect(shape).toEqual([2, 5]);
    expect(Array.from(ids)).toEqual([2, 11, 10, 3, 0, 2, 6, 6, 6, 3]);
    expect(tok.encodeBatch([], 4)).toEqual({ ids: new Int32Array(0), shape: [0, 4] });
  });

  it('decodes, skipping specials but showing [UNK]', () => {
    expect(tok.decode([2, 5, 6, 1, 3, 0, 0])).toBe('a red [UNK]');
    expect(tok.decode(new Int32Array([2, 5, 3, 6]))).toBe('a red');
    expect(tok.decode([2, 5, 3, 6], { stopAtEnd: true })).toBe('a');
    expect(tok.decode([4, 7])).toBe('shirt');
    expect(() => tok.decode([2, 12])).toThrow('WordTokenizer.decode: ids[1] = 12 is not an id in [0, 12)');
    expect(() => tok.decode([-1])).toThrow(/ids\[0\] = -1/);
  });

  it('applies minCount and maxVocab (specials included)', () => {
    const t2 = WordTokenizer.fromCaptions(captions, { minCount: 2 });
    expect(t2.vocabSize).toBe(8);
    expect(t2.tokenToId('shirt')).toBe(7);
    expect(t2.tokenToId('blue')).toBeUndefined();
    expect(Array.from(t2.encode('blue shirt', 4))).toEqual([2, 1, 7, 3]);
    const t3 = WordTokenizer.fromCaptions(captions, { maxVocab: 7 });
    expect(t3.toJSON().words).toEqual(['a', 'red']);
    expect(() => WordTokenizer.fromCaptions(captions, { maxVocab: 4 })).toThrow(/maxVocab must be an integer >= 5/);
    expect(() => WordTokenizer.fromCaptions(captions, { minCount: 0 })).toThrow(/minCount must be an integer >= 1/);
  });

  it('places extra specials after [MASK] and looks them up by name', () => {
    const t = WordTokenizer.fromCaptions(captions, { specials: ['[ENC]', '[DEC]'] });
    expect(t.specialId('[ENC]')).toBe(5);
    expect(t.specialId('[DEC]')).toBe(6);
    expect(t.specialId('[MASK]')).toBe(4);
    expect(t.tokenToId('a')).toBe(7);
    expect(t.vocabSize).toBe(14);
    expect(t.decode([6, 7, 8, 3])).toBe('a red');
    expect(() => t.specialId('a')).toThrow(/"a" is not a special token; the special tokens are \[PAD\], .*\[DEC\]/);
    expect(() => WordTokenizer.fromCaptions([], { specials: ['dec'] })).toThrow(/"dec" could equal a word/);
    expect(() => WordTokenizer.fromCaptions([], { specials: ['[CLS]'] })).toThrow(/"\[CLS\]" is given twice/);
  });

  it('is deterministic whatever the caption order', () => {
    const shuffled = WordTokenizer.fromCaptions([...captions].reverse());
    expect(shuffled.toJSON()).toEqual(tok.toJSON());
  });

  it('round-trips through JSON', () => {
    const t = WordTokenizer.fromCaptions(captions, { specials: ['[DEC]'] });
    const json = t.toJSON();
    expect(json).toEqual({
      type: 'mmzoo.WordTokenizer',
      version: 1,
      specials: ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', '[DEC]'],
      words: expectedWords,
    });
    const back = WordTokenizer.fromJSON(JSON.parse(JSON.stringify(json)));
    expect(back.toJSON()).toEqual(json);
    expect(Array.from(back.encode('red shoe', 5))).toEqual(Array.from(t.encode('red shoe', 5)));
    expect(WordTokenizer.fromJSON(JSON.stringify(json)).specialId('[DEC]')).toBe(5);
    const asInterface: TextTokenizer = back;
    expect(asInterface.vocabSize).toBe(13);
  });

  it('fromJSON rejects bad objects with a clear error', () => {
    const good = tok.toJSON();
    const bad = (o: unknown) => () => WordTokenizer.fromJSON(o);
    expect(bad(null)).toThrow(/^WordTokenizer.fromJSON: not a saved WordTokenizer: \(root\)/);
    expect(bad('{oops')).toThrow(/^WordTokenizer.fromJSON: not valid JSON/);
    expect(bad({ ...good, type: 'other' })).toThrow(/not a saved WordTokenizer: type:/);
    expect(bad({ ...good, version: 2 })).toThrow(/version:/);
    expect(bad({ ...good, words: undefined })).toThrow(/words:/);
    expect(bad({ ...good, words: [1] })).toThrow(/words\.0:/);
    expect(bad({ ...good, extra: true })).toThrow(/extra/);
    expect(bad({ ...good, specials: ['[UNK]', '[PAD]', '[CLS]', '[SEP]', '[MASK]'] })).toThrow(
      /specials\[0\] must be "\[PAD\]".*got "\[UNK\]"/,
    );
    expect(bad({ ...good, words: ['a', 'Red'] })).toThrow(/words\[1\] = "Red" is not a single lowercase word/);
    expect(bad({ ...good, words: ['a b'] })).toThrow(/words\[0\] = "a b"/);
    expect(bad({ ...good, words: ['a', 'a'] })).toThrow(/words\[1\] = "a" appears twice/);
    expect(bad({ ...good, specials: [...good.specials, 'enc'] })).toThrow(/"enc" could equal a word/);
  });
});
