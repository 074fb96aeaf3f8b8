/**
 * Issue 15, "a model is a spec": every model package exports one spec (@mmzoo/core `ModelSpec`), the CLI's
 * `{ name: spec }` map is the model registry, and the CLI and the harness know no model by name. Each spec is
 * checked against its package's tiny configs: schema, inputs, objectives, evaluation tasks and their columns,
 * components that cover every trainable parameter exactly once, and presets on disk.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parse as parseYaml } from 'yaml';
import { EVAL_TASK_COLUMNS, EVAL_TASK_NAMES, Module, STAGE_DATA, componentCounts, manualSeed } from '@mmzoo/core';
import { CHAT_TEMPLATE_NAMES, INSTRUCTION_TEMPLATE_NAMES, checkEvalTasks } from '@mmzoo/train';
import { MODELS, getModel } from '../../packages/cli/src/specs';
import { useBackend } from '../helpers/fixtures';

const ROOT = path.join(__dirname, '..', '..');
const PACKAGES = path.join(ROOT, 'packages');
/** each spec's name and its package (packages/<pkg>, its configs under configs/<pkg>) */
const SPECS: { name: string; pkg: string }[] = [
  ...['clip', 'albef', 'blip', 'blip2', 'coca', 'vlmo', 'beit3'].map((name) => ({ name, pkg: name })),
  ...['llama', 'gpt2', 'opt'].map((name) => ({ name, pkg: 'lm' })),
  ...['blip2-lm', 'instructblip', 'minigpt4', 'visualglm'].map((name) => ({ name, pkg: 'blip2' })),
];
const MODEL_PACKAGES = SPECS.map((s) => s.name);
const packageOf = (name: string) => SPECS.find((s) => s.name === name)!.pkg;
/** text-only language models (issue 16): no image input */
const TEXT_ONLY = ['llama', 'gpt2', 'opt'];
/** vision-to-LM bridges (issue 17): a language model's tokens (`lm`), and the Q-Former's text when it reads one */
const BRIDGES = ['blip2-lm', 'instructblip', 'minigpt4', 'visualglm'];

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? tsFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** The `model:` sections of a spec's runnable configs (configs/<name>/*.yaml with that model, presets left out). */
function tinyConfigs(name: string): { file: string; model: unknown }[] {
  const spec = MODELS[name];
  const dir = path.join(ROOT, 'configs', packageOf(name));
  return fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).map((f) => path.join('configs', packageOf(name), f))
    .filter((f) => !spec.presets.includes(f))
    .map((f) => ({ file: f, model: parseYaml(fs.readFileSync(path.join(ROOT, f), 'utf8'))?.model }))
    .filter((c) => (c.model as { name?: string } | undefined)?.name === name);
}

