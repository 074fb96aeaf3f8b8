import * as fs from 'fs';
import * as path from 'path';
import { HFTokenizer, WordTokenizer, batchTensors, tf } from '@mmzoo/core';
import {
  checkRunContract, latestCheckpoint, loadSavedTokenizer, readCheckpointMeta, readSafetensorsFile, saveTokenizer,
  tokenizersMeta, tokenizersOfMeta,
} from '@mmzoo/train';
import { main } from '../../packages/cli/src/main';
import { FIXTURES } from '../helpers/fixtures';
import { TINY_CLIP_YAML } from '../helpers/configs';
import { tempDirs } from '../helpers/temp';

// Issue 15, "a general run contract": batches keyed by modality, datasets and specs declaring keys, and tokenizers
// that are parts of the run, keyed by input, saved with their kind and loaded back by it.
const HF = path.join(FIXTURES, 'hf-wordlevel');
const temp = tempDirs('mmzoo-tokenizers-');
afterAll(() => temp.cleanUp());

async function mmzoo(argv: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const err = jest.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => {
    stderr += String(c);
    return true;
  });
  const out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    return { code: await main(argv), stderr };
  } finally {
    err.mockRestore();
    out.mockRestore();
  }
}

describe('saved tokenizers', () => {
  const hf = () => HFTokenizer.fromJSON(fs.readFileSync(path.join(HF, 'tokenizer.json'), 'utf8'), fs.readFileSync(path.join(HF, 'tokenizer_config.json'), 'utf8'));

  test('an hf tokenizer saves with kind hf and loads back encoding the same ids', () => {
    const tok = hf();
    const saved = JSON.parse(JSON.stringify(saveTokenizer(tok)));
    expect(saved.kind).toBe('hf');
    const back = loadSavedTokenizer(saved, 'x');
    expect(back).toBeInstanceOf(HFTokenizer);
    const texts = ['A photo of a sandal.', 'an image of a shirt, bottom right', 'zebra'];
    expect(Array.from(back.encodeBatch(texts, 12).ids)).toEqual(Array.from(tok.encodeBatch(texts, 12).ids));
    // [CLS] a photo of a sandal . [SEP], ids from the fixture's sorted vocabulary ([PAD] 0 [UNK] 1 [CLS] 2 [SEP] 3)
    const vocab = JSON.parse(fs.readFileSync(path.join(HF, 'tokenizer.json'), 'utf8')).model.vocab;
    expect(Array.from(back.encode('A photo of a sandal.', 9))).toEqual([2, vocab.a, vocab.photo, vocab.of, vocab.a, vocab.sandal, vocab['.'], 3, 0]);
    expect([back.vocabSize, back.padId, back.startId, back.endId]).toEqual([77, 0, 2, 3]);
  });

  test('a word tokenizer saves with kind word; one saved before kinds (run-legacy) loads as a word tokenizer', () => {
    const legacy = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'run-legacy', 'tokenizer.json'), 'utf8'));
    expect(legacy.kind).toBeUndefined();
    const tok = loadSavedTokenizer(legacy, 'run-legacy/tokenizer.json');
    expect(tok).toBeInstanceOf(WordTokenizer);
    expect(tok.vocabSize).toBe(5 + legacy.words.length);
    const saved = saveTokenizer(tok);
    expect(saved).toEqual({ kind: 'word', ...legacy });
    expect(Array.from(loadSavedTokenizer(saved, 'x').encode('a photo of a shirt', 8))).toEqual(Array.from(tok.encode('a photo of a shirt', 8)));
  });

  test('an unknown kind or a malformed saved tokenizer is a one-line error naming where', () => {
    expect(() => loadSavedTokenizer({ kind: 'bpe' }, 'run/tokenizer.json')).toThrow(/^run\/tokenizer\.json: unknown tokenizer kind "bpe" \(known: word, hf\)$/);
    expect(() => loadSavedTokenizer({ kind: 'hf' }, 'm.json')).toThrow(/^m\.json: kind hf without its tokenizer\.json object$/);
    expect(() => loadSavedTokenizer([1], 'm.json')).toThrow(/^m\.json: a saved tokenizer must be a JSON object$/);
    expect(() => loadSavedTokenizer({ kind: 'word', words: [] }, 'm.json')).toThrow(/^m\.json: WordTokenizer\.fromJSON: /);
  });

  test('checkpoint meta: text under tokenizer (as always), the others under tokenizers', () => {
    const w = saveTokenizer(WordTokenizer.fromCaptions(['a shirt']));
    const h = saveTokenizer(hf());
    expect(tokenizersMeta({ text: w })).toEqual({ tokenizer: w });
    expect(tokenizersMeta({ text: w, lm: h })).toEqual({ tokenizer: w, tokenizers: { lm: h } });
    expect(tokenizersOfMeta({ tokenizer: w, tokenizers: { lm: h } }, 'm')).toEqual({ text: w, lm: h });
    expect(() => tokenizersOfMeta({}, 'ckpt/meta.json')).toThrow('ckpt/meta.json: has no tokenizer; it was not written by mmzoo train');
  });
});

