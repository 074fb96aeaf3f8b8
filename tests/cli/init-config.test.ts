import * as fs from 'fs';
import * as path from 'path';
import { ConfigError } from '@mmzoo/core';
import { loadExperiment } from '../../packages/cli/src/experiment';
import { infoCommand } from '../../packages/cli/src/commands/info';
import { resumeDifferences } from '../../packages/cli/src/resume-check';
import { TINY_CLIP_YAML } from '../helpers/configs';
import { tempDirs } from '../helpers/temp';

// Issue 15: `init:` and `frozen:` are checked when a config is loaded, before anything is built or trained: each
// mistake is one line naming the file, the line and the key.

const temp = tempDirs('mmzoo-init-config-');
let dir: string;
beforeAll(() => {
  dir = temp.make();
  fs.mkdirSync(path.join(dir, 'runs', 'clip'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'clip.yaml'), TINY_CLIP_YAML);
});
afterAll(() => temp.cleanUp());

/** Writes TINY_CLIP_YAML plus `extra` top-level YAML as `<name>.yaml`; returns its path. */
function config(name: string, extra: string): string {
  const f = path.join(dir, `${name}.yaml`);
  fs.writeFileSync(f, `${TINY_CLIP_YAML}${extra}`);
  return f;
}

/** The ConfigError message loading `file` throws. */
function loadError(file: string): string {
  try {
    loadExperiment(file);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error(`${file} loaded without error`);
}

const lineOf = (extra: string, key: string) => TINY_CLIP_YAML.split('\n').length + extra.split('\n').findIndex((l) => l.includes(key));

describe('init: and frozen: in a config', () => {
  test('a valid config loads with its init paths made absolute, relative to its folder', () => {
    const f = config('ok', 'init:\n  vision: { run: runs/clip }\n  text: { config: clip.yaml }\nfrozen: [vision, logit_scale]\n');
    const cfg = loadExperiment(f).config;
    expect(cfg.init).toEqual({ vision: { run: path.join(dir, 'runs', 'clip') }, text: { config: path.join(dir, 'clip.yaml') } });
    expect(cfg.frozen).toEqual(['vision', 'logit_scale']);
  });

  test.each([
    ['an unknown init target', 'init:\n  visoin: { run: runs/clip }\n', 'visoin', /init\.visoin: 'visoin' is not 'model', a component of the model or a prefix of its parameters \(components: vision, text, logitScale; /],
    ['an unknown frozen component', 'frozen: [vision, txet]\n', 'frozen', /frozen\[1\]: 'txet' is neither a component of the model nor a prefix of a trainable parameter/],
    ['a missing run folder', 'init:\n  vision: { run: runs/nope }\n', 'vision', /init\.vision\.run: \S+runs\/nope: no such folder$/],
    ['a missing safetensors file', 'init:\n  vision: { safetensors: w.safetensors, component: visual }\n', 'vision', /init\.vision\.safetensors: \S+w\.safetensors: no such file$/],
    ['a checkpoint folder without meta.json', 'init:\n  vision: { checkpoint: runs/clip }\n', 'vision', /init\.vision\.checkpoint: \S+runs\/clip: not a checkpoint folder \(no meta\.json\)$/],
    ['a missing config', 'init:\n  vision: { config: nope.yaml }\n', 'vision', /init\.vision\.config: \S+nope\.yaml: config file not found$/],
    ['two sources', 'init:\n  vision: { run: runs/clip, config: clip.yaml }\n', 'vision', /init\.vision: give one source, not run and config$/],
    ['no source', 'init:\n  vision: { component: visual }\n', 'vision', /init\.vision: name the weights' source: one of run, checkpoint, safetensors, config$/],
    ['an unknown key', 'init:\n  vision: { run: runs/clip, skp: [a] }\n', 'vision', /init\.vision\.skp: unknown key, did you mean 'skip'\? \(valid keys: run, checkpoint, safetensors, config, component, map, skip\)$/],
    ['a skip path outside the target', 'init:\n  vision: { run: runs/clip, skip: [transformer] }\n', 'vision', /init\.vision\.skip\[0\]: 'transformer' is neither a component nor a prefix of any parameter of init target 'vision'/],
    ['two targets sharing a parameter', 'init:\n  vision: { run: runs/clip }\n  visual.proj: { run: runs/clip }\n', 'visual.proj', /init\.visual\.proj: 'visual\.proj' and 'vision' both load 'visual\.proj'; give each parameter one source$/],
  ])('%s is one line naming the file, line and key', (_what, extra, key, re) => {
    const f = config('bad', extra);
    const msg = loadError(f);
    expect(msg.split('\n')).toHaveLength(1);
    expect(msg.startsWith(`${f}:${lineOf(extra, key)}:`)).toBe(true);
    expect(msg).toMatch(re);
  });

  test('--resume compares frozen: (it changes what the steps train) but not init: (a resumed run takes the checkpoint)', () => {
    const then = { model: { name: 'clip' }, init: { vision: { run: '/a' } }, frozen: ['vision'] };
    expect(resumeDifferences(then, { ...then, init: { vision: { run: '/b' } } })).toEqual([]);
    expect(resumeDifferences(then, { ...then, frozen: ['vision', 'text'] })).toEqual(['frozen: ["vision"] -> ["vision","text"]']);
    expect(resumeDifferences(then, { model: then.model })).toEqual(['frozen: ["vision"] -> (unset)']);
  });

  test('a config that needs itself through init is refused', () => {
    const a = path.join(dir, 'a.yaml');
    const b = path.join(dir, 'b.yaml');
    fs.writeFileSync(a, `${TINY_CLIP_YAML}init:\n  vision: { config: b.yaml }\n`);
    fs.writeFileSync(b, `${TINY_CLIP_YAML}init:\n  text: { config: a.yaml }\n`);
    expect(loadError(a)).toMatch(/init\.vision\.config: .*init\.text\.config: \S+a\.yaml: init cycle: .*a\.yaml -> .*b\.yaml -> .*a\.yaml$/);
  });

  test('mmzoo info shows trainable and frozen parameters per component and in all', async () => {
    const show = async (f: string) => {
      let out = '';
      const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
        out += chunk.toString();
        return true;
      });
      try {
        expect(await infoCommand(f, {})).toBe(0);
      } finally {
        spy.mockRestore();
      }
      return out;
    };
    const plain = await show(path.join(dir, 'clip.yaml'));
    const count = (text: string, row: string) => Number(new RegExp(`^\\s*${row}\\s+([\\d,]+)`, 'm').exec(text)![1].replace(/,/g, ''));
    const vision = count(plain, 'vision');
    const total = count(plain, 'total parameters');
    expect(plain).not.toMatch(/frozen/);
    const out = await show(config('frozen', 'frozen: [vision, visual.proj, logit_scale]\n'));
    // the tiny CLIP's vision tower: patch 7 (16 x 1 x 7 x 7), class token, 17 positions, ln_pre, one block of width 16
    // (q/k/v/out weights, their biases, two LayerNorms, MLP 16 -> 64 -> 16), ln_post, proj 16 x 16
    expect(vision).toBe(784 + 16 + 17 * 16 + 2 * 16 + (4 * 16 * 16 + 3 * 16 + 16 + 2 * 16 + 2 * 16 * 64 + 64 + 16 + 2 * 16) + 2 * 16 + 16 * 16);
    expect(out).toMatch(new RegExp(`^  vision\\s+${vision.toLocaleString('en-US')} \\(trainable 0, frozen ${vision.toLocaleString('en-US')}\\)$`, 'm'));
    expect(out).toMatch(/^ {2}logitScale\s+1 \(trainable 0, frozen 1\)$/m);
    expect(count(out, 'total parameters')).toBe(total);
    expect(count(out, 'trainable')).toBe(total - vision - 1);
    expect(out).toMatch(new RegExp(`^  frozen\\s+${(vision + 1).toLocaleString('en-US')} \\(frozen: vision, visual\\.proj, logit_scale\\)$`, 'm'));
  });
});
