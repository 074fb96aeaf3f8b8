import { createHash } from 'crypto';
import * as path from 'path';
import { fromTensor, RawTensor, tf, Variable } from '@mmzoo/core';
import { clipSpec } from '@mmzoo/clip';
import {
  InitSourceSchema, applyInit, canonicalJson, configHash, initRenamer, readSafetensorsWeights, writeSafetensorsFile,
} from '@mmzoo/train';
import type { InitEntry } from '@mmzoo/train';
import { useBackend } from '../../helpers/fixtures';
import { tempDirs } from '../../helpers/temp';

// Issue 15, `init:`: how source tensors land on a model's parameters (renames, skips, strict names and shapes,
// all-or-nothing), and the config hash that names a prerequisite run.

const temp = tempDirs('mmzoo-init-');
beforeAll(() => useBackend('cpu'));
afterAll(() => temp.cleanUp());

const tinyClip = (width: number) => clipSpec.schema.parse({
  name: 'clip', embedDim: 8,
  vision: { imageSize: 16, patchSize: 8, channels: 1, width, layers: 1, numHeads: 2 },
  text: { contextLength: 8, vocabSize: 30, width: 8, layers: 1, numHeads: 2, pool: 'eot', eotId: 3 },
});
const noPlace = (p: (string | number)[]) => `${p.join('.')}: `;
const values = (m: Map<string, Variable>) => new Map([...m].map(([n, v]) => [n, Array.from(v.dataSync())]));

/** Writes `names` of a model's parameters (renamed by `rename`) to a safetensors file; returns the file. */
async function writeWeights(params: Map<string, Variable>, keep: (n: string) => boolean, rename = (n: string) => n): Promise<string> {
  const file = path.join(temp.make(), 'weights.safetensors');
  const tensors = new Map<string, RawTensor>([...params].filter(([n]) => keep(n)).map(([n, v]) => [rename(n), fromTensor(v, n)]));
  await writeSafetensorsFile(file, tensors);
  return file;
}

async function entry(target: string, file: string, source: Record<string, unknown> = {}): Promise<InitEntry> {
  return { target, source: InitSourceSchema.parse({ safetensors: file, ...source }), weights: await readSafetensorsWeights(file) };
}

describe('init renames', () => {
  test('the longest matching dotted prefix wins; null leaves a name out; other names keep their spelling', () => {
    const r = initRenamer({ visual: 'visual_encoder', 'visual.proj': null, 'visual.ln_pre.': null, '': 'x' });
    expect(r('visual.conv1.weight')).toBe('visual_encoder.conv1.weight');
    expect(r('visual.proj')).toBe(null);
    expect(r('visual.ln_pre.bias')).toBe(null);
    expect(r('visual_x.y')).toBe('x.visual_x.y'); // 'visual' is not a prefix of 'visual_x': the '' rule applies
    expect(r('visual')).toBe('visual_encoder');
    expect(initRenamer({ 'module.': '' })('module.a.b')).toBe('a.b');
    expect(initRenamer(undefined)('a.b')).toBe('a.b');
  });
});

describe('config hash', () => {
  test('canonical JSON sorts keys, drops undefined and spells non-finite numbers', () => {
    expect(canonicalJson({ b: [1, { d: undefined, c: -Infinity }], a: 'x', e: null, f: true })).toBe('{"a":"x","b":[1,{"c":"-Infinity"}],"e":null,"f":true}');
    // SHA-256 of that text, computed here independently
    const text = '{"a":1,"b":{"c":[2,3]}}';
    expect(configHash({ b: { c: [2, 3] }, a: 1 })).toBe(createHash('sha256').update(text).digest('hex'));
    expect(configHash({ a: 1, b: { c: [2, 3] } })).toBe(configHash({ b: { c: [2, 3] }, a: 1, z: undefined }));
    expect(configHash({ a: 1 })).not.toBe(configHash({ a: 2 }));
  });
});

