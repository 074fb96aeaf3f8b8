import * as fs from 'fs';
import * as path from 'path';
import { parse } from 'yaml';
import { LmConfigSchema, countLmParameters } from '@mmzoo/lm';

// The tiny decoders of configs/lm are compared on one footing (issue 16): gpt2-tiny.yaml and opt-tiny.yaml train on
// llama-tiny.yaml's text with its tokenizer (the `data:` and `tokenizers:` sections equal, so a change to one shows
// here until the others follow), at about its size (within 10% of its parameters at the tokenizer's vocabulary).
const DIR = path.join(__dirname, '..', '..', 'configs', 'lm');
const read = (file: string) => parse(fs.readFileSync(path.join(DIR, file), 'utf8')) as {
  model: Record<string, unknown>; data: unknown; tokenizers: { text: { vocabSize: number } };
};
/** A config's parameter count with the vocabulary its BPE is asked for. */
const params = (c: ReturnType<typeof read>) => countLmParameters(LmConfigSchema.parse({ ...c.model, vocabSize: c.tokenizers.text.vocabSize }));

const llama = read('llama-tiny.yaml');

test.each(['gpt2-tiny.yaml', 'opt-tiny.yaml'])("%s trains on llama-tiny's data and tokenizer, at its size", (file) => {
  const c = read(file);
  expect(c.data).toEqual(llama.data);
  expect(c.tokenizers).toEqual(llama.tokenizers);
  expect(c.model).toMatchObject({ dim: 128, layers: 4, numHeads: 4, maxSeqLen: 128 });
  expect(c.model.vocabSize).toBeUndefined();
  expect(Math.abs(params(c) / params(llama) - 1)).toBeLessThan(0.1);
});

test('at a 2048-token BPE: GPT-2 1,071,872 and OPT 1,072,128 parameters (two more position rows of 128)', () => {
  const at2048 = (file: string) => countLmParameters(LmConfigSchema.parse({ ...read(file).model, vocabSize: 2048 }));
  // wte 2048 x 128 + wpe 128 x 128 + 4 blocks x (2 LayerNorms 512 + c_attn 49,536 + c_proj 16,512 + c_fc 66,048 +
  // c_proj 65,664) + ln_f 256
  expect(at2048('gpt2-tiny.yaml')).toBe(262_144 + 16_384 + 4 * (512 + 49_536 + 16_512 + 66_048 + 65_664) + 256);
  expect(at2048('gpt2-tiny.yaml')).toBe(1_071_872);
  expect(at2048('opt-tiny.yaml')).toBe(1_071_872 + 2 * 128);
});
