import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ConfigError } from '@mmzoo/core';
import { checkModelMemory, configWarnings, loadExperiment, parseMaxSeconds } from '../../packages/cli/src/experiment';
import { allocationError, checkBatchSizes } from '@mmzoo/train';
import { describeFsError } from '../../packages/cli/src/errors';
import { readResultsFile } from '../../packages/cli/src/results';

// Issue 14: the helpers behind the CLI's input checks (tests/cli/bad-input.test.ts runs them end to end).
let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmzoo-input-checks-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const BASE = {
  train: { seed: 0, batchSize: 16, steps: 100, accumSteps: 1, lr: 1e-3, warmupSteps: 10 },
} as any;

describe('parseMaxSeconds', () => {
  test('positive finite numbers pass, the flag left out is undefined', () => {
    expect(parseMaxSeconds(undefined)).toBeUndefined();
    expect(parseMaxSeconds('90')).toBe(90);
    expect(parseMaxSeconds('0.5')).toBe(0.5);
    expect(parseMaxSeconds('1e3')).toBe(1000);
  });

  test.each(['0', '-1', 'abc', 'Infinity', '-Infinity', 'NaN', '', ' ', '12s'])('%j is a ConfigError', (v) => {
    expect(() => parseMaxSeconds(v)).toThrow(ConfigError);
    expect(() => parseMaxSeconds(v)).toThrow(`--max-seconds ${v}: expected a positive number of seconds`);
  });
});

describe('configWarnings', () => {
  test('none for a warmup inside the training', () => {
    expect(configWarnings(BASE)).toEqual([]);
  });

  test('train.warmupSteps > train.steps', () => {
    expect(configWarnings({ train: { ...BASE.train, warmupSteps: 200 } } as any)).toEqual([
      'train.warmupSteps (200) is more than train.steps (100): the learning rate never reaches train.lr (0.001)',
    ]);
  });

  test("a stage's own or inherited warmup longer than the stage", () => {
    const cfg = {
      train: { ...BASE.train, steps: 70, warmupSteps: 30 },
      stages: [
        { name: 'a', steps: 20 }, // inherits 30
        { name: 'b', steps: 40, warmupSteps: 50 },
        { name: 'c', steps: 10, warmupSteps: 5 },
      ],
    } as any;
    expect(configWarnings(cfg)).toEqual([
      "train.warmupSteps (30), which the stage inherits, is more than stages[0].steps (20) of stage 'a': its learning rate never reaches its peak",
      "stages[1].warmupSteps (50) is more than stages[1].steps (40) of stage 'b': its learning rate never reaches its peak",
    ]);
  });
});

describe('checkBatchSizes', () => {
  test('the batch sizes training uses, against the training set', () => {
    expect(() => checkBatchSizes(BASE, 16)).not.toThrow();
    expect(() => checkBatchSizes(BASE, 15)).toThrow('train.batchSize: 16 is larger than the training set (15 pairs); lower it or add data');
    const staged = { ...BASE, stages: [{ name: 'a', steps: 1 }, { name: 'b', steps: 1, batchSize: 64 }] } as any;
    expect(() => checkBatchSizes(staged, 32)).toThrow("stages[1].batchSize: 64 in stage 'b' is larger than the training set (32 pairs)");
    // every stage sets its own: train.batchSize is not used
    const own = { ...BASE, train: { ...BASE.train, batchSize: 999 }, stages: [{ name: 'a', steps: 1, batchSize: 8 }] } as any;
    expect(() => checkBatchSizes(own, 8)).not.toThrow();
  });
});

describe('model memory', () => {
  const place = (p: (string | number)[]) => `${p.join('.')}: `;

  test('a shipped paper-size preset fits in 16 GB; a width that does not names the key and the gigabytes', () => {
    const vitB = loadExperiment(path.join(__dirname, '..', '..', 'configs', 'clip', 'vit-b-32.yaml'), [], { modelOnly: true }).config.model;
    expect(() => checkModelMemory(vitB, place, 16e9)).not.toThrow();
    const wide = { name: 'clip', vision: { width: 70000, layers: 1, mlpRatio: 4 }, text: { width: 16, layers: 1, vocabSize: 100 } };
    // 12 * 70000^2 = 58.8e9 weights, 235.2 GB of float32
    expect(() => checkModelMemory(wide, place, 16e9)).toThrow('model.vision.width: 70000 needs about 235 GB of float32 weights (58.8 billion parameters), more than this machine\'s 16 GB of memory; reduce it');
  });

  test('a width inherited by a section (VLMo, BEiT-3) sizes its patch positions', () => {
    const m = { width: 8, layers: 1, vision: { imageSize: 70000, patchSize: 1 } };
    // 4.9e9 patches * 8 = 39.2e9 weights
    expect(() => checkModelMemory(m, place, 100e9)).toThrow(/^model\.vision\.imageSize: 70000 needs about 157 GB/);
  });

  test('a failed allocation names the largest size key that divides the request', () => {
    const cfg = { model: { name: 'clip', embedDim: 16, vision: { width: 70000, layers: 1, numHeads: 2 }, text: { width: 16, vocabSize: 49408 } } } as any;
    const e = allocationError(new RangeError('Invalid typed array length: 14700000000'), cfg);
    expect(e).toBeInstanceOf(ConfigError);
    expect(e!.message).toBe('model.vision.width: 70000 needs a float32 tensor of 14,700,000,000 values (58.8 GB), more than can be allocated; reduce it');
    expect(allocationError(new RangeError('Array buffer allocation failed'), cfg)!.message).toMatch(/^model\.vision\.width: 70000 needs more memory than is available/);
    expect(allocationError(new Error('something else'), cfg)).toBeUndefined();
    expect(allocationError(new RangeError('index out of range'), cfg)).toBeUndefined();
  });
});

