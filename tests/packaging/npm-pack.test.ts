/**
 * @mmzoo/core and @mmzoo/clip are importable from outside the repository (issue 15): built to JavaScript with .d.ts
 * (tsc -b, into each package's dist/), packed with `npm pack`, installed from the two tarballs into an empty folder
 * under the OS temp folder, and used there from plain `node` (CommonJS and ES modules, no tsx) and from TypeScript.
 * The consumers are tests/packaging/consumer/*. Dependencies (@tensorflow/tfjs, zod, @huggingface/tokenizers) come
 * from the npm cache, or from the registry the first time.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { tf } from '@mmzoo/core';
import { loadStateDict, parseSafetensors } from '@mmzoo/core/io';
import { clipSpec } from '@mmzoo/clip';
import { tempDirs } from '../helpers/temp';

const ROOT = path.join(__dirname, '..', '..');
const CONSUMER = path.join(__dirname, 'consumer');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const PACKED = ['clip', 'core'];

/**
 * Runs a command to completion.
 * @returns its stdout
 * @throws Error naming the command, its folder and exit status, with the end of its output
 */
function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 240000 });
  if (r.status !== 0) throw new Error(`${[cmd, ...args].join(' ')} (in ${cwd}) exited with ${r.status ?? r.signal}: ${`${r.stderr}\n${r.stdout}`.slice(-3000)}`);
  return r.stdout;
}

/** The environment of a consumer: no NODE_PATH that could find the repository's modules, no preloaded tsx. */
function consumerEnv(): NodeJS.ProcessEnv {
  const { NODE_PATH: _path, NODE_OPTIONS: _options, TSX_TSCONFIG_PATH: _tsx, ...env } = process.env;
  return env;
}

/** The one JSON line a consumer prints (tfjs prints a banner beside it). */
function jsonLine<T>(stdout: string): T {
  const line = stdout.split('\n').find((l) => l.startsWith('{'));
  if (!line) throw new Error(`no JSON line in the consumer's output: ${stdout.slice(0, 500)}`);
  return JSON.parse(line) as T;
}

/** Features of two inputs as consumer/clip-forward.cjs prints them: float32 [2, embedDim]. */
interface Features {
  shape: number[];
  finite: boolean;
  values: number[][];
}

/** What consumer/clip-forward.cjs prints. */
interface ForwardOutput {
  /** the files `require.resolve` gives for @mmzoo/core, @mmzoo/core/io, @mmzoo/clip and @tensorflow/tfjs */
  resolved: string[];
  config: unknown;
  parts: { vocabSize: number; eotId: number; padId: number };
  /** images float32 [2, 1, 8, 8] flattened; ids int32 [2, 6] */
  inputs: { images: number[]; ids: number[][] };
  image: Features;
  text: Features;
  /** parameter tensors of the model, and how many of them the second build loaded */
  parameters: number;
  loaded: number;
  /** largest absolute difference of the second build's features before and after loading the weights */
  beforeLoad: number;
  afterLoad: number;
}

/** tsconfig of the TypeScript consumer, for one module resolution. */
const consumerTsconfig = (module: string, moduleResolution: string) => ({
  compilerOptions: { module, moduleResolution, target: 'ES2022', strict: true, noEmit: true, types: [], skipLibCheck: true, esModuleInterop: true },
  files: ['types.ts'],
});

