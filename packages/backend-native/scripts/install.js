#!/usr/bin/env node
/**
 * Install step of @mmzoo/backend-native: builds the Node-API addon with node-gyp against the installed Node
 * headers and the system OpenBLAS. It never fails the install: when the headers, a compiler or node-gyp are
 * missing, or the build fails, it writes the reason to build/status.json and exits 0; the backend then reports
 * that reason at run time and mmzoo falls back to the wasm backend.
 *
 * Environment:
 *   MMZOO_NATIVE=0               skip the build (and disable the backend at run time)
 *   MMZOO_OPENBLAS_INCLUDE=DIR   directory holding OpenBLAS' cblas.h (default: searched, see CANDIDATES)
 *   MMZOO_OPENBLAS_LIB=FLAGS     linker flags for OpenBLAS (default -lopenblas)
 *   MMZOO_NATIVE_MARCH=ARCH      -march for the kernels (default native: the build machine's CPU; '' for none)
 *   MMZOO_NATIVE_BUILD_TIMEOUT_S build time limit in seconds (default 600)
 */
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const ROOT = path.resolve(__dirname, '..');
const BUILD = path.join(ROOT, 'build');
const STATUS = path.join(BUILD, 'status.json');
const LOG = path.join(BUILD, 'build-log.txt');

function writeStatus(status) {
  fs.mkdirSync(BUILD, { recursive: true });
  fs.writeFileSync(STATUS, JSON.stringify({ ...status, at: new Date().toISOString() }, null, 2) + '\n');
}

function finish(ok, reason, { keepBuild = false } = {}) {
  // a failed install leaves no addon behind (an older build would contradict the recorded reason)
  if (!ok && !keepBuild) fs.rmSync(path.join(BUILD, 'Release'), { recursive: true, force: true });
  writeStatus({ ok, reason });
  const line = ok ? '@mmzoo/backend-native: addon built' : `@mmzoo/backend-native: addon not built (${reason}); the native backend is unavailable, mmzoo falls back to wasm`;
  console.log(line);
  process.exit(0);
}

/** Directories searched for OpenBLAS' cblas.h, most specific first. */
function candidates() {
  const arch = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu', ppc64: 'powerpc64le-linux-gnu', s390x: 's390x-linux-gnu' }[process.arch];
  const dirs = [];
  if (process.env.MMZOO_OPENBLAS_INCLUDE) return [process.env.MMZOO_OPENBLAS_INCLUDE];
  if (arch) dirs.push(`/usr/include/${arch}/openblas-pthread`, `/usr/include/${arch}/openblas-openmp`, `/usr/include/${arch}/openblas-serial`);
  dirs.push('/usr/include/openblas', '/usr/local/include/openblas', '/opt/OpenBLAS/include');
  if (arch) dirs.push(`/usr/include/${arch}`);
  dirs.push('/usr/include', '/usr/local/include');
  return dirs;
}

