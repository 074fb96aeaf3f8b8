import { HFTokenizer } from '@mmzoo/core';
import {
  BYTE_TO_CHAR, ByteLevelBpe, brownDocuments, byteLevelPieces, fromByteLevel, splitHeldOut, splitSpecials, trainByteLevelBpe,
  wordnetDocuments,
} from '@mmzoo/train';

// Issue 16, "Training": a byte-level BPE trained in the repository whose tokenizer.json loads in
// @huggingface/tokenizers and encodes identically.
const EOT = '<|endoftext|>';
const hfOf = (bpe: ByteLevelBpe) => HFTokenizer.fromJSON(bpe.toTokenizerJson(), bpe.tokenizerConfig());

describe('byte-level pre-tokenization', () => {
  test('bytes to characters: printable bytes stand for themselves, the other 68 for U+0100 onwards', () => {
    expect(new Set(BYTE_TO_CHAR).size).toBe(256);
    // 0..32 -> U+0100..U+0120, 127..160 -> U+0121..U+0142, 173 -> U+0143
    expect([BYTE_TO_CHAR[0x20], BYTE_TO_CHAR[0x0a], BYTE_TO_CHAR[0x00], BYTE_TO_CHAR[0x7f], BYTE_TO_CHAR[0xa0], BYTE_TO_CHAR[0xad]]).toEqual(['Ġ', 'Ċ', 'Ā', 'ġ', 'ł', 'Ń']);
    expect([BYTE_TO_CHAR[0x61], BYTE_TO_CHAR[0x21], BYTE_TO_CHAR[0xa1], BYTE_TO_CHAR[0xff]]).toEqual(['a', '!', '¡', 'ÿ']);
    // é is C3 A9 in UTF-8
    expect(byteLevelPieces(" héllo, world's 42")).toEqual(['ĠhÃ©llo', ',', 'Ġworld', "'s", 'Ġ42']);
    expect(fromByteLevel('ĠhÃ©llo')).toBe(' héllo');
  });

  test('GPT-2 pieces: contractions, letters, digits and other characters each with one leading space, whitespace runs', () => {
    expect(byteLevelPieces("I'm  here\t\n ok!!").map(fromByteLevel)).toEqual(['I', "'m", ' ', ' here', '\t\n', ' ok', '!!']);
    expect(byteLevelPieces('hello', true).map(fromByteLevel)).toEqual([' hello']);
  });

  test('specials are split out first, the longest at each position', () => {
    expect(splitSpecials('a</s>b<s>', ['<s>', '</s>', '</s>b'])).toEqual([
      { text: 'a', special: false }, { text: '</s>b', special: true }, { text: '<s>', special: true },
    ]);
    expect(splitSpecials('', [EOT])).toEqual([]);
  });
});

