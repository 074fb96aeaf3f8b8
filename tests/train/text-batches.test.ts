import { HFTokenizer, WordTokenizer, tf } from '@mmzoo/core';
import {
  DataSchema, IGNORE_LABEL, TextData, checkRunContract, documentSequence, makeTextBatch, sequenceWindows, tokenizeTextData,
  trainByteLevelBpe, windowBatch,
} from '@mmzoo/train';
import { MODELS } from '../../packages/cli/src/specs';
import { TINY_CLIP_YAML } from '../helpers/configs';
import { parse } from 'yaml';

const seq = (...ids: number[]) => Int32Array.from(ids);
const rows = (t: tf.Tensor) => t.arraySync() as number[][];

describe('text windows and batches (data/text-batches)', () => {
  test('sequenceWindows: contextLength + 1 ids, consecutive windows share one id, a one-id tail is dropped', () => {
    const s = seq(0, 10, 11, 12, 13, 14, 0);
    expect(sequenceWindows(s, 3).map((w) => Array.from(w))).toEqual([[0, 10, 11, 12], [12, 13, 14, 0]]);
    expect(sequenceWindows(s, 4).map((w) => Array.from(w))).toEqual([[0, 10, 11, 12, 13], [13, 14, 0]]);
    expect(sequenceWindows(seq(0, 10, 11, 12), 3).map((w) => Array.from(w))).toEqual([[0, 10, 11, 12]]);
    expect(sequenceWindows(seq(7), 3)).toEqual([]);
    // every id but the first is a target exactly once
    for (const L of [1, 2, 3, 5, 8]) expect(sequenceWindows(s, L).reduce((n, w) => n + w.length - 1, 0)).toBe(s.length - 1);
  });

  test('windowBatch: text is the window but its last id, labels the next ids; padding is padId / -100', () => {
    const { text, labels, counted } = windowBatch([seq(0, 10, 11, 12), seq(12, 13)], 3, 1);
    expect(Array.from(text)).toEqual([0, 10, 11, 12, 1, 1]);
    expect(Array.from(labels)).toEqual([10, 11, 12, 13, IGNORE_LABEL, IGNORE_LABEL]);
    expect(counted).toBe(4);
    expect(() => windowBatch([seq(1, 2, 3, 4, 5)], 3, 1)).toThrow(/5 ids exceeds contextLength \+ 1 = 4/);
  });

  const TEXTS = ['the cat sat on the mat', 'a dog ran', 'the cat ran on the mat and the dog sat', 'mats and cats'];
  const bpe = trainByteLevelBpe(TEXTS, { vocabSize: 290, specials: ['<|endoftext|>', '<pad>'], end: '<|endoftext|>', pad: '<pad>' });
  const tokenizer = HFTokenizer.fromJSON(bpe.toTokenizerJson(), bpe.tokenizerConfig());
  const data: TextData = {
    kind: 'text',
    corpus: { train: TEXTS.slice(0, 3).map((text, i) => ({ id: `t${i}`, source: 'captions', text })), heldOut: [{ id: 'h0', source: 'brown', text: TEXTS[3] }] },
    root: 'test',
  };

  test('documentSequence is <|endoftext|> ids <|endoftext|>; a tokenizer without an end id is refused', () => {
    expect(Array.from(documentSequence(tokenizer, TEXTS[1]))).toEqual([0, ...bpe.encode(TEXTS[1])]);
    expect(bpe.encode(TEXTS[1]).at(-1)).toBe(0);
    expect(() => documentSequence(WordTokenizer.fromCaptions(TEXTS), 'the cat')).toThrow(/needs a tokenizer that ends each text with an end-of-text id \(tokenizers.text kind bpe or hf\)/);
  });

  test('packed: one stream in which each <|endoftext|> ends a document and starts the next; unpacked: per document', () => {
    const docs = TEXTS.slice(0, 3).map((t) => bpe.encode(t));
    const stream = [0, ...docs.flat()];
    const packed = tokenizeTextData(data, tokenizer, 4, true);
    expect(packed.windows.flatMap((w, i) => Array.from(i === 0 ? w : w.subarray(1)))).toEqual(stream);
    expect(packed.windows.every((w) => w.length <= 5)).toBe(true);
    const unpacked = tokenizeTextData(data, tokenizer, 4, false);
    expect(unpacked.windows.length).toBe(docs.reduce((n, d) => n + Math.ceil(d.length / 4), 0));
    expect(Array.from(unpacked.windows[0].subarray(0, 1))).toEqual([0]);
    expect(packed.trainSequences.map((s) => Array.from(s))).toEqual(docs.map((d) => [0, ...d]));
    expect(packed.heldOutSequences.map((s) => Array.from(s))).toEqual([[0, ...bpe.encode(TEXTS[3])]]);
  });

  test('makeTextBatch: shifted labels, a pure function of index and seed, no tensor left behind', () => {
    const tokens = tokenizeTextData(data, tokenizer, 4, true);
    const before = tf.memory().numTensors;
    const a = makeTextBatch(tokens, tokenizer.padId, 3, 4, 4, 7);
    const b = makeTextBatch(tokens, tokenizer.padId, 3, 4, 4, 7);
    const c = makeTextBatch(tokens, tokenizer.padId, 4, 4, 4, 7);
    expect(a.text!.shape).toEqual([4, 4]);
    expect(a.labels!.dtype).toBe('int32');
    expect(rows(a.text!)).toEqual(rows(b.text!));
    expect(rows(a.labels!)).toEqual(rows(b.labels!));
    expect([a.index, a.seed]).toEqual([3, 7]);
    const windows = new Set(tokens.windows.map((w) => Array.from(w).join()));
    for (const batch of [a, c]) {
      rows(batch.text!).forEach((t, r) => {
        const l = rows(batch.labels!)[r];
        const n = l.filter((x) => x !== IGNORE_LABEL).length;
        // the row is one window: its ids, then the ids after each
        expect(windows.has([t[0], ...l.slice(0, n)].join())).toBe(true);
        expect(t.slice(1, n)).toEqual(l.slice(0, n - 1));
        expect(t.slice(n)).toEqual(Array(4 - n).fill(tokenizer.padId));
      });
    }
    tf.dispose([a.text!, a.labels!, b.text!, b.labels!, c.text!, c.labels!]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('the run contract for the text dataset', () => {
  const data = DataSchema.parse({ dataset: 'text' });
  const bpe = { kind: 'bpe' as const, vocabSize: 300, specials: ['<|endoftext|>', '<pad>'], end: '<|endoftext|>', pad: '<pad>', minFrequency: 2, addPrefixSpace: false };

  test('a text-only model on `text` holds; an image-text model is refused, naming the missing key and what text yields', () => {
    const llama = MODELS.llama.schema.parse({ name: 'llama', dim: 16, layers: 1, numHeads: 2, maxSeqLen: 8 });
    expect(checkRunContract('llama', MODELS.llama.inputs(llama), { data, tokenizers: { text: bpe } })).toBeUndefined();
    const clip = MODELS.clip.schema.parse(parse(TINY_CLIP_YAML).model);
    expect(checkRunContract('clip', MODELS.clip.inputs(clip), { data })).toEqual({
      path: ['data', 'dataset'],
      message: "model 'clip' needs batch key image, which dataset 'text' does not yield (it yields text, labels)",
    });
  });
});
