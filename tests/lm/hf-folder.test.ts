import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tf, serializeSafetensors, float32ToBf16Bits, bf16BitsToFloat32, float32ToF16Bits, f16BitsToFloat32, RawTensor } from '@mmzoo/core';
import { Gpt2, Llama, parseLlama2cBin } from '@mmzoo/lm';
import { loadHfFolder, loadLlama2cBin } from '@mmzoo/lm/node';
import { FIXTURES, expectClose, readCase, readWeights } from '../helpers/fixtures';
import { expectAllClose } from '../helpers/finite-diff';
import { llama2cBin } from '../helpers/llama2c-bin';

// Hugging Face folders and llama2.c .bin files written here from the golden weights (nothing downloaded), loaded by
// @mmzoo/lm/node and checked against the goldens' logits.
const gpt2Case = readCase('gpt2-tiny');
const llamaCase = readCase('llama-tiny');
const llamaHfCase = readCase('llama-hf-tiny');
const fixture = (...p: string[]) => path.join(FIXTURES, ...p);

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mmzoo-hf-folder-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A folder under tmp with the given files (string: text, Uint8Array: bytes, a path into FIXTURES: copied). */
function folder(name: string, files: Record<string, string | Uint8Array>): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const [f, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), content);
  return dir;
}

function logitsOf(model: { forward: Llama['forward'] }, tokens: number[][]): tf.Tensor {
  return model.forward(tf.tensor2d(tokens, undefined, 'int32')).logits;
}

describe('loadHfFolder', () => {
  test('GPT-2: config.json, model.safetensors (Conv1D layout) and a tokenizer give hf_gpt2_logits', () => {
    const dir = folder('gpt2', {
      'config.json': fs.readFileSync(fixture('gpt2-tiny', 'config-hf.json')),
      'model.safetensors': fs.readFileSync(fixture('gpt2-tiny', 'weights-hf.safetensors')),
      'tokenizer.json': fs.readFileSync(fixture('hf-wordlevel', 'tokenizer.json')),
      'tokenizer_config.json': fs.readFileSync(fixture('hf-wordlevel', 'tokenizer_config.json')),
    });
    const { config, model, tokenizer, loaded } = loadHfFolder(dir);
    expect(config).toMatchObject({ name: 'gpt2', dim: 64, activation: 'gelu_tanh' });
    expect(model).toBeInstanceOf(Gpt2);
    expect(loaded.loaded).toHaveLength(28);
    expect(tokenizer).toBeDefined();
    tf.tidy(() => expectAllClose(logitsOf(model, gpt2Case.inputs.tokens), gpt2Case.outputs.hf_gpt2_logits.flat(2), 'hf_gpt2_logits', { atol: 1e-5, rtol: 0 }));
    model.dispose();
  });

  test('LLaMA: a sharded checkpoint (model.safetensors.index.json, two files) gives the llama-hf-tiny logits', () => {
    const weights = readWeights('llama-hf-tiny');
    const names = [...weights.keys()];
    const shards = [names.slice(0, 9), names.slice(9)];
    const files: Record<string, string | Uint8Array> = { 'config.json': fs.readFileSync(fixture('llama-hf-tiny', 'config.json'), 'utf8') };
    const weightMap: Record<string, string> = {};
    shards.forEach((part, i) => {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      files[file] = serializeSafetensors(new Map(part.map((n) => [n, weights.get(n)!])));
      for (const n of part) weightMap[n] = file;
    });
    files['model.safetensors.index.json'] = JSON.stringify({ metadata: {}, weight_map: weightMap });
    const { model, tokenizer } = loadHfFolder(folder('llama-sharded', files));
    expect(model).toBeInstanceOf(Llama);
    expect(tokenizer).toBeUndefined();
    tf.tidy(() => expectClose(logitsOf(model, llamaHfCase.inputs.input_ids), llamaHfCase.outputs.logits, 'llama-hf-tiny logits'));
    model.dispose();
  });

  test.each([
    ['BF16', float32ToBf16Bits, bf16BitsToFloat32],
    ['F16', float32ToF16Bits, f16BitsToFloat32],
  ] as const)('%s weights load as float32, each value the 16-bit rounding of the float32 one', (dtype, to, from) => {
    const weights = readWeights('llama-hf-tiny');
    const half = new Map<string, RawTensor>([...weights].map(([n, r]) => [n, { ...r, dtype }]));
    const { model } = loadHfFolder(folder(`llama-${dtype}`, {
      'config.json': fs.readFileSync(fixture('llama-hf-tiny', 'config.json'), 'utf8'),
      'model.safetensors': serializeSafetensors(half),
    }));
    const norm = model.namedParameters().get('norm.weight')!;
    expect(norm.dtype).toBe('float32');
    expect(Array.from(norm.dataSync())).toEqual(Array.from(from(to(weights.get('model.norm.weight')!.data as Float32Array))));
    model.dispose();
  });

  test('bad folders: one-line errors naming the file and what is wrong', () => {
    const config = JSON.parse(fs.readFileSync(fixture('gpt2-tiny', 'config-hf.json'), 'utf8'));
    const weights = fs.readFileSync(fixture('gpt2-tiny', 'weights-hf.safetensors'));
    const oneLine = (f: () => unknown, re: RegExp) => {
      expect(f).toThrow(re);
      try { f(); } catch (e) { expect(String((e as Error).message)).not.toContain('\n'); }
    };
    const empty = folder('empty', {});
    oneLine(() => loadHfFolder(empty), new RegExp(`^loadHfFolder: ${empty}/config.json is missing$`));
    const bert = folder('bert', { 'config.json': JSON.stringify({ ...config, model_type: 'bert' }), 'model.safetensors': weights });
    oneLine(() => loadHfFolder(bert), new RegExp(`^loadHfFolder: ${bert}/config.json: model_type "bert" is not supported \\(llama, gpt2, opt\\)$`));
    const wide = folder('wide', { 'config.json': JSON.stringify({ ...config, n_embd: 128, n_head: 8 }), 'model.safetensors': weights });
    oneLine(() => loadHfFolder(wide), new RegExp(`^loadHfFolder: ${wide}/model.safetensors: .*shape.*transformer\\.wte\\.weight`));
    const noWeights = folder('no-weights', { 'config.json': JSON.stringify(config) });
    oneLine(() => loadHfFolder(noWeights), new RegExp(`^loadHfFolder: ${noWeights} has neither model.safetensors nor model.safetensors.index.json$`));
    const badJson = folder('bad-json', { 'config.json': '{"model_type": ' });
    oneLine(() => loadHfFolder(badJson), new RegExp(`^loadHfFolder: ${badJson}/config.json is not valid JSON`));
    const badIndex = folder('bad-index', { 'config.json': JSON.stringify(config), 'model.safetensors.index.json': JSON.stringify({ weight_map: { 'transformer.wte.weight': 'model-1.safetensors' } }) });
    oneLine(() => loadHfFolder(badIndex), new RegExp(`^loadHfFolder: ${badIndex}/model-1.safetensors \\(listed in ${badIndex}/model.safetensors.index.json\\) is missing$`));
  });
});