describe('the model specs', () => {
  beforeAll(() => useBackend('cpu'));

  test('the map holds one spec per model package, keyed by its name', () => {
    expect(Object.keys(MODELS).sort()).toEqual([...MODEL_PACKAGES].sort());
    for (const [name, spec] of Object.entries(MODELS)) {
      expect(spec.name).toBe(name);
      expect(spec.describe).toMatch(/^\S.* \([A-Z][a-z]+ et al\. \d{4}\): /);
      expect(getModel(name)).toBe(spec);
      // the package exports the same object
      expect(Object.values(require(path.join(PACKAGES, packageOf(name), 'src', 'index.ts')))).toContain(spec);
    }
  });

  test("getModel('nosuch') names it and lists the valid names", () => {
    expect(() => getModel('nosuch')).toThrow(`model.name: unknown model 'nosuch'; registered models: ${Object.keys(MODELS).join(', ')}`);
    expect(() => getModel('toString')).toThrow(/unknown model 'toString'; registered models: clip, albef/);
  });

  test('presets exist on disk and validate against the schema', () => {
    for (const spec of Object.values(MODELS)) {
      expect({ name: spec.name, presets: spec.presets.length > 0 }).toEqual({ name: spec.name, presets: true });
      for (const preset of spec.presets) {
        expect({ preset, exists: fs.existsSync(path.join(ROOT, preset)) }).toEqual({ preset, exists: true });
        const doc = parseYaml(fs.readFileSync(path.join(ROOT, preset), 'utf8'));
        expect(spec.schema.safeParse(doc.model).success).toBe(true);
        expect({ preset, model: doc.model.name }).toEqual({ preset, model: spec.name });
      }
    }
  });

  test('every config with a reference: section is some spec\'s preset (info --all lists presets from the specs)', () => {
    const listed = new Set(Object.values(MODELS).flatMap((s) => s.presets));
    const withReference = MODEL_PACKAGES.flatMap((name) => fs.readdirSync(path.join(ROOT, 'configs', packageOf(name)))
      .map((f) => path.join('configs', packageOf(name), f))
      .filter((f) => /^reference:/m.test(fs.readFileSync(path.join(ROOT, f), 'utf8'))));
    expect(withReference.length).toBeGreaterThanOrEqual(4);
    for (const f of withReference) expect({ f, listed: listed.has(f) }).toEqual({ f, listed: true });
  });

  test.each(MODEL_PACKAGES)('%s: tiny configs parse; inputs, objectives, evaluation tasks; components cover every trainable parameter once', (name) => {
    const spec = MODELS[name];
    const configs = tinyConfigs(name);
    expect(configs.length).toBeGreaterThan(0);
    for (const { file, model } of configs) {
      const parsed = spec.schema.safeParse(model);
      expect({ file, ok: parsed.success }).toEqual({ file, ok: true });
      const cfg = spec.schema.parse(model);

      const { image, text, lm } = spec.inputs(cfg);
      expect(image?.length).toBe(TEXT_ONLY.includes(name) ? undefined : 3);
      for (const n of image ?? []) expect(Number.isInteger(n) && n > 0).toBe(true);
      // every model reads tokens: its own text, or (the bridges) a language model's, with the Q-Former's text beside
      for (const t of BRIDGES.includes(name) ? [lm, ...(text ? [text] : [])] : [text]) expect(Number.isInteger(t?.contextLength) && t!.contextLength > 0).toBe(true);

      const objectives = spec.objectives(cfg);
      expect(Object.keys(objectives).length).toBeGreaterThan(0);
      for (const kinds of Object.values(objectives)) {
        expect(kinds.length).toBeGreaterThan(0);
        for (const k of kinds) expect(STAGE_DATA).toContain(k);
      }

      const tasks = spec.evalTasks(cfg);
      expect(tasks.length).toBeGreaterThan(0);
      expect(new Set(tasks.map((t) => t.task)).size).toBe(tasks.length);
      for (const t of tasks) {
        expect(EVAL_TASK_NAMES).toContain(t.task);
        expect(t.columns.length).toBeGreaterThan(0);
        expect(t.columns).toEqual(EVAL_TASK_COLUMNS[t.task]);
      }
      if (tasks.some((t) => t.task === 'captioning')) expect(spec.caption).toBeDefined();

      manualSeed(0);
      const facts = { vocabSize: 100, eotId: 3, padId: 0 };
      const built = spec.build(cfg, { ...facts, tokenizers: { text: facts, lm: facts } });
      try {
        expect(built).toBeInstanceOf(Module);
        // what each requested task needs of the model (an ITM head, image features, a caption())
        expect(() => checkEvalTasks(spec, cfg, built)).not.toThrow();
        const components = spec.components(cfg);
        const owners = [...built.trainableParameters().keys()].map((n) => ({ n, in: Object.keys(components).filter((c) => components[c](n)) }));
        expect(owners.filter((o) => o.in.length !== 1)).toEqual([]);
        const counts = componentCounts(built, components);
        expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(built.numParams());
      } finally {
        built.dispose();
      }
    }
  });

  test('VLMo requests ITM evaluation only with an ITM head; its MIM component only with objectives.mim', () => {
    const vlmo = MODELS.vlmo;
    const base = { name: 'vlmo', vision: { imageSize: 16, patchSize: 8, channels: 1 }, text: { contextLength: 8, maxTextLenOfInitCkpt: 8 }, width: 16, layers: 2, numHeads: 2, vlStart: 1 };
    const plain = vlmo.schema.parse(base);
    const noItm = vlmo.schema.parse({ ...base, objectives: { itm: 0 } });
    const mim = vlmo.schema.parse({ ...base, objectives: { mim: 1 } });
    expect(vlmo.evalTasks(plain).map((t) => t.task)).toEqual(['zeroShot', 'retrieval', 'itm']);
    expect(vlmo.evalTasks(noItm).map((t) => t.task)).toEqual(['zeroShot', 'retrieval']);
    expect(Object.keys(vlmo.components(plain))).not.toContain('mimHeadAndMaskToken');
    expect(Object.keys(vlmo.components(mim))).toContain('mimHeadAndMaskToken');
    expect(Object.keys(vlmo.objectives(noItm))).not.toContain('itm');
  });
});