describe('describeFsError', () => {
  const thrown = (f: () => void): unknown => {
    try {
      f();
    } catch (e) {
      return e;
    }
    throw new Error('did not throw');
  };

  test('real errors as one plain line', () => {
    const file = path.join(dir, 'notes.txt');
    fs.writeFileSync(file, 'x');
    expect(describeFsError(thrown(() => fs.mkdirSync(file)))).toBe(`cannot create ${file}: already exists (EEXIST)`);
    expect(describeFsError(thrown(() => fs.mkdirSync(path.join(file, 'sub'))))).toBe(`cannot create ${path.join(file, 'sub')}: a part of the path is a file, not a folder (ENOTDIR)`);
    expect(describeFsError(thrown(() => fs.writeFileSync(dir, 'x')))).toBe(`cannot write ${dir}: is a folder (EISDIR)`);
    expect(describeFsError(thrown(() => fs.readdirSync(path.join(dir, 'none'))))).toBe(`cannot read ${path.join(dir, 'none')}: no such file or folder (ENOENT)`);
    expect(describeFsError(thrown(() => fs.renameSync(path.join(dir, 'none'), path.join(dir, 'b'))))).toBe(`cannot move ${path.join(dir, 'none')} to ${path.join(dir, 'b')}: no such file or folder (ENOENT)`);
  });

  test('codes named in the issue', () => {
    const sys = (code: string, syscall: string, p: string) => Object.assign(new Error(`${code}: x, ${syscall} '${p}'`), { code, syscall, path: p });
    expect(describeFsError(sys('EROFS', 'open', '/x/results.json'))).toBe('cannot write /x/results.json: read-only file system (EROFS)');
    expect(describeFsError(sys('ENOSPC', 'write', '/x/a.safetensors'))).toBe('cannot write /x/a.safetensors: no space left on the device (ENOSPC)');
    expect(describeFsError(sys('EACCES', 'mkdir', '/root/runs'))).toBe('cannot create /root/runs: permission denied (EACCES)');
    expect(describeFsError(sys('EACCES', 'open', '/etc/shadow'))).toBe('cannot open /etc/shadow: permission denied (EACCES)');
  });

  test('anything else is left alone', () => {
    expect(describeFsError(new Error('plain'))).toBeUndefined();
    expect(describeFsError(Object.assign(new Error('no path'), { code: 'EISDIR', syscall: 'read' }))).toBeUndefined();
    expect(describeFsError(undefined)).toBeUndefined();
  });
});

describe('readResultsFile', () => {
  test('reads a results file; a corrupt one names the file and what to do', () => {
    const good = path.join(dir, 'good.json');
    fs.writeFileSync(good, JSON.stringify({ model: 'clip', metrics: { zeroShotTop1: 0.5 } }));
    expect(readResultsFile(good).metrics.zeroShotTop1).toBe(0.5);
    const cut = path.join(dir, 'cut.json');
    fs.writeFileSync(cut, '{"model": "clip", "metr');
    expect(() => readResultsFile(cut)).toThrow(new RegExp(`^${cut}: corrupt results file \\(.+\\); delete it or re-run with --overwrite$`));
    const list = path.join(dir, 'list.json');
    fs.writeFileSync(list, '[1, 2]');
    expect(() => readResultsFile(list)).toThrow(`${list}: corrupt results file (expected an object with "metrics"); delete it or re-run with --overwrite`);
    const empty = path.join(dir, 'empty.json');
    fs.writeFileSync(empty, '');
    expect(() => readResultsFile(empty)).toThrow(`${empty}: corrupt results file (Unexpected end of JSON input); delete it or re-run with --overwrite`);
  });
});
