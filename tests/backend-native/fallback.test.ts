import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { NATIVE_UNAVAILABLE } from '../helpers/fixtures';

// The native backend is optional: a machine without OpenBLAS (or a compiler) still installs cleanly, and backend
// selection falls back to wasm with one log line that says why. MMZOO_NATIVE=0 exercises that path here.

const ROOT = path.resolve(__dirname, '..', '..');
const PKG = path.join(ROOT, 'packages', 'backend-native');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');

/** Runs scripts/select-backend.ts in a fresh Node process with `env` added; returns its log lines and result. */
function selectIn(env: Record<string, string>): { lines: string[]; info: { name: string; unavailable: { name: string; reason: string }[]; y: number } } {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete childEnv.MMZOO_BACKEND;
  const out = execFileSync(TSX, [path.join(__dirname, 'scripts', 'select-backend.ts')], { cwd: ROOT, env: childEnv, encoding: 'utf8', timeout: 120000 });
  const lines = out.trim().split('\n').filter((l) => !/^=+$|Hi, looks like|^\s*$/.test(l));
  return { lines: lines.slice(0, -1), info: JSON.parse(lines[lines.length - 1]) };
}

/** The environment without MMZOO_NATIVE (which would skip the install step and disable the backend). */
function envWithoutSwitch(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.MMZOO_NATIVE;
  return env;
}

/** Copies what the install step needs into a temporary folder (so the real build is left alone). */
function packageCopy(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmzoo-native-install-'));
  for (const p of ['package.json', 'binding.gyp', 'scripts', 'src']) fs.cpSync(path.join(PKG, p), path.join(dir, p), { recursive: true });
  return dir;
}

describe('native backend fallback', () => {
  test('MMZOO_NATIVE=0: automatic selection falls back to wasm and says why in one log line', () => {
    const { lines, info } = selectIn({ MMZOO_NATIVE: '0' });
    expect(info.name).toBe('wasm');
    expect(info.y).toBe(12);
    expect(info.unavailable.find((u) => u.name === 'native')?.reason).toBe('disabled by MMZOO_NATIVE=0');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^backend: wasm \(auto\); unavailable: .*native \(disabled by MMZOO_NATIVE=0\)/);
  });

  (NATIVE_UNAVAILABLE ? test.skip : test)('with the addon built, automatic selection picks native', () => {
    const { lines, info } = selectIn({});
    expect(info.name).toBe('native');
    expect(info.y).toBe(12);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^backend: native \(auto\)/);
  });

  (NATIVE_UNAVAILABLE || process.arch !== 'x64' ? test.skip : test)('MMZOO_NATIVE_BLAS_CORETYPE picks the OpenBLAS kernels for the addon only', () => {
    const probe = [
      "process.env.OPENBLAS_CORETYPE = 'Haswell';",
      "const n = require('@mmzoo/backend-native');",
      'console.log(JSON.stringify({ core: n.nativeThreads().blasCore, env: process.env.OPENBLAS_CORETYPE }));',
    ].join(' ');
    const run = (v: string) => JSON.parse(execFileSync(TSX, ['-e', probe], { cwd: ROOT, env: { ...process.env, MMZOO_NATIVE_BLAS_CORETYPE: v }, encoding: 'utf8' }).trim().split('\n').pop()!);
    expect(run('')).toEqual({ core: 'Haswell', env: 'Haswell' });
    expect(run('Sandybridge')).toEqual({ core: 'Sandybridge', env: 'Haswell' });
  });

  test('where OpenBLAS headers are present (CI installs libopenblas-dev), the addon was built', () => {
    const arch = process.arch === 'x64' ? 'x86_64-linux-gnu' : `${process.arch}-linux-gnu`;
    const headers = [`/usr/include/${arch}/openblas-pthread/cblas.h`, '/usr/include/openblas/cblas.h'].some((p) => fs.existsSync(p));
    if (!headers || process.env.MMZOO_NATIVE === '0') return;
    expect(NATIVE_UNAVAILABLE).toBeUndefined();
  });

  test('the install step exits 0 and records the reason when OpenBLAS headers are missing', () => {
    const dir = packageCopy();
    try {
      const res = spawnSync(process.execPath, ['scripts/install.js'], { cwd: dir, env: envWithoutSwitch({ MMZOO_OPENBLAS_INCLUDE: path.join(dir, 'nowhere') }), encoding: 'utf8' });
      expect(res.status).toBe(0);
      expect(res.stdout).toMatch(/addon not built \(OpenBLAS headers \(cblas\.h\) not found; on Debian: apt-get install libopenblas-dev/);
      const status = JSON.parse(fs.readFileSync(path.join(dir, 'build', 'status.json'), 'utf8'));
      expect(status.ok).toBe(false);
      // at run time the backend reports that reason (the addon module alone: no tfjs needed)
      const probe = `try { require(${JSON.stringify(path.join(dir, 'src', 'addon.ts'))}).loadAddon(); } catch (e) { console.log(e.message); }`;
      const msg = execFileSync(TSX, ['-e', probe], { cwd: ROOT, env: envWithoutSwitch({}), encoding: 'utf8' }).trim();
      expect(msg).toBe(`addon not built: ${status.reason}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the install step exits 0 when the compiler fails', () => {
    const dir = packageCopy();
    try {
      const res = spawnSync(process.execPath, ['scripts/install.js'], { cwd: dir, env: envWithoutSwitch({ CC: '/bin/false', CXX: '/bin/false' }), encoding: 'utf8', timeout: 300000 });
      expect(res.status).toBe(0);
      const status = JSON.parse(fs.readFileSync(path.join(dir, 'build', 'status.json'), 'utf8'));
      expect(status.ok).toBe(false);
      expect(status.reason).toMatch(/^(node-gyp rebuild failed|OpenBLAS headers|node-gyp not found|Node headers)/);
      expect(fs.existsSync(path.join(dir, 'build', 'Release', 'mmzoo_native.node'))).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