describe('training', () => {
  // pieces "ab", " ab", " ab", " abc", " bc": pairs (a,b) 4, (Ġ,a) 3, (b,c) 2, (Ġ,b) 1
  const TEXTS = ['ab ab ab abc bc'];

  test('merges the most frequent pair first, ties by the left then the right token (code points), until minFrequency', () => {
    // 1: (a,b) x4. Then (Ġ,ab) x3, (ab,c) 1, (Ġ,b) 1, (b,c) 1. 2: (Ġ,ab). Then every pair occurs once: stop at 2.
    expect(trainByteLevelBpe(TEXTS, { vocabSize: 1000 }).merges).toEqual([['a', 'b'], ['Ġ', 'ab']]);
    // minFrequency 1: the count-1 pairs by left token: 'b' (U+0062) < 'Ġ' (U+0120) < 'Ġab'; after (b,c): (Ġ,bc), (Ġab,c)
    const all = trainByteLevelBpe(TEXTS, { vocabSize: 1000, minFrequency: 1, specials: [EOT], end: EOT });
    expect(all.merges).toEqual([['a', 'b'], ['Ġ', 'ab'], ['b', 'c'], ['Ġ', 'bc'], ['Ġab', 'c']]);
    expect(all.vocabSize).toBe(1 + 256 + 5);
    // ids: the special 0, byte b at 1 + b ('c' = 0x63 -> 100), merged tokens from 257 in order
    expect(all.encode('abc')).toEqual([257, 100, 0]);
    expect(all.encode(' abc bc')).toEqual([261, 260, 0]);
    // vocabSize stops the merges: 1 special + 256 bytes + 2
    expect(trainByteLevelBpe(TEXTS, { vocabSize: 259, minFrequency: 1, specials: [EOT] }).merges).toEqual([['a', 'b'], ['Ġ', 'ab']]);
  });

  test('deterministic: the same merges whatever the order of the texts; specials in the texts are not learned from', () => {
    const texts = ['the cat sat on the mat', 'a dog and a cat', `the end${EOT}the start`, 'mat mat mat'];
    const a = trainByteLevelBpe(texts, { vocabSize: 300, specials: [EOT] });
    const b = trainByteLevelBpe([...texts].reverse(), { vocabSize: 300, specials: [EOT] });
    expect(b.merges).toEqual(a.merges);
    expect(a.merges.some(([l, r]) => `${l}${r}`.includes('<|'))).toBe(false);
  });

  test('bad options and an empty corpus are one-line errors', () => {
    expect(() => trainByteLevelBpe(['a b'], { vocabSize: 257, specials: ['<s>', '</s>'] }))
      .toThrow(/^byte-level BPE: vocabSize: 257 is not an integer from 258 \(the 256 byte tokens \+ 2 specials\) to 2097152$/);
    expect(() => trainByteLevelBpe([], { vocabSize: 300 })).toThrow(/^byte-level BPE: the training corpus has no text \(0 texts, none with a character outside the specials\)$/);
    expect(() => trainByteLevelBpe([EOT, ''], { vocabSize: 300, specials: [EOT] })).toThrow(/^byte-level BPE: the training corpus has no text \(2 texts/);
    expect(() => trainByteLevelBpe(['a'], { vocabSize: 300, specials: [EOT], end: '</s>' })).toThrow(/^byte-level BPE: end: "<\/s>" is not one of the specials \(<\|endoftext\|>\)$/);
    expect(() => trainByteLevelBpe(['a'], { vocabSize: 300, specials: [EOT, EOT] })).toThrow(/^byte-level BPE: specials: "<\|endoftext\|>" is given twice$/);
    expect(() => trainByteLevelBpe(['a'], { vocabSize: 300, specials: ['a'] })).toThrow(/^byte-level BPE: specials: "a" is one of the 256 byte tokens$/);
  });
});

describe('tokenizer.json through @huggingface/tokenizers', () => {
  // a slice of the text corpus: 20 Brown training files and 3,000 training glosses; held out: 2 Brown files and 300 glosses
  let bpe: ByteLevelBpe;
  let heldOut: string[];
  beforeAll(() => {
    const brown = splitHeldOut(brownDocuments());
    const wordnet = splitHeldOut(wordnetDocuments());
    bpe = trainByteLevelBpe([...brown.train.slice(0, 20), ...wordnet.train.slice(0, 3000)].map((d) => d.text), { vocabSize: 1000, specials: [EOT, '<pad>'], end: EOT, pad: '<pad>' });
    heldOut = [...brown.heldOut.slice(0, 2), ...wordnet.heldOut.slice(0, 300)].map((d) => d.text);
  });

  const TRICKY = [
    '', ' ', '   leading and trailing   ', 'tabs\t\tand\nnew\r\nlines\n\n\n', 'naïve café — 東京 🙂 Ünïcödé ß',
    '1234567 3.14159 1,000,000 2nd 42x', "don't won't it's we'll they're I'd I'm 'quoted'", 'Hello!!! ??? ... (a) [b] {c} #$%^&*',
    `text${EOT}more text ${EOT}`, 'lone surrogate \ud800 here', 'zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz',
  ];

  test('encodes held-out text (unicode, digits, whitespace runs, punctuation, specials) with the trainer\'s ids', () => {
    const hf = hfOf(bpe);
    expect(hf.vocabSize).toBe(1000);
    for (const text of [...heldOut, ...TRICKY]) expect([text, hf.inner.encode(text).ids]).toEqual([text, bpe.encode(text)]);
    expect(bpe.encode(TRICKY[8]).filter((id) => id === 0).length).toBe(3);
  });

  test('decoding gives the text back, through the trainer and through HFTokenizer', () => {
    const hf = hfOf(bpe);
    for (const text of [...heldOut.slice(0, 20), ...TRICKY.filter((t) => !t.includes(EOT) && !t.includes('\ud800'))]) {
      const ids = bpe.encode(text);
      expect(bpe.decode(ids)).toBe(text);
      expect(hf.decode(ids)).toBe(text);
    }
  });

  test('HFTokenizer rows: the end id last (kept when truncated), then the pad id', () => {
    const hf = hfOf(bpe);
    expect([hf.startId, hf.endId, hf.padId]).toEqual([undefined, 0, 1]);
    const ids = bpe.encode('The jury said it did find that many of the registration laws are outmoded.');
    expect(Array.from(hf.encode('The jury said it did find that many of the registration laws are outmoded.', ids.length + 2))).toEqual([...ids, 1, 1]);
    expect(Array.from(hf.encode('The jury said it did find that many of the registration laws are outmoded.', 4))).toEqual([...ids.slice(0, 3), 0]);
  });

  test('the file: BPE model with every id once, merges as "a b", specials as special added tokens, ByteLevel parts', () => {
    const json = bpe.toTokenizerJson() as any;
    expect(json.model).toMatchObject({ type: 'BPE', unk_token: null, byte_fallback: false, ignore_merges: false, dropout: null });
    expect(Object.values(json.model.vocab).sort((a: any, b: any) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(json.model.merges.length).toBe(bpe.merges.length);
    expect(json.model.merges[0]).toBe(bpe.merges[0].join(' '));
    expect(json.added_tokens).toEqual([
      { id: 0, content: EOT, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
      { id: 1, content: '<pad>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
    ]);
    expect(json.pre_tokenizer).toEqual({ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true });
    expect(json.decoder.type).toBe('ByteLevel');
    expect(json.post_processor).toEqual({
      type: 'TemplateProcessing',
      single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: EOT, type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: EOT, type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: EOT, type_id: 1 } }],
      special_tokens: { [EOT]: { id: EOT, ids: [0], tokens: [EOT] } },
    });
    expect(bpe.tokenizerConfig()).toEqual({ tokenizer_class: 'PreTrainedTokenizerFast', clean_up_tokenization_spaces: false, add_prefix_space: false, eos_token: EOT, pad_token: '<pad>' });
  });

  test('start, end and pad specials and a prefix space, as configured, agree with HFTokenizer', () => {
    const texts = heldOut.slice(0, 50);
    const tok = trainByteLevelBpe(texts, { vocabSize: 400, specials: ['<s>', '</s>', '<pad>', '<unk>'], start: '<s>', end: '</s>', pad: '<pad>', addPrefixSpace: true });
    const hf = hfOf(tok);
    expect([hf.startId, hf.endId, hf.padId, hf.vocabSize]).toEqual([0, 1, 2, 400]);
    expect(tok.encode('hello')).toEqual(tok.encode(' hello'));
    for (const text of [...texts.slice(0, 10), ...TRICKY]) expect(hf.inner.encode(text).ids).toEqual(tok.encode(text));
    const row = Array.from(hf.encode('a cat', 8));
    expect(row).toEqual([...tok.encode('a cat'), ...Array(8 - tok.encode('a cat').length).fill(2)]);
    expect(row[0]).toBe(0);
  });

  test('merges apply one at a time, lowest rank first, leftmost among equals, as Hugging Face does', () => {
    // "abc" is made twice: (ab,c) at rank 2 and (a,bc) at rank 4, with (abc,a) at rank 3 in between. For "abcabc":
    // (b,c) at 1 -> a bc a b c; (b,c) at 3 -> a bc a bc; (a,bc) at 0 -> abc a bc; (abc,a) at 0 -> abca bc.
    // (GPT-2's encoder.py, merging every occurrence of a pair at once, would give abc abc.)
    const tok = new ByteLevelBpe({ specials: [], merges: [['b', 'c'], ['a', 'b'], ['ab', 'c'], ['abc', 'a'], ['a', 'bc']] });
    const ids = tok.tokenIds('abcabc');
    expect(ids).toEqual([tok.vocab.get('abca'), tok.vocab.get('bc')]);
    expect(hfOf(tok).inner.encode('abcabc').ids).toEqual(ids);
  });
});
