import { HFTokenizer, type TextTokenizer } from '@mmzoo/core/tokenizers';

function special(id: number, content: string) {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

/** A hand-written tokenizer.json: WordLevel model, lowercase, Whitespace pre-tokenizer, [CLS] $A [SEP]. */
function tinyTokenizerJson(withPostProcessor = true): Record<string, unknown> {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0, '[PAD]'), special(1, '[UNK]'), special(2, '[CLS]'), special(3, '[SEP]')],
    normalizer: { type: 'Lowercase' },
    pre_tokenizer: { type: 'Whitespace' },
    model: {
      type: 'WordLevel',
      vocab: { '[PAD]': 0, '[UNK]': 1, '[CLS]': 2, '[SEP]': 3, a: 4, red: 5, shirt: 6, '.': 7, blue: 8 },
      unk_token: '[UNK]',
    },
    post_processor: withPostProcessor
      ? {
          type: 'TemplateProcessing',
          single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
          pair: [],
          special_tokens: {
            '[CLS]': { id: '[CLS]', ids: [2], tokens: ['[CLS]'] },
            '[SEP]': { id: '[SEP]', ids: [3], tokens: ['[SEP]'] },
          },
        }
      : null,
    decoder: null,
  };
}

describe('HFTokenizer (tiny WordLevel tokenizer.json)', () => {
  const tok = HFTokenizer.fromJSON(tinyTokenizerJson(), { pad_token: '[PAD]' });

  it('exposes vocabulary size and special ids', () => {
    expect(tok.vocabSize).toBe(9);
    expect(tok.padId).toBe(0);
    expect(tok.startId).toBe(2);
    expect(tok.endId).toBe(3);
    expect(tok.tokenToId('shirt')).toBe(6);
    expect(tok.idToToken(8)).toBe('blue');
    expect(tok.tokenize('A red shirt.')).toEqual(['a', 'red', 'shirt', '.']);
  });

  it('encodes with known ids, unknown words and padding', () => {
    expect(Array.from(tok.encode('A RED shirt. green', 9))).toEqual([2, 4, 5, 6, 7, 1, 3, 0, 0]);
  });

  it('truncates keeping the end id last', () => {
    expect(Array.from(tok.encode('a red shirt blue', 4))).toEqual([2, 4, 5, 3]);
    expect(Array.from(tok.encode('a', 3))).toEqual([2, 4, 3]);
    expect(() => tok.encode('a', 1)).toThrow(/contextLength must be an integer >= 2/);
  });

  it('encodes batches', () => {
    const b = tok.encodeBatch(['blue shirt', 'a'], 5);
    expect(b.shape).toEqual([2, 5]);
    expect(Array.from(b.ids)).toEqual([2, 8, 6, 3, 0, 2, 4, 3, 0, 0]);
  });

  it('decodes, skipping specials and padding', () => {
    expect(tok.decode([2, 4, 5, 6, 3, 0, 0])).toBe('a red shirt');
    expect(tok.decode(new Int32Array([2, 4, 3, 8]), { stopAtEnd: true })).toBe('a');
    expect(tok.decode([0, 0])).toBe('');
    expect(() => tok.decode([2, 9])).toThrow('HFTokenizer.decode: ids[1] = 9 is not an id in [0, 9)');
  });

  it('takes the JSON as text and the pad id from options or tokenizer.json padding', () => {
    const fromText = HFTokenizer.fromJSON(JSON.stringify(tinyTokenizerJson()), '{}', { padId: 1 });
    expect(Array.from(fromText.encode('a', 5))).toEqual([2, 4, 3, 1, 1]);
    const withPadding = { ...tinyTokenizerJson(), padding: { pad_id: 7, pad_token: '.' } };
    expect(HFTokenizer.fromJSON(withPadding).padId).toBe(7);
    expect(HFTokenizer.fromJSON(tinyTokenizerJson()).padId).toBe(0);
  });

  it('without a post-processor adds no start or end id', () => {
    const t = HFTokenizer.fromJSON(tinyTokenizerJson(false), { pad_token: '[PAD]' });
    expect(t.startId).toBeUndefined();
    expect(t.endId).toBeUndefined();
    expect(Array.from(t.encode('a red shirt', 2))).toEqual([4, 5]);
    expect(Array.from(t.encode('a', 1))).toEqual([4]);
    const asInterface: TextTokenizer = t;
    expect(asInterface.encodeBatch(['red'], 3).ids).toEqual(new Int32Array([5, 0, 0]));
  });

  it('gives clear errors for bad input', () => {
    expect(() => HFTokenizer.fromJSON('{nope')).toThrow(/^HFTokenizer: tokenizer.json is not valid JSON/);
    expect(() => HFTokenizer.fromJSON([] as unknown as object)).toThrow('HFTokenizer: tokenizer.json is not a JSON object');
    expect(() => HFTokenizer.fromJSON({ ...tinyTokenizerJson(), model: undefined })).toThrow(/no "model" object/);
    expect(() => HFTokenizer.fromJSON({ ...tinyTokenizerJson(), model: { type: 'Nope' } })).toThrow(
      /^HFTokenizer: cannot build the tokenizer: .*Nope/,
    );
    expect(() => HFTokenizer.fromJSON(tinyTokenizerJson(), { pad_token: '<pad>' })).toThrow(/pad_token "<pad>" is not in the vocabulary/);
  });
});