describe('llama2.c .bin checkpoints', () => {
  const weights = readWeights('llama-tiny');

  test.each([true, false])('tied %s: the header gives the config and the tensors give the llama-tiny logits', (tied) => {
    const file = path.join(tmp, `llama-tiny-${tied}.bin`);
    fs.writeFileSync(file, llama2cBin(weights, tied));
    const { config, model } = loadLlama2cBin(file);
    expect(config).toMatchObject({ dim: 64, layers: 2, numHeads: 4, numKvHeads: 2, vocabSize: 96, hiddenDim: 176, maxSeqLen: 16, tiedEmbeddings: tied, ropeLayout: 'interleaved' });
    tf.tidy(() => expectClose(logitsOf(model, llamaCase.inputs.tokens), llamaCase.outputs.logits, 'llama-tiny logits from .bin'));
    model.dispose();
  });

  test('bad files: truncated, a header that is not a model, missing (one-line errors naming the file)', () => {
    const bytes = llama2cBin(weights, true);
    expect(() => parseLlama2cBin(bytes.slice(0, bytes.length - 4), 'x.bin')).toThrow(`x.bin: ${bytes.length - 4} bytes, but the header (dim 64, hidden_dim 176, n_layers 2, n_heads 4, n_kv_heads 2, vocab_size 96, seq_len 16) implies ${bytes.length}`);
    expect(() => parseLlama2cBin(bytes.slice(0, 10), 'x.bin')).toThrow('x.bin: 10 bytes is shorter than the 28-byte llama2.c header');
    const bad = bytes.slice();
    new DataView(bad.buffer).setInt32(12, 3, true); // n_heads 3 does not divide dim 64
    expect(() => parseLlama2cBin(bad, 'x.bin')).toThrow(/^x\.bin: the header \(dim 64, .*n_heads 3.*\) is not a llama2\.c model$/);
    expect(() => loadLlama2cBin(path.join(tmp, 'nope.bin'))).toThrow(`loadLlama2cBin: ${path.join(tmp, 'nope.bin')} is missing`);
  });
});