describe('the CLI and the harness know no model', () => {
  test('no file under packages/cli imports a model class', () => {
    // every Module subclass a model package exports (CLIP, ALBEF, CocaVision, ...)
    const classes = new Map<string, string>();
    for (const { pkg } of SPECS) {
      for (const [k, v] of Object.entries(require(path.join(PACKAGES, pkg, 'src', 'index.ts')))) {
        if (typeof v === 'function' && v.prototype instanceof Module) classes.set(k, `@mmzoo/${pkg}`);
      }
    }
    expect([...classes.keys()]).toEqual(expect.arrayContaining(['CLIP', 'ALBEF', 'BLIP', 'CoCa', 'VLMo', 'BEiT3']));
    const offenders: string[] = [];
    for (const file of tsFiles(path.join(PACKAGES, 'cli'))) {
      const text = fs.readFileSync(file, 'utf8');
      for (const m of text.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}\s*from\s*['"]([^'"]+)['"]/g)) {
        const names = m[1].split(',').map((s) => s.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0]).filter(Boolean);
        for (const n of names) if (classes.has(n)) offenders.push(`${path.relative(ROOT, file)}: ${n} from ${m[2]}`);
      }
      for (const line of text.split('\n')) {
        if (/import.*\b(CLIP|ALBEF|BLIP|VLMo|BEiT3|CoCa)\b/.test(line)) offenders.push(`${path.relative(ROOT, file)}: ${line.trim()}`);
      }
    }
    expect(offenders).toEqual([]);
    expect(fs.existsSync(path.join(PACKAGES, 'cli', 'src', 'models'))).toBe(false);
    expect(fs.existsSync(path.join(PACKAGES, 'cli', 'src', 'registry.ts'))).toBe(false);
  });

  test('no model name is spelled out in the CLI or the harness code, except in the spec map', () => {
    // a data layout named after the system whose prompt format it is (`minigpt4`, `instructblip`) is a name of a
    // format, not of a model: the harness never dispatches on a model's name
    const layouts: readonly string[] = [...INSTRUCTION_TEMPLATE_NAMES, ...CHAT_TEMPLATE_NAMES];
    const quoted = new RegExp(`(['"\`])(${MODEL_PACKAGES.filter((n) => !layouts.includes(n)).join('|')})\\1`);
    const offenders = [...tsFiles(path.join(PACKAGES, 'cli', 'src')), ...tsFiles(path.join(PACKAGES, 'train', 'src'))]
      .filter((f) => path.basename(f) !== 'specs.ts')
      .flatMap((f) => fs.readFileSync(f, 'utf8').split('\n').map((line, i) => ({ at: `${path.relative(ROOT, f)}:${i + 1}`, line })))
      .filter(({ line }) => quoted.test(line))
      .map(({ at, line }) => `${at}: ${line.trim()}`);
    expect(offenders).toEqual([]);
  });

  test("'as unknown as' does not occur under packages/*/src (unless a comment on the line above says why)", () => {
    const offenders: string[] = [];
    for (const pkg of fs.readdirSync(PACKAGES)) {
      const src = path.join(PACKAGES, pkg, 'src');
      if (!fs.existsSync(src)) continue;
      for (const file of tsFiles(src)) {
        const lines = fs.readFileSync(file, 'utf8').split('\n');
        lines.forEach((line, i) => {
          if (line.includes('as unknown as') && !/\/\/ .*\bcast\b/.test(lines[i - 1] ?? '')) offenders.push(`${path.relative(ROOT, file)}:${i + 1}: ${line.trim()}`);
        });
      }
    }
    expect(offenders).toEqual([]);
  });
});
