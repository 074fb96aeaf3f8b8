import { z } from 'zod';
import { parseYaml, validate } from '@mmzoo/train';

const Schema = z.object({
  model: z.object({ width: z.number(), layers: z.number(), weightDecay: z.number().default(0.05), lr: z.number().default(1e-3) }).strict(),
}).strict();

const check = (text: string) => () => validate(Schema, parseYaml(text, 'x.yaml').value, parseYaml(text, 'x.yaml'));

describe('validate: config errors', () => {
  test('a misspelt key inside a union picked by its kind gets that option\'s keys and the hint (was "valid keys: ?" and a second line)', () => {
    const Tok = z.object({
      text: z.discriminatedUnion('kind', [
        z.object({ kind: z.literal('bpe'), vocabSize: z.number() }).strict(),
        z.object({ kind: z.literal('hf'), file: z.string() }).strict(),
      ]),
    }).strict();
    const text = 'text:\n  kind: bpe\n  vocabsize: 1024\n';
    expect(() => validate(Tok, parseYaml(text, 'x.yaml').value, parseYaml(text, 'x.yaml'))).toThrow(
      /^x\.yaml:3:\d+: text\.vocabsize: unknown key, did you mean 'vocabSize'\? \(valid keys: kind, vocabSize\)$/,
    );
    const other = 'text:\n  kind: hf\n  fle: a\n';
    expect(() => validate(Tok, parseYaml(other, 'x.yaml').value, parseYaml(other, 'x.yaml'))).toThrow(/^x\.yaml:3:\d+: text\.fle: unknown key, did you mean 'file'\? \(valid keys: kind, file\)$/);
  });

  test("a misspelt required key is one line: the unknown key with 'did you mean', not also the missing key", () => {
    expect(check('model:\n  widht: 64\n  layers: 2\n')).toThrow(
      /^x\.yaml:2:\d+: model\.widht: unknown key, did you mean 'width'\? \(valid keys: width, layers, weightDecay, lr\)$/,
    );
  });

  test('a misspelt optional key gets the hint too; unknown keys come before other errors', () => {
    let message = '';
    try {
      check('model:\n  width: wide\n  layers: 2\n  weightDecy: 0.1\n')();
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message.split('\n')).toEqual([
      expect.stringMatching(/^x\.yaml:4:\d+: model\.weightDecy: unknown key, did you mean 'weightDecay'\?/),
      expect.stringMatching(/^x\.yaml:2:\d+: model\.width: expected number, received string$/),
    ]);
  });

  test('no hint when nothing is within two edits, or two keys are equally near; a missing key is named', () => {
    expect(check('model:\n  depth: 64\n  layers: 2\n')).toThrow(/model\.depth: unknown key \(valid keys: width, layers, weightDecay, lr\)\nx\.yaml:\d+:\d+: model\.width: expected number \(missing\)/);
    const Two = z.object({ lr1: z.number().optional(), lr2: z.number().optional() }).strict();
    const src = parseYaml('lr3: 1\n', 'y.yaml');
    expect(() => validate(Two, src.value, src)).toThrow(/^y\.yaml:1:\d+: lr3: unknown key \(valid keys: lr1, lr2\)$/);
  });
});