describe('the run contract', () => {
  test('a model needing a batch key its dataset does not yield is refused, blamed on data.dataset', () => {
    const p = checkRunContract('lm-model', { lm: { contextLength: 8 } }, { data: { dataset: 'fmnist' } as never, tokenizers: { lm: { kind: 'word' } } });
    expect(p).toEqual({ path: ['data', 'dataset'], message: "model 'lm-model' needs batch key lm, which dataset 'fmnist' does not yield (it yields image, text)" });
  });

  test('a tokenized key without a tokenizer, or a tokenizer without a key, is refused', () => {
    expect(checkRunContract('m', { image: [1, 8, 8], lm: { contextLength: 8 } }, {})?.message)
      .toBe("model 'm' needs a tokenizer for its 'lm' input: add tokenizers.lm: {kind: hf, file: path/to/tokenizer.json}");
    expect(checkRunContract('clip', { image: [1, 8, 8], text: { contextLength: 8 } }, { tokenizers: { lm: { kind: 'word' } } }))
      .toEqual({ path: ['tokenizers', 'lm'], message: "model 'clip' has no 'lm' input to tokenize (it takes text)" });
    // text defaults to the word tokenizer
    expect(checkRunContract('clip', { image: [1, 8, 8], text: { contextLength: 8 } }, { data: { dataset: 'csv' } as never })).toBeUndefined();
  });
});

