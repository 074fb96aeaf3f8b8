import { tf } from '@mmzoo/core/tf';
import type { Variable } from '@mmzoo/core/tf';
import type { RawTensor } from '@mmzoo/core/io/safetensors';
import { fromTensor, loadStateDict, toTensor } from '@mmzoo/core/io/state-dict';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function f32(shape: number[], values: number[]): RawTensor {
  return { dtype: 'F32', shape, data: new Float32Array(values) };
}

describe('toTensor / fromTensor', () => {
  it('maps dtypes and keeps 0-d shapes', () => {
    const a = toTensor(f32([], [2.5]));
    expect(a.shape).toEqual([]);
    expect(a.dtype).toBe('float32');
    expect(fromTensor(a)).toEqual(f32([], [2.5]));
    const h = toTensor({ dtype: 'F16', shape: [2], data: new Float32Array([1, -0.5]) });
    expect(h.dtype).toBe('float32');
    const d = toTensor({ dtype: 'F64', shape: [1], data: new Float64Array([0.1]) });
    expect(d.dataSync()[0]).toBeCloseTo(0.1, 7);
    const i = toTensor({ dtype: 'I64', shape: [1, 2], data: new BigInt64Array([3n, -4n]) });
    expect(i.dtype).toBe('int32');
    expect(fromTensor(i)).toEqual({ dtype: 'I32', shape: [1, 2], data: new Int32Array([3, -4]) });
    const u = toTensor({ dtype: 'U8', shape: [2], data: new Uint8Array([255, 0]) });
    expect(Array.from(u.dataSync())).toEqual([255, 0]);
    const b = tf.tensor([true, false], [2], 'bool');
    expect(fromTensor(b)).toEqual({ dtype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]) });
    tf.dispose([a, h, d, i, u, b]);
  });

  it('range-checks I64 and rejects unsupported tensor dtypes', () => {
    expect(() => toTensor({ dtype: 'I64', shape: [1], data: new BigInt64Array([2n ** 33n]) }, 'ids')).toThrow(
      /"ids": value 8589934592 .* int32 range/,
    );
    const c = tf.complex([1], [2]);
    expect(() => fromTensor(c, 'z')).toThrow(/"z" has dtype complex64/);
    c.dispose();
  });
});

describe('loadStateDict', () => {
  let vars: Map<string, Variable>;
  beforeEach(() => {
    vars = new Map([
      ['w', tf.variable(tf.zeros([2, 2]), true, 'sd_w')],
      ['b', tf.variable(tf.zeros([2]), true, 'sd_b')],
      ['step', tf.variable(tf.scalar(0, 'int32'), false, 'sd_step')],
    ]);
  });
  afterEach(() => vars.forEach((v) => v.dispose()));

  const full = (): Map<string, RawTensor> =>
    new Map<string, RawTensor>([
      ['w', f32([2, 2], [1, 2, 3, 4])],
      ['b', f32([2], [5, 6])],
      ['step', { dtype: 'I64', shape: [], data: new BigInt64Array([9n]) }],
    ]);

  it('assigns by name without leaking tensors', () => {
    const before = tf.memory().numTensors;
    const r = loadStateDict(vars, full());
    expect(r).toEqual({ loaded: ['w', 'b', 'step'], missing: [], unexpected: [], skipped: [] });
    expect(Array.from(vars.get('w')!.dataSync())).toEqual([1, 2, 3, 4]);
    expect(vars.get('step')!.dataSync()[0]).toBe(9);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('dryRun checks and reports as a load would, and assigns nothing', () => {
    const r = loadStateDict(vars, full(), { dryRun: true });
    expect(r).toEqual({ loaded: ['w', 'b', 'step'], missing: [], unexpected: [], skipped: [] });
    expect(Array.from(vars.get('w')!.dataSync())).toEqual([0, 0, 0, 0]);
    expect(vars.get('step')!.dataSync()[0]).toBe(0);
    const src = full();
    src.set('w', f32([4], [9, 9, 9, 9]));
    expect(() => loadStateDict(vars, src, { dryRun: true })).toThrow('loadStateDict: shape mismatch for 1: "w": checkpoint [4] vs variable [2, 2]');
  });

  it('casts integer tensors into float variables', () => {
    const src = full();
    src.set('b', { dtype: 'I32', shape: [2], data: new Int32Array([7, 8]) });
    loadStateDict(vars, src);
    expect(Array.from(vars.get('b')!.dataSync())).toEqual([7, 8]);
    expect(vars.get('b')!.dtype).toBe('float32');
  });

  it('names the tensor and both shapes on a mismatch and assigns nothing', () => {
    const src = full();
    src.set('w', f32([4], [9, 9, 9, 9]));
    src.set('b', f32([3], [9, 9, 9]));
    expect(() => loadStateDict(vars, src)).toThrow(
      'loadStateDict: shape mismatch for 2: "w": checkpoint [4] vs variable [2, 2], "b": checkpoint [3] vs variable [2]',
    );
    expect(Array.from(vars.get('w')!.dataSync())).toEqual([0, 0, 0, 0]);
    expect(vars.get('step')!.dataSync()[0]).toBe(0);
  });

  it('rejects float data for an int32 variable', () => {
    const src = full();
    src.set('step', f32([], [1.5]));
    expect(() => loadStateDict(vars, src)).toThrow(/dtype mismatch for 1: "step": checkpoint dtype F32 into an int32 variable/);
  });

  it('strict mode lists missing and unexpected names; non-strict reports them', () => {
    const src = full();
    src.delete('b');
    src.set('extra.weight', f32([1], [0]));
    expect(() => loadStateDict(vars, src)).toThrow(
      'loadStateDict: missing 1 (in the model, not the checkpoint): b; unexpected 1 (in the checkpoint, not the model): extra.weight',
    );
    const r = loadStateDict(vars, src, { strict: false });
    expect(r).toEqual({ loaded: ['w', 'step'], missing: ['b'], unexpected: ['extra.weight'], skipped: [] });
  });

  it('lists at most 10 names and counts the rest', () => {
    const src = full();
    for (let i = 0; i < 13; i++) src.set(`x${i}`, f32([1], [0]));
    expect(() => loadStateDict(vars, src)).toThrow(/unexpected 13 .*: x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, \.\.\. \(3 more\)$/);
  });

  it('renames, skips on null, and rejects two names mapped onto one', () => {
    const src = new Map<string, RawTensor>();
    for (const [k, v] of full()) src.set(`module.${k}`, v);
    src.set('module.num_batches', f32([], [0]));
    const r = loadStateDict(vars, src, {
      rename: (n) => (n === 'module.num_batches' ? null : n.replace(/^module\./, '')),
    });
    expect(r.loaded).toEqual(['w', 'b', 'step']);
    expect(r.skipped).toEqual(['module.num_batches']);
    const dup = full();
    dup.set('bias', f32([2], [0, 0]));
    expect(() => loadStateDict(vars, dup, { rename: (n) => (n === 'bias' ? 'b' : n) })).toThrow(
      /several checkpoint names renamed to one variable: "b" and "bias" -> "b"/,
    );
  });

  it('names the checkpoint name when renamed and the shapes differ', () => {
    const src = full();
    src.delete('w');
    src.set('enc.w', f32([1], [0]));
    expect(() => loadStateDict(vars, src, { rename: (n) => n.replace(/^enc\./, '') })).toThrow(
      /"w" \(checkpoint "enc.w"\): checkpoint \[1\] vs variable \[2, 2\]/,
    );
  });
});
