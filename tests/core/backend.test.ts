import { tf, backendHasKernel } from '@mmzoo/core';
import { BACKEND_NAMES, parseBackendName, initBackend } from '@mmzoo/train';

/** Whether `pkg` can be resolved from core (tfjs-node is an optional dependency that cannot install offline). */
function installed(pkg: string): boolean {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}
const HAS_TF_NODE = installed('@tensorflow/tfjs-node') || installed('@tensorflow/tfjs-node-gpu');

describe('backend selection', () => {
  const savedEnv = process.env.MMZOO_BACKEND;
  beforeEach(() => {
    delete process.env.MMZOO_BACKEND;
  });
  afterAll(async () => {
    if (savedEnv === undefined) delete process.env.MMZOO_BACKEND;
    else process.env.MMZOO_BACKEND = savedEnv;
    await tf.setBackend('cpu');
  });

  test('the names, in preference order', () => {
    expect([...BACKEND_NAMES]).toEqual(['tensorflow', 'native', 'wasm', 'cpu']);
  });

  test('parseBackendName accepts the valid names and lists them in its error', () => {
    for (const n of BACKEND_NAMES) expect(parseBackendName(n, 'test')).toBe(n);
    expect(() => parseBackendName('gpu', 'config runtime.backend')).toThrow(
      "config runtime.backend: unknown backend 'gpu'; valid names: tensorflow, native, wasm, cpu",
    );
    expect(() => parseBackendName('CPU', '--backend')).toThrow(/valid names: tensorflow, native, wasm, cpu/);
  });

  test("initBackend('cpu') selects cpu and logs one line", async () => {
    const lines: string[] = [];
    const info = await initBackend('cpu', (l) => lines.push(l));
    expect(info).toEqual({ name: 'cpu', source: 'request', unavailable: [] });
    expect(tf.getBackend()).toBe('cpu');
    expect(lines).toEqual(['backend: cpu (request)']);
  });

  (HAS_TF_NODE ? test.skip : test)("requesting 'tensorflow' throws a clear error when tfjs-node is not installed", async () => {
    await expect(initBackend('tensorflow')).rejects.toThrow(/backend 'tensorflow' is not available: @tensorflow\/tfjs-node-gpu: .*@tensorflow\/tfjs-node: /);
  });

  test('an unknown requested name throws, listing the valid names', async () => {
    await expect(initBackend('gpu')).rejects.toThrow("backend: unknown backend 'gpu'; valid names: tensorflow, native, wasm, cpu");
  });

  test('MMZOO_BACKEND=wasm is honoured when nothing is requested; an explicit request wins over it', async () => {
    process.env.MMZOO_BACKEND = 'wasm';
    const lines: string[] = [];
    const info = await initBackend(undefined, (l) => lines.push(l));
    expect(info.name).toBe('wasm');
    expect(info.source).toBe('env');
    expect(tf.getBackend()).toBe('wasm');
    expect(lines).toEqual(['backend: wasm (env)']);
    const req = await initBackend('cpu');
    expect([req.name, req.source]).toEqual(['cpu', 'request']);
    expect(tf.getBackend()).toBe('cpu');
  });

  test('an invalid MMZOO_BACKEND names the variable', async () => {
    process.env.MMZOO_BACKEND = 'cuda';
    await expect(initBackend()).rejects.toThrow(/MMZOO_BACKEND: unknown backend 'cuda'; valid names/);
  });

  test('automatic choice: the first backend that loads, with the skipped ones and their reasons', async () => {
    const lines: string[] = [];
    const info = await initBackend(undefined, (l) => lines.push(l));
    expect(info.source).toBe('auto');
    expect(tf.getBackend()).toBe(info.name);
    const order = BACKEND_NAMES.indexOf(info.name);
    expect(info.unavailable.map((u) => u.name)).toEqual(BACKEND_NAMES.slice(0, order));
    for (const u of info.unavailable) expect(u.reason.length).toBeGreaterThan(0);
    if (!HAS_TF_NODE) expect(info.unavailable[0]?.name).toBe('tensorflow');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^backend: ${info.name} \\(auto\\)`));
    if (info.unavailable.length) expect(lines[0]).toContain('unavailable: tensorflow (');
  });

  test('backendHasKernel reports the wasm gaps listed in DESIGN.md', async () => {
    await initBackend('wasm');
    for (const k of ['UnsortedSegmentSum', 'Conv2DBackpropFilter', 'Einsum']) expect(backendHasKernel(k)).toBe(false);
    expect(backendHasKernel('BatchMatMul')).toBe(true);
    await initBackend('cpu');
    expect(backendHasKernel('UnsortedSegmentSum')).toBe(true);
  });
});