describe('applyInit', () => {
  test('loads a component from a safetensors file and leaves the rest as built, without leaking tensors', async () => {
    const a = clipSpec.build(tinyClip(8), {});
    const b = clipSpec.build(tinyClip(8), {});
    const file = await writeWeights(a.namedParameters(), (n) => n.startsWith('visual.'));
    const before = values(b.namedParameters());
    const e = await entry('vision', file, { component: 'visual' });
    const tensors = tf.memory().numTensors;
    const report = applyInit(b, clipSpec.components(tinyClip(8)), [e], noPlace);
    expect(tf.memory().numTensors).toBe(tensors);
    const va = values(a.namedParameters());
    const vb = values(b.namedParameters());
    const visual = [...va.keys()].filter((n) => n.startsWith('visual.'));
    expect(report).toEqual([{ target: 'vision', file, tensors: visual.length, skipped: 0 }]);
    for (const n of visual) expect([n, vb.get(n)]).toEqual([n, va.get(n)]);
    for (const n of [...vb.keys()].filter((k) => !k.startsWith('visual.'))) expect([n, vb.get(n)]).toEqual([n, before.get(n)]);
    a.dispose();
    b.dispose();
  });

  test('a prefix taken into a prefix is renamed from one to the other; skip leaves a parameter as built', async () => {
    const a = clipSpec.build(tinyClip(8), {});
    const b = clipSpec.build(tinyClip(8), {});
    const file = await writeWeights(a.namedParameters(), (n) => n.startsWith('visual.transformer.'), (n) => n.replace('visual.transformer.', 'blocks.'));
    const before = values(b.namedParameters());
    const e = await entry('visual.transformer', file, { component: 'blocks', skip: ['visual.transformer.resblocks.0.ln_1'] });
    const [report] = applyInit(b, clipSpec.components(tinyClip(8)), [e], noPlace);
    expect(report).toMatchObject({ tensors: 10, skipped: 2 });
    const va = values(a.namedParameters());
    const vb = values(b.namedParameters());
    expect(vb.get('visual.transformer.resblocks.0.mlp.c_fc.weight')).toEqual(va.get('visual.transformer.resblocks.0.mlp.c_fc.weight'));
    expect(vb.get('visual.transformer.resblocks.0.ln_1.weight')).toEqual(before.get('visual.transformer.resblocks.0.ln_1.weight'));
    expect(vb.get('visual.conv1.weight')).toEqual(before.get('visual.conv1.weight'));
    a.dispose();
    b.dispose();
  });

  test('shape mismatches, missing and unexpected names are one-line errors naming the file, the parameter and the shapes; nothing is assigned', async () => {
    const a = clipSpec.build(tinyClip(8), {});
    const wide = clipSpec.build(tinyClip(16), {});
    const b = clipSpec.build(tinyClip(8), {});
    const comps = clipSpec.components(tinyClip(8));
    const before = values(b.namedParameters());
    const oneLine = async (e: Promise<InitEntry>, re: RegExp) => {
      let message = '';
      try {
        applyInit(b, comps, [await e], noPlace);
      } catch (x) {
        message = (x as Error).message;
      }
      expect(message.split('\n')).toHaveLength(1);
      expect(message).toMatch(re);
    };
    const wideFile = await writeWeights(wide.namedParameters(), (n) => n.startsWith('visual.'));
    await oneLine(entry('vision', wideFile, { component: 'visual' }), new RegExp(`^init\\.vision: ${wideFile}: 'visual\\.[a-z_.0-9]+' is \\[[0-9, ]+\\] but 'visual\\.[a-z_.0-9]+' is \\[[0-9, ]+\\]$`));
    await oneLine(entry('vision', wideFile, { component: 'visual' }), /'visual\.class_embedding' is \[16\] but 'visual\.class_embedding' is \[8\]/);
    const partial = await writeWeights(a.namedParameters(), (n) => n.startsWith('visual.') && n !== 'visual.proj');
    await oneLine(entry('vision', partial, { component: 'visual' }), new RegExp(`^init\\.vision: ${partial} has no tensor for 'visual\\.proj' \\[8, 8\\]; .*skip`));
    const extra = await writeWeights(a.namedParameters(), (n) => n.startsWith('visual.') || n === 'logit_scale');
    await oneLine(entry('vision', extra, { component: 'model' }), new RegExp(`^init\\.vision: ${extra}: 'logit_scale' \\[\\] is not a parameter of init target 'vision'; .*map it to null`));
    await oneLine(entry('vision', extra), /has no component or parameters 'vision' \(components: none known; parameter prefixes: logit_scale, visual\); name the part to take with component$/);
    // the failed entries changed nothing
    expect(values(b.namedParameters())).toEqual(before);
    // a map to null leaves the extra tensor out: then the vision tower loads, and only it
    const visual = [...before.keys()].filter((n) => n.startsWith('visual.'));
    expect(applyInit(b, comps, [await entry('vision', extra, { component: 'model', map: { logit_scale: null } })], noPlace)[0].tensors).toBe(visual.length);
    const vb = values(b.namedParameters());
    expect(vb.get('logit_scale')).toEqual(before.get('logit_scale'));
    expect(vb.get('visual.proj')).toEqual(values(a.namedParameters()).get('visual.proj'));
    [a, wide, b].forEach((m) => m.dispose());
  });
});
