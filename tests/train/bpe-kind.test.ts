import { HFTokenizer } from '@mmzoo/core';
import {
  TokenizerConfigSchema, buildTokenizerOf, loadSavedTokenizer, makeTokenizers, saveTokenizer, trainByteLevelBpe,
} from '@mmzoo/train';

// Issue 16: `kind: bpe` in a run's `tokenizers:`: a byte-level BPE trained when the run starts on the run's text,
// then used, saved and loaded back as a Hugging Face tokenizer (kind hf).
const CAPTIONS = ['a photo of a shirt', 'a photo of a bag at the top left', 'an image of a sandal', 'a shirt and a bag', 'a sandal, bottom right'];

describe('kind bpe', () => {
  test('the schema fills in its defaults: <|endoftext|> after every text, <pad> for padding', () => {
    expect(TokenizerConfigSchema.parse({ kind: 'bpe', vocabSize: 300 })).toEqual({
      kind: 'bpe', vocabSize: 300, specials: ['<|endoftext|>', '<pad>'], end: '<|endoftext|>', pad: '<pad>', minFrequency: 2, addPrefixSpace: false,
    });
  });

  test('bad options are reported at their keys', () => {
    const issues = (cfg: object) => TokenizerConfigSchema.safeParse(cfg).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(issues({ kind: 'bpe', vocabSize: 257 })).toEqual(['vocabSize: 257 is not an integer from 258 (the 256 byte tokens + 2 specials) to 2097152']);
    expect(issues({ kind: 'bpe', vocabSize: 300, specials: ['<s>', '</s>'], end: '</s>' })).toEqual(['pad: "<pad>" is not one of the specials (<s> </s>)']);
    expect(issues({ kind: 'bpe', vocabSize: 300, start: '<s>' })).toEqual(['start: "<s>" is not one of the specials (<|endoftext|> <pad>)']);
    expect(issues({ kind: 'bpe', vocabSize: 300, merges: 5 })?.[0]).toMatch(/merges/);
  });

  test('built from the corpus as an HFTokenizer that encodes as the trainer does, saved with kind hf and loaded back', () => {
    const cfg = TokenizerConfigSchema.parse({ kind: 'bpe', vocabSize: 280 });
    let calls = 0;
    const built = makeTokenizers({ text: cfg }, () => (calls++, CAPTIONS)).text!;
    expect(calls).toBe(1);
    expect(built).toBeInstanceOf(HFTokenizer);
    const direct = trainByteLevelBpe(CAPTIONS, { vocabSize: 280, specials: ['<|endoftext|>', '<pad>'], end: '<|endoftext|>', pad: '<pad>' });
    expect([built.vocabSize, built.endId, built.padId, built.startId]).toEqual([direct.vocabSize, 0, 1, undefined]);
    const texts = [...CAPTIONS, 'a sandal at the top, a shirt at the bottom', 'zebra'];
    const rows = built.encodeBatch(texts, 12);
    texts.forEach((t, b) => {
      const ids = direct.encode(t).slice(0, 12);
      if (ids.length === 12) ids[11] = 0;
      expect(Array.from(rows.ids.subarray(b * 12, (b + 1) * 12))).toEqual([...ids, ...Array(12 - ids.length).fill(1)]);
    });
    const saved = JSON.parse(JSON.stringify(saveTokenizer(built)));
    expect(saved.kind).toBe('hf');
    expect(saved.tokenizer.model.type).toBe('BPE');
    expect(saved.config).toMatchObject({ eos_token: '<|endoftext|>', pad_token: '<pad>' });
    const back = loadSavedTokenizer(saved, 'run/tokenizer.json');
    expect(Array.from(back.encodeBatch(texts, 12).ids)).toEqual(Array.from(rows.ids));
    expect(back.decode(rows.ids.subarray(0, 12))).toBe(CAPTIONS[0]);
  });

  test('a corpus with no text is a one-line error naming the tokenizer', () => {
    const cfg = TokenizerConfigSchema.parse({ kind: 'bpe', vocabSize: 300 });
    expect(() => buildTokenizerOf(cfg, 'lm', () => [])).toThrow(/^tokenizers\.lm: byte-level BPE: the training corpus has no text \(0 texts, none with a character outside the specials\)$/);
  });
});