/** node-gyp's entry script: npm's own (set for lifecycle scripts), an installed one, or the one beside npm. */
function findNodeGyp() {
  const tries = [];
  if (process.env.npm_config_node_gyp) tries.push(process.env.npm_config_node_gyp);
  try {
    tries.push(require.resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    /* not installed as a package */
  }
  if (process.env.npm_execpath) tries.push(path.join(path.dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  tries.push(path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  return tries.find((p) => fs.existsSync(p));
}

/** The prefix whose include/node holds this Node's headers (so node-gyp never downloads them), if any. */
function findNodeDir() {
  const fromNpm = process.env.npm_config_nodedir;
  const prefixes = [fromNpm, path.resolve(path.dirname(process.execPath), '..')].filter(Boolean);
  return prefixes.find((p) => fs.existsSync(path.join(p, 'include', 'node', 'node_api.h')));
}

function lastErrorLine(text) {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  const err = lines.find((l) => /error|not found|No such file|cannot find/i.test(l) && !/^gyp (info|ERR! (stack|System|command|cwd|node -v|node-gyp -v|not ok))/.test(l));
  return (err ?? lines[lines.length - 1] ?? 'no output').slice(0, 300);
}

const LOCK = path.join(ROOT, '.build-lock');

/**
 * npm may run this script twice at once for a workspace package (its folder and its node_modules link): the second
 * run waits for the first and keeps its result instead of cleaning the build folder under it.
 */
function acquireLock(timeoutS) {
  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    try {
      fs.mkdirSync(LOCK);
      process.on('exit', () => fs.rmSync(LOCK, { recursive: true, force: true }));
      return true;
    } catch (e) {
      if (e.code !== 'EEXIST') return true; // cannot lock (read-only folder?): build anyway
      const age = Date.now() - fs.statSync(LOCK, { throwIfNoEntry: false })?.mtimeMs;
      if (age > timeoutS * 1000) fs.rmSync(LOCK, { recursive: true, force: true });
      else if (Date.now() > deadline) return false;
      else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250);
    }
  }
}

function main() {
  if (process.env.MMZOO_NATIVE === '0') finish(false, 'skipped: MMZOO_NATIVE=0 at install time');
  if (process.platform === 'win32') finish(false, 'not supported on Windows');
  const include = candidates().find((d) => fs.existsSync(path.join(d, 'cblas.h')));
  if (!include) finish(false, 'OpenBLAS headers (cblas.h) not found; on Debian: apt-get install libopenblas-dev, then npm rebuild @mmzoo/backend-native');
  const nodeGyp = findNodeGyp();
  if (!nodeGyp) finish(false, 'node-gyp not found');
  const nodedir = findNodeDir();
  if (!nodedir) finish(false, `Node headers (include/node/node_api.h) not found beside ${process.execPath}; set npm's nodedir`);
  const env = { ...process.env, MMZOO_OPENBLAS_INCLUDE: include, npm_config_nodedir: nodedir };
  const timeoutS = Number(process.env.MMZOO_NATIVE_BUILD_TIMEOUT_S ?? 600);
  const startedAt = Date.now();
  if (!acquireLock(timeoutS)) finish(false, `another build of this package held ${LOCK} for ${timeoutS} s`, { keepBuild: true });
  try {
    const prev = JSON.parse(fs.readFileSync(STATUS, 'utf8'));
    // a concurrent run finished while this one waited for the lock: keep its result
    if (Date.parse(prev.at) >= startedAt) finish(prev.ok, prev.reason, { keepBuild: true });
  } catch {
    /* no previous status */
  }
  const res = spawnSync(process.execPath, [nodeGyp, 'rebuild', `--nodedir=${nodedir}`, '--jobs=2'], {
    cwd: ROOT, env, encoding: 'utf8', timeout: timeoutS * 1000, maxBuffer: 64 * 1024 * 1024,
  });
  fs.mkdirSync(BUILD, { recursive: true });
  fs.writeFileSync(LOG, `$ node-gyp rebuild (cblas.h from ${include}, headers from ${nodedir})\n${res.stdout ?? ''}\n${res.stderr ?? ''}\n`);
  if (res.error) finish(false, `node-gyp could not run: ${res.error.message}`);
  if (res.status !== 0) finish(false, `node-gyp rebuild failed (exit ${res.status}): ${lastErrorLine(`${res.stderr}\n${res.stdout}`)}; log: ${LOG}`);
  if (!fs.existsSync(path.join(BUILD, 'Release', 'mmzoo_native.node'))) finish(false, 'node-gyp succeeded but build/Release/mmzoo_native.node is missing');
  finish(true);
}

try {
  main();
} catch (e) {
  try {
    writeStatus({ ok: false, reason: `install script error: ${e && e.message}` });
  } catch {
    /* even the status cannot be written: still never fail the install */
  }
  console.log(`@mmzoo/backend-native: addon not built (${e && e.message})`);
  process.exit(0);
}
