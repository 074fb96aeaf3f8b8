/**
 * Every workspace package points users at its build and the repository at its sources, and the two agree (issue
 * 15): `main`, `types` and each `exports` entry name the dist/ files that tsc emits from one file in src/;
 * `typesVersions` gives each subpath's .d.ts to node10 module resolution; tsconfig.json's `paths` (what tsc, tsx,
 * esbuild and jest resolve @mmzoo/* with inside the repository) lead each entry to that same source file; a package's
 * tsconfig.build.json references exactly the @mmzoo packages it depends on, and the root one every package.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';

const ROOT = path.join(__dirname, '..', '..');
const readJson = (file: string) => JSON.parse(fs.readFileSync(path.join(ROOT, file), 'utf8'));

interface Manifest {
  name: string;
  main: string;
  types: string;
  typesVersions?: Record<string, Record<string, string[]>>;
  exports: Record<string, { types: string; default: string }>;
  files: string[];
  scripts: Record<string, string>;
  dependencies?: Record<string, string>;
}

const workspaces: string[] = readJson('package.json').workspaces;
const packages = workspaces.map((dir) => ({ dir, pkg: readJson(path.join(dir, 'package.json')) as Manifest }));
const dirOf = (name: string) => packages.find((p) => p.pkg.name === name)?.dir;

const tsconfig = ts.getParsedCommandLineOfConfigFile(path.join(ROOT, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined })!;
/** The file tsc (and so tsx, esbuild and jest, through the same `paths`) resolves `spec` to from inside tests/. */
const resolveInRepo = (spec: string) => ts.resolveModuleName(spec, path.join(ROOT, 'tests', 'x.ts'), tsconfig.options, ts.sys).resolvedModule?.resolvedFileName;

describe.each(packages)('$pkg.name', ({ dir, pkg }) => {
  test('main, types and every export name the build of one source file, which paths resolve the same entry to', () => {
    expect([pkg.main, pkg.types]).toEqual(['dist/index.js', 'dist/index.d.ts']);
    expect(Object.keys(pkg.exports)).toContain('.');
    const subpaths: string[] = [];
    for (const [sub, target] of Object.entries(pkg.exports)) {
      const stem = /^\.\/dist\/(.+)\.js$/.exec(target.default)?.[1];
      expect(target).toEqual({ types: `./dist/${stem}.d.ts`, default: `./dist/${stem}.js` });
      const source = path.join(ROOT, dir, 'src', `${stem}.ts`);
      expect(fs.existsSync(source)).toBe(true);
      const spec = sub === '.' ? pkg.name : `${pkg.name}/${sub.replace(/^\.\//, '')}`;
      expect([spec, resolveInRepo(spec)]).toEqual([spec, source]);
      if (sub !== '.') {
        subpaths.push(sub.replace(/^\.\//, ''));
        expect(pkg.typesVersions?.['*']?.[sub.replace(/^\.\//, '')]).toEqual([`dist/${stem}.d.ts`]);
      }
    }
    expect(Object.keys(pkg.typesVersions?.['*'] ?? {}).sort()).toEqual(subpaths.sort());
  });

  test('npm pack ships dist/ without the build info, built first by prepack', () => {
    expect(pkg.files).toEqual(expect.arrayContaining(['dist', '!dist/.tsbuildinfo']));
    expect(pkg.files).not.toContain('src');
    expect(pkg.scripts).toMatchObject({ build: 'tsc -b tsconfig.build.json', prepack: 'npm run build' });
  });

  test('its tsconfig.build.json references exactly the @mmzoo packages it depends on', () => {
    const refs: { path: string }[] = readJson(path.join(dir, 'tsconfig.build.json')).references ?? [];
    const deps = Object.keys(pkg.dependencies ?? {}).filter((d) => d.startsWith('@mmzoo/'));
    for (const d of deps) expect([d, dirOf(d)]).toEqual([d, expect.any(String)]);
    expect(refs.map((r) => path.resolve(ROOT, dir, r.path)).sort()).toEqual(deps.map((d) => path.join(ROOT, dirOf(d)!, 'tsconfig.build.json')).sort());
  });
});

test('the root tsconfig.build.json (npm run build) builds every workspace package', () => {
  const refs: { path: string }[] = readJson('tsconfig.build.json').references;
  expect(refs.map((r) => path.resolve(ROOT, r.path)).sort()).toEqual(workspaces.map((dir) => path.join(ROOT, dir, 'tsconfig.build.json')).sort());
});

test("tsconfig.json's paths map nothing a package does not export, but for @mmzoo/core/* (tests of core's inner modules)", () => {
  const exported = packages.flatMap(({ pkg }) => Object.keys(pkg.exports).map((sub) => (sub === '.' ? pkg.name : `${pkg.name}/${sub.replace(/^\.\//, '')}`)));
  const mapped = Object.keys(tsconfig.options.paths ?? {}).filter((p) => p !== '@mmzoo/core/*');
  expect(mapped.filter((p) => !exported.includes(p))).toEqual([]);
  expect(mapped).toContain('@mmzoo/blip/capfilt');
});