describe('@mmzoo/core and @mmzoo/clip installed from their npm tarballs outside the repository', () => {
  const temp = tempDirs('mmzoo-npm-pack-');
  let app: string;

  beforeAll(() => {
    const dir = temp.make();
    // clip's build, and core's through clip's project reference; npm pack's prepack finds both up to date
    run(process.execPath, [TSC, '-b', path.join('packages', 'clip', 'tsconfig.build.json')], ROOT);
    run('npm', ['pack', ...PACKED.flatMap((p) => ['-w', `@mmzoo/${p}`]), '--pack-destination', dir, '--silent'], ROOT);
    const tarballs = fs.readdirSync(dir).filter((f) => f.endsWith('.tgz')).sort();
    const version = (p: string) => JSON.parse(fs.readFileSync(path.join(ROOT, 'packages', p, 'package.json'), 'utf8')).version;
    expect(tarballs).toEqual(PACKED.map((p) => `mmzoo-${p}-${version(p)}.tgz`));
    app = path.join(dir, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'mmzoo-consumer', private: true }));
    const install = ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--no-package-lock'];
    run('npm', [...install, ...tarballs.map((f) => path.join(dir, f))], app, consumerEnv());
    for (const f of fs.readdirSync(CONSUMER)) fs.copyFileSync(path.join(CONSUMER, f), path.join(app, f));
  }, 300000);
  afterAll(() => temp.cleanUp());

  test('the consumer folder is outside the repository, and the packages hold their build, not their sources', () => {
    expect(path.relative(ROOT, app).startsWith('..')).toBe(true);
    for (const p of PACKED) {
      const installed = fs.realpathSync(path.join(app, 'node_modules', '@mmzoo', p));
      expect(installed.startsWith(app)).toBe(true);
      const files = fs.readdirSync(installed);
      expect(files).toEqual(expect.arrayContaining(['dist', 'package.json']));
      expect(files.filter((f) => f === 'src' || f.startsWith('tsconfig'))).toEqual([]);
      const dist = fs.readdirSync(path.join(installed, 'dist'));
      expect(dist).toEqual(expect.arrayContaining(['index.js', 'index.d.ts']));
      expect(dist.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
      expect(dist).not.toContain('.tsbuildinfo');
    }
    expect(fs.existsSync(path.join(app, 'node_modules', '@mmzoo', 'core', 'dist', 'io', 'index.js'))).toBe(true);
  });

  test('plain node builds a tiny CLIP through clipSpec, encodes images and texts, and saves and loads its weights', () => {
    const out = jsonLine<ForwardOutput>(run(process.execPath, ['clip-forward.cjs'], app, consumerEnv()));
    // every module came from the consumer's own node_modules, the packages from their dist/
    expect(out.resolved).toHaveLength(4);
    for (const file of out.resolved) expect(file.startsWith(path.join(app, 'node_modules') + path.sep)).toBe(true);
    expect(out.resolved.slice(0, 3).map((f) => path.relative(path.join(app, 'node_modules', '@mmzoo'), f))).toEqual([
      path.join('core', 'dist', 'index.js'),
      path.join('core', 'dist', 'io', 'index.js'),
      path.join('clip', 'dist', 'index.js'),
    ]);
    expect(out.image).toMatchObject({ shape: [2, 8], finite: true });
    expect(out.text).toMatchObject({ shape: [2, 8], finite: true });
    // a second build starts elsewhere and matches exactly once the saved weights are loaded
    expect(out.loaded).toBe(out.parameters);
    expect(out.beforeLoad).toBeGreaterThan(1e-3);
    expect(out.afterLoad).toBe(0);

    // the same weights and inputs through the repository's sources give the same features
    const before = tf.memory().numTensors;
    const model = clipSpec.build(clipSpec.schema.parse(out.config), out.parts);
    expect(model.namedParameters().size).toBe(out.parameters);
    loadStateDict(model.namedParameters(), parseSafetensors(fs.readFileSync(path.join(app, 'clip-tiny.safetensors'))));
    const [image, text] = tf.tidy(() => {
      const images = tf.tensor4d(out.inputs.images, [2, 1, 8, 8]);
      const ids = tf.tensor2d(out.inputs.ids, [2, 6], 'int32');
      return [model.encodeImage(images).arraySync() as number[][], model.encodeText(ids).arraySync() as number[][]];
    });
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const maxDiff = (a: number[][], b: number[][]) => Math.max(...a.flatMap((row, i) => row.map((v, j) => Math.abs(v - b[i][j]))));
    expect(maxDiff(image, out.image.values)).toBeLessThan(1e-6);
    expect(maxDiff(text, out.text.values)).toBeLessThan(1e-6);
  });

  test('an ES module imports the entries and the @mmzoo/core/io subpath by name', () => {
    const out = jsonLine<Record<string, string>>(run(process.execPath, ['imports.mjs'], app, consumerEnv()));
    expect(out).toEqual({ spec: 'clip', tensor: 'function', parseSafetensors: 'function', buildClip: 'function' });
  });

  test('TypeScript finds the .d.ts of the entries and the subpath, with node16 and with node10 module resolution', () => {
    fs.writeFileSync(path.join(app, 'tsconfig.node16.json'), JSON.stringify(consumerTsconfig('node16', 'node16')));
    fs.writeFileSync(path.join(app, 'tsconfig.node10.json'), JSON.stringify(consumerTsconfig('commonjs', 'node')));
    // fails on a missing declaration, and on an unused @ts-expect-error (types that are `any`)
    run(process.execPath, [TSC, '-b', 'tsconfig.node16.json', 'tsconfig.node10.json'], app, consumerEnv());
  });
});
