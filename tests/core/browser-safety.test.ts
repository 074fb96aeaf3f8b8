/**
 * @mmzoo/core runs in a browser too (DESIGN.md, "Same code in Node and the browser"; issue 15): its whole import
 * graph, dependencies included, bundles with esbuild for `platform: 'browser'`, and nothing in it imports a Node
 * built-in (with or without the `node:` prefix) or a native package. The Node harness is @mmzoo/train.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { builtinModules } from 'module';
import * as esbuild from 'esbuild';
import type { BuildOptions, Plugin } from 'esbuild';

const ROOT = path.join(__dirname, '..', '..');
const CORE_SRC = path.join(ROOT, 'packages', 'core', 'src');
const CORE_ENTRY = path.join(CORE_SRC, 'index.ts');
/** Packages with a native addon: never part of a browser bundle. */
const NATIVE_PACKAGES = ['sharp', '@mmzoo/backend-native', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'];
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const NODE_ONLY = new RegExp(`^(node:.*|(${[...builtinModules, ...NATIVE_PACKAGES].map(escape).join('|')})(/.*)?)$`);
const isNative = (spec: string) => NATIVE_PACKAGES.some((p) => spec === p || spec.startsWith(`${p}/`));

/**
 * An esbuild plugin that records every import of a native package, and of a Node built-in that the browser build
 * cannot resolve. A dependency may replace a built-in for browsers through its package.json `browser` field
 * (tfjs-core maps `util` to nothing, seedrandom `crypto`); esbuild honours that, and so does this check.
 */
function nodeOnlyImports(offenders: string[]): Plugin {
  return {
    name: 'node-only-imports',
    setup(build) {
      build.onResolve({ filter: NODE_ONLY }, async (args) => {
        if ((args.pluginData as { nodeOnlyCheck?: boolean } | undefined)?.nodeOnlyCheck) return undefined;
        const resolved = isNative(args.path)
          ? undefined
          : await build.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: { nodeOnlyCheck: true } });
        if (resolved && resolved.errors.length === 0) return undefined;
        offenders.push(`${args.path} (imported by ${path.relative(ROOT, args.importer)})`);
        return { path: args.path, external: true };
      });
    },
  };
}

const browserBuild = (entry: string, extra: Partial<BuildOptions> = {}) =>
  esbuild.build({ entryPoints: [entry], bundle: true, platform: 'browser', write: false, logLevel: 'silent', format: 'esm', absWorkingDir: ROOT, ...extra });

/** The Node-only imports in the import graph of `entry`. */
async function nodeOnlyImportsOf(entry: string): Promise<string[]> {
  const offenders: string[] = [];
  await browserBuild(entry, { plugins: [nodeOnlyImports(offenders)] });
  return [...new Set(offenders)];
}

/** Module specifiers of the import / export / require / dynamic-import statements of a TypeScript file. */
function specifiers(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm;
  return [...text.matchAll(re)].map((m) => m[1]);
}

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? tsFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

describe('@mmzoo/core is browser-safe', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mmzoo-browser-safety-'));
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('bundles with esbuild for the browser', async () => {
    const result = await browserBuild(CORE_ENTRY);
    expect(result.errors).toEqual([]);
    expect(result.outputFiles?.[0].contents.length).toBeGreaterThan(0);
  });

  it('imports no Node built-in and no native package anywhere in its graph', async () => {
    expect(await nodeOnlyImportsOf(CORE_ENTRY)).toEqual([]);
  });

  it('the check catches a Node built-in with or without the node: prefix, and a native package', async () => {
    const write = (name: string, source: string) => {
      const file = path.join(tmp, name);
      fs.writeFileSync(file, source);
      return file;
    };
    const fsEntry = write('fs.ts', "import { readFileSync } from 'fs';\nexport const read = readFileSync;\n");
    const nodePathEntry = write('node-path.ts', "import * as path from 'node:path';\nexport const join = path.join;\n");
    const sharpEntry = write('sharp.ts', "import sharp from 'sharp';\nexport const s = sharp;\n");
    // imported indirectly, through a file that is itself browser-safe
    write('helper.ts', "export { promises } from 'fs/promises';\n");
    const indirectEntry = write('indirect.ts', "export * from './helper';\n");
    const dynamicEntry = write('dynamic.ts', "export const load = () => import('node:worker_threads');\n");
    expect(await nodeOnlyImportsOf(fsEntry)).toEqual([`fs (imported by ${path.relative(ROOT, fsEntry)})`]);
    expect(await nodeOnlyImportsOf(nodePathEntry)).toEqual([`node:path (imported by ${path.relative(ROOT, nodePathEntry)})`]);
    expect(await nodeOnlyImportsOf(sharpEntry)).toEqual([`sharp (imported by ${path.relative(ROOT, sharpEntry)})`]);
    expect(await nodeOnlyImportsOf(indirectEntry)).toEqual([expect.stringMatching(/^fs\/promises \(imported by .*helper\.ts\)$/)]);
    expect(await nodeOnlyImportsOf(dynamicEntry)).toEqual([expect.stringMatching(/^node:worker_threads /)]);
    // a plain browser build fails on a Node built-in too
    await expect(browserBuild(fsEntry)).rejects.toThrow(/Could not resolve "fs"/);
  });

  it('imports neither @mmzoo/train nor a model package, and no file outside packages/core/src', () => {
    const bad: string[] = [];
    for (const file of tsFiles(CORE_SRC)) {
      for (const spec of specifiers(file)) {
        const where = `${path.relative(ROOT, file)}: '${spec}'`;
        if (spec.startsWith('@mmzoo/') && spec !== '@mmzoo/core' && !spec.startsWith('@mmzoo/core/')) bad.push(where);
        if (spec.startsWith('.') && path.relative(CORE_SRC, path.resolve(path.dirname(file), spec)).startsWith('..')) bad.push(where);
      }
    }
    expect(bad).toEqual([]);
    // the scan itself finds imports
    expect(specifiers(CORE_ENTRY)).toContain('./nn');
  });
});

describe("the model packages' entries are browser-safe too", () => {
  // harness code of a model package (BLIP's CapFilt, on @mmzoo/train) is a subpath export, not part of the entry
  it.each(['clip', 'albef', 'blip', 'vlmo', 'beit3', 'coca', 'lm'])('@mmzoo/%s', async (name) => {
    expect(await nodeOnlyImportsOf(path.join(ROOT, 'packages', name, 'src', 'index.ts'))).toEqual([]);
  });

  it('@mmzoo/blip/capfilt is not (it needs @mmzoo/train)', async () => {
    expect(await nodeOnlyImportsOf(path.join(ROOT, 'packages', 'blip', 'src', 'capfilt.ts'))).toEqual(expect.arrayContaining([expect.stringMatching(/^sharp /)]));
  });

  it('@mmzoo/lm/node is not (it reads Hugging Face folders and llama2.c files)', async () => {
    expect(await nodeOnlyImportsOf(path.join(ROOT, 'packages', 'lm', 'src', 'node.ts'))).toEqual(expect.arrayContaining([expect.stringMatching(/^fs /)]));
  });
});
