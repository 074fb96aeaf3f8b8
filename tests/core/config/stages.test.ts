import { ConfigError, resolveStageSelection } from '@mmzoo/core';
import {
  ExperimentSchema, StagesSchema, checkStageObjectives, compilePattern, fillStageSteps, parseYaml, stageParameterNames,
  validate,
} from '@mmzoo/train';

const NAMES = [
  'cls_token', 'transformer.blocks.0.attn.in_proj_weight', 'transformer.blocks.0.ffn.vision.c_fc.weight', 'transformer.blocks.0.ffn.language.c_fc.weight',
  'transformer.blocks.1.attn.in_proj_weight', 'transformer.blocks.1.ffn.vision.c_fc.weight', 'transformer.blocks.1.ffn.language.c_fc.weight', 'mim_head.weight',
];

describe('parameter-name patterns', () => {
  test('globs match whole names: * any run (dots too), ? one character, other characters literally', () => {
    const g = compilePattern('transformer.blocks.*.attn.*');
    expect(NAMES.filter((n) => g.test(n))).toEqual(['transformer.blocks.0.attn.in_proj_weight', 'transformer.blocks.1.attn.in_proj_weight']);
    expect(compilePattern('*.ffn.vision.*').test('transformer.blocks.10.ffn.vision.c_proj.bias')).toBe(true);
    expect(compilePattern('cls_token').test('cls_token2')).toBe(false);
    expect(compilePattern('a.b').test('aXb')).toBe(false);
    expect(compilePattern('block?').test('block7')).toBe(true);
    expect(compilePattern('block?').test('block17')).toBe(false);
    expect(compilePattern('x+(y)').test('x+(y)')).toBe(true);
  });

  test('/.../ is a regular expression searched anywhere unless anchored', () => {
    expect(compilePattern('/ffn\\.(vision|language)/').test('transformer.blocks.1.ffn.language.c_fc.weight')).toBe(true);
    expect(compilePattern('/^ffn/').test('transformer.blocks.1.ffn.language.c_fc.weight')).toBe(false);
    expect(() => compilePattern('/attn(/')).toThrow(/invalid regular expression \/attn\(\//);
  });

  test('a stage trains what trainable matches minus what frozen matches, in model order', () => {
    expect(stageParameterNames(NAMES, { trainable: ['transformer.*', 'cls_token'], frozen: ['*.attn.*', '*.ffn.language.*'] }, ['stages', 0])).toEqual([
      'cls_token', 'transformer.blocks.0.ffn.vision.c_fc.weight', 'transformer.blocks.1.ffn.vision.c_fc.weight',
    ]);
    expect(stageParameterNames(NAMES, { frozen: ['mim_head.*'] }, ['stages', 2])).toEqual(NAMES.slice(0, 7));
  });

  test('a pattern matching nothing and an empty result are config errors naming the path', () => {
    expect(() => stageParameterNames(NAMES, { frozen: ['mim_head.*', '*.ffn.langauge.*'] }, ['stages', 1])).toThrow(
      new ConfigError("stages[1].frozen[1]: pattern '*.ffn.langauge.*' matches no trainable parameter of the model (e.g. cls_token, transformer.blocks.0.attn.in_proj_weight, transformer.blocks.0.ffn.vision.c_fc.weight)"),
    );
    expect(() => stageParameterNames(NAMES, { trainable: ['nothing*'], frozen: [] }, ['stages', 0])).toThrow(/^stages\[0\]\.trainable\[0\]: pattern 'nothing\*' matches no/);
    expect(() => stageParameterNames(NAMES, { trainable: ['mim_head.*'], frozen: ['/head/'] }, ['stages', 3])).toThrow('stages[3]: no trainable parameter is left after trainable/frozen');
  });
});

describe('the stages: schema', () => {
  const yaml = (text: string) => {
    const src = parseYaml(text, 'x.yaml');
    return () => validate(StagesSchema, (src.value as { stages: unknown }).stages, src, ['stages']);
  };

  test('errors name the path and the line', () => {
    expect(yaml('stages:\n  - name: a\n    objectives: [mim]\n    data: images\n    steps: 2\n  - name: b\n    objectives: [mlm]\n    data: texts\n    steps: 3\n    frozen: ["/attn(/"]\n'))
      .toThrow(/^x\.yaml:10:14: stages\[1\]\.frozen\[0\]: invalid regular expression \/attn\(\//);
    expect(yaml('stages:\n  - name: a\n    objectives: []\n    data: images\n    steps: 2\n')).toThrow(/^x\.yaml:3:17: stages\[0\]\.objectives: /);
    expect(yaml('stages:\n  - name: a\n    objectives: [mim]\n    data: video\n    steps: 2\n')).toThrow(/^x\.yaml:4:11: stages\[0\]\.data: .*"images"/);
    expect(yaml('stages:\n  - name: a\n    objectives: [mim]\n    data: images\n    steps: 0\n')).toThrow(/^x\.yaml:5:12: stages\[0\]\.steps: /);
    expect(yaml('stages:\n  - name: a\n    objectives: [mim]\n    data: images\n    steps: 2\n    freeze: [x]\n')).toThrow(/^x\.yaml:6:\d+: stages\[0\]\.freeze: unknown key \(valid keys: name, objectives, data, steps, lr, warmupSteps, batchSize, trainable, frozen\)/);
    expect(yaml('stages:\n  - name: a\n    objectives: [mim]\n    data: images\n    steps: 2\n  - name: a\n    objectives: [mlm]\n    data: texts\n    steps: 2\n'))
      .toThrow("x.yaml:6:11: stages[1].name: duplicate stage name 'a' (also stages[0])");
  });

  test('train.steps is the stages\' total: filled in when left out, an error when it differs', () => {
    const base = () => ({
      model: { name: 'vlmo' }, stages: [{ name: 'a', objectives: ['mim'], data: 'images', steps: 2 }, { name: 'b', objectives: ['mlm'], data: 'texts', steps: 5 }],
      train: { lr: 1e-3 } as Record<string, unknown>,
    });
    const v = base();
    fillStageSteps(v);
    expect(v.train.steps).toBe(7);
    expect(ExperimentSchema.parse(v).stages!.map((s) => s.frozen)).toEqual([[], []]);
    const w = base();
    w.train.steps = 6;
    fillStageSteps(w);
    const r = ExperimentSchema.safeParse(w);
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => [i.path.join('.'), i.message])).toEqual([['train.steps', "with stages, train.steps must equal the sum of the stages' steps (leave it out to have it filled in)"]]);
  });

  test('objectives must be offered by the model and accept the stage\'s data', () => {
    const offered = { mim: ['images', 'pairs'], mlm: ['texts', 'pairs'], itc: ['pairs'] } as const;
    expect(checkStageObjectives([{ objectives: ['mim'], data: 'images' }, { objectives: ['itc', 'mlm'], data: 'pairs' }], offered)).toBeUndefined();
    expect(checkStageObjectives([{ objectives: ['mim'], data: 'images' }, { objectives: ['itc'], data: 'texts' }], offered)).toEqual({ path: [1, 'data'], message: "objective 'itc' needs data pairs, not 'texts'" });
    expect(checkStageObjectives([{ objectives: ['mlm', 'mdm'], data: 'texts' }], offered)?.path).toEqual([0, 'objectives', 1]);
    expect(checkStageObjectives([{ objectives: ['mlm', 'mlm'], data: 'texts' }], offered)).toEqual({ path: [0, 'objectives', 1], message: "objective 'mlm' is listed twice" });
  });
});

describe('resolveStageSelection (what one step of a staged model runs)', () => {
  const offered = { itc: ['pairs'], mlm: ['texts', 'pairs'], mim: ['images', 'pairs'] } as const;

  test("without a stage: every offered objective on pairs; with one: the stage's objectives on its data", () => {
    expect(resolveStageSelection('M', offered)).toEqual({ objectives: ['itc', 'mlm', 'mim'], data: 'pairs' });
    expect(resolveStageSelection('M', offered, { objectives: ['mlm'], data: 'texts' })).toEqual({ objectives: ['mlm'], data: 'texts' });
  });

  test('an objective the model lacks, or one that cannot use the data, is an error naming both', () => {
    expect(() => resolveStageSelection('M', offered, { objectives: ['itm'], data: 'pairs' })).toThrow("M: no objective 'itm' (available: itc, mlm, mim)");
    expect(() => resolveStageSelection('M', offered, { objectives: ['mlm', 'itc'], data: 'texts' })).toThrow("M: objective 'itc' cannot run on texts data");
  });
});