describe('a run with an hf or bpe tokenizer, end to end', () => {
  beforeAll(() => {
    process.env.MMZOO_BACKEND = 'cpu';
  });

  test('trains with the hf vocabulary, saves it with its kind, resumes and evaluates by kind', async () => {
    const dir = temp.make();
    const config = path.join(dir, 'hf.yaml');
    // paths relative to the config file's folder
    fs.cpSync(HF, path.join(dir, 'tok'), { recursive: true });
    fs.writeFileSync(config, `${TINY_CLIP_YAML.replace('steps: 6', 'steps: 3')}tokenizer: { kind: hf, file: tok/tokenizer.json, config: tok/tokenizer_config.json }\n`);
    const out = path.join(dir, 'run');
    const first = await mmzoo(['train', config, '--out', out, '--set', 'train.steps=2', '--set', 'train.checkpointEvery=2', '--set', 'eval.retrievalGallery=0', '--set', 'eval.zeroShot=false']);
    expect([first.code, first.stderr.split('\n').filter((l) => l.startsWith('mmzoo:'))]).toEqual([0, []]);
    const saved = JSON.parse(fs.readFileSync(path.join(out, 'tokenizer.json'), 'utf8'));
    expect(saved.kind).toBe('hf');
    expect(saved.tokenizer.model.type).toBe('WordLevel');
    const meta = readCheckpointMeta(latestCheckpoint(out)!);
    expect((meta.tokenizer as { kind: string }).kind).toBe('hf');
    // the token embedding has the hf tokenizer's 77 rows (the word tokenizer of these captions would give 5 + words)
    const weights = (await readSafetensorsFile(path.join(latestCheckpoint(out)!, 'model.safetensors'))).tensors;
    const embedding = [...weights.entries()].find(([n]) => /token_embedding/.test(n));
    expect(embedding?.[1].shape).toEqual([77, 16]);
    const resumed = await mmzoo(['train', config, '--out', out, '--resume', '--force', '--set', 'train.steps=3', '--set', 'train.checkpointEvery=2', '--set', 'eval.retrievalGallery=0', '--set', 'eval.zeroShot=false']);
    expect([resumed.code, resumed.stderr.split('\n').filter((l) => l.startsWith('mmzoo:'))]).toEqual([0, []]);
    expect(readCheckpointMeta(latestCheckpoint(out)!).step).toBe(3);
    const evaluated = await mmzoo(['eval', out]);
    expect(evaluated.code).toBe(0);
  });

  test('kind bpe: trained on the training captions when the run starts, saved as kind hf, resumed with the saved one', async () => {
    const dir = temp.make();
    const config = path.join(dir, 'bpe.yaml');
    fs.writeFileSync(config, `${TINY_CLIP_YAML.replace('steps: 6', 'steps: 3')}tokenizer: { kind: bpe, vocabSize: 300 }\n`);
    const out = path.join(dir, 'run');
    const sets = ['--set', 'train.checkpointEvery=2', '--set', 'eval.retrievalGallery=0', '--set', 'eval.zeroShot=false'];
    const first = await mmzoo(['train', config, '--out', out, '--set', 'train.steps=2', ...sets]);
    expect([first.code, first.stderr.split('\n').filter((l) => l.startsWith('mmzoo:'))]).toEqual([0, []]);
    const file = fs.readFileSync(path.join(out, 'tokenizer.json'), 'utf8');
    const saved = JSON.parse(file);
    expect([saved.kind, saved.tokenizer.model.type, saved.endId, saved.padId]).toEqual(['hf', 'BPE', 0, 1]);
    const vocab = Object.keys(saved.tokenizer.model.vocab).length;
    const weights = (await readSafetensorsFile(path.join(latestCheckpoint(out)!, 'model.safetensors'))).tensors;
    expect([...weights.entries()].find(([n]) => /token_embedding/.test(n))?.[1].shape).toEqual([vocab, 16]);
    const resumed = await mmzoo(['train', config, '--out', out, '--resume', '--force', '--set', 'train.steps=3', ...sets]);
    expect([resumed.code, resumed.stderr.split('\n').filter((l) => l.startsWith('mmzoo:'))]).toEqual([0, []]);
    expect(readCheckpointMeta(latestCheckpoint(out)!).tokenizer).toEqual(saved);
    expect(fs.readFileSync(path.join(out, 'tokenizer.json'), 'utf8')).toBe(file);
  });

  test('a batch holds the modality keys the model needs and nothing leaks', async () => {
    const { loadImageTextData, makeImageTextBatch } = await import('@mmzoo/train');
    const data = await loadImageTextData({ dataset: 'fmnist', items: true, trainLimit: 32, scenes: { train: 0, grid: 2, captionStyle: 'varied', twins: 0 } }, [1, 28, 28], 0);
    const tok = WordTokenizer.fromCaptions(['a shirt']);
    const before = tf.memory().numTensors;
    const b = makeImageTextBatch(data.train, tok, 0, 4, 8, 0);
    expect([b.image.shape, b.text.shape, b.text.dtype]).toEqual([[4, 1, 28, 28], [4, 8], 'int32']);
    expect(batchTensors(b)).toEqual([b.image, b.text]);
    tf.dispose(batchTensors(b));
    expect(tf.memory().numTensors).toBe(before);
  });
});
