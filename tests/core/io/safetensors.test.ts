import * as fs from 'fs';
import * as path from 'path';
import {
  bf16BitsToFloat32,
  f16BitsToFloat32,
  float32ToBf16Bits,
  float32ToF16Bits,
  int64ToInt32,
  int64ToNumbers,
  parseSafetensors,
  parseSafetensorsWithMetadata,
  serializeSafetensors,
  type RawTensor,
} from '@mmzoo/core/io/safetensors';

/** Builds a file from a header JSON text and raw buffer bytes (test helper, independent of the writer). */
function buildFile(headerText: string, buffer: number[] | Uint8Array): Uint8Array {
  const header = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + header.length + buffer.length);
  let n = header.length;
  for (let i = 0; i < 8; i++) {
    out[i] = n % 256;
    n = Math.floor(n / 256);
  }
  out.set(header, 8);
  out.set(buffer, 8 + header.length);
  return out;
}

function entry(dtype: string, shape: unknown[], begin: number, end: number): Record<string, unknown> {
  return { dtype, shape, data_offsets: [begin, end] };
}

describe('parseSafetensors on a hand-built file', () => {
  // Header written by hand (unpadded, odd length, so the buffer starts unaligned); the bytes below are the
  // little-endian encodings worked out by hand from the IEEE 754 / bfloat16 / two's complement layouts.
  const header =
    '{"__metadata__":{"format":"pt","note":"hand!"},' +
    '"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
    '"b":{"dtype":"I64","shape":[],"data_offsets":[8,16]},' +
    '"c":{"dtype":"F16","shape":[1,2],"data_offsets":[16,20]},' +
    '"d":{"dtype":"BF16","shape":[1],"data_offsets":[20,22]},' +
    '"e":{"dtype":"BOOL","shape":[2],"data_offsets":[22,24]},' +
    '"f":{"dtype":"I32","shape":[1],"data_offsets":[24,28]},' +
    '"g":{"dtype":"U8","shape":[0,3],"data_offsets":[28,28]},' +
    '"h":{"dtype":"I8","shape":[2],"data_offsets":[28,30]},' +
    '"i":{"dtype":"I16","shape":[1],"data_offsets":[30,32]},' +
    '"j":{"dtype":"F64","shape":[1],"data_offsets":[32,40]}}';
  const buffer = [
    0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x00, 0xc0, // a: 1.5 = 0x3fc00000, -2 = 0xc0000000
    0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // b: -3
    0x00, 0x3c, 0x00, 0xb8, //                         c: 1.0 = 0x3c00, -0.5 = 0xb800
    0x49, 0x40, //                                     d: 3.140625 = 0x4049
    0x01, 0x00, //                                     e: true, false
    0x00, 0x01, 0x00, 0x00, //                         f: 256
    0xff, 0x80, //                                     h: -1, -128
    0x01, 0x80, //                                     i: 0x8001 = -32767
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0xbf, // j: -1.0 = 0xbff0000000000000
  ];
  const bytes = buildFile(header, buffer);

  it('decodes every dtype, shape and the metadata', () => {
    expect(header.length % 2).toBe(1);
    const { tensors, metadata } = parseSafetensorsWithMetadata(bytes);
    expect(metadata).toEqual({ format: 'pt', note: 'hand!' });
    expect([...tensors.keys()]).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j']);
    const t = (k: string): RawTensor => tensors.get(k)!;
    expect(t('a')).toEqual({ dtype: 'F32', shape: [2], data: new Float32Array([1.5, -2]) });
    expect(t('b').shape).toEqual([]);
    expect(t('b').data).toEqual(new BigInt64Array([-3n]));
    expect(t('c')).toEqual({ dtype: 'F16', shape: [1, 2], data: new Float32Array([1, -0.5]) });
    expect(t('d')).toEqual({ dtype: 'BF16', shape: [1], data: new Float32Array([3.140625]) });
    expect(t('e')).toEqual({ dtype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]) });
    expect(t('f')).toEqual({ dtype: 'I32', shape: [1], data: new Int32Array([256]) });
    expect(t('g')).toEqual({ dtype: 'U8', shape: [0, 3], data: new Uint8Array(0) });
    expect(t('h')).toEqual({ dtype: 'I8', shape: [2], data: new Int8Array([-1, -128]) });
    expect(t('i')).toEqual({ dtype: 'I16', shape: [1], data: new Int16Array([-32767]) });
    expect(t('j')).toEqual({ dtype: 'F64', shape: [1], data: new Float64Array([-1]) });
    expect(parseSafetensors(bytes).get('a')!.data).toEqual(new Float32Array([1.5, -2]));
  });

  it('copies the data out of the input', () => {
    const copy = bytes.slice();
    const a = parseSafetensors(copy).get('a')!;
    copy.fill(0);
    expect(a.data).toEqual(new Float32Array([1.5, -2]));
  });

  it('reads from a view into a larger buffer (e.g. a Node Buffer from a pool)', () => {
    const big = new Uint8Array(bytes.length + 13);
    big.set(bytes, 5);
    const view = big.subarray(5, 5 + bytes.length);
    expect(parseSafetensors(view).get('j')!.data).toEqual(new Float64Array([-1]));
    expect(parseSafetensors(Buffer.from(bytes)).get('a')!.data).toEqual(new Float32Array([1.5, -2]));
  });
});

describe('serializeSafetensors round trip', () => {
  const tensors = new Map<string, RawTensor>([
    ['weight', { dtype: 'F32', shape: [2, 3], data: new Float32Array([1, -2, 3.25, 0, 1e-8, -7]) }],
    ['scale', { dtype: 'F32', shape: [], data: new Float32Array([2.5]) }],
    ['half', { dtype: 'F16', shape: [3], data: new Float32Array([1, -0.5, 65504]) }],
    ['brain', { dtype: 'BF16', shape: [2], data: new Float32Array([3.140625, -256]) }],
    ['ids', { dtype: 'I64', shape: [2, 2], data: new BigInt64Array([0n, 1n, -(2n ** 40n), 2n ** 62n]) }],
    ['count', { dtype: 'I64', shape: [], data: new BigInt64Array([7n]) }],
    ['pos', { dtype: 'I32', shape: [4], data: new Int32Array([0, -1, 2147483647, -2147483648]) }],
    ['mask', { dtype: 'BOOL', shape: [3], data: new Uint8Array([1, 0, 1]) }],
    ['bytes', { dtype: 'U8', shape: [2], data: new Uint8Array([0, 255]) }],
    ['small', { dtype: 'I8', shape: [1], data: new Int8Array([-100]) }],
    ['short', { dtype: 'I16', shape: [1], data: new Int16Array([30000]) }],
    ['double', { dtype: 'F64', shape: [2], data: new Float64Array([Math.PI, -1e300]) }],
    ['empty', { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) }],
  ]);

  it('returns every tensor unchanged, with empty metadata', () => {
    const bytes = serializeSafetensors(tensors, {});
    const back = parseSafetensorsWithMetadata(bytes, 'roundtrip');
    expect(back.metadata).toEqual({});
    expect(back.tensors.size).toBe(tensors.size);
    for (const [name, t] of tensors) expect(back.tensors.get(name)).toEqual(t);
  });

  it('accepts a record, writes metadata, omits it when not given', () => {
    const rec = { x: { dtype: 'F32', shape: [], data: new Float32Array([1]) } as RawTensor };
    expect(parseSafetensorsWithMetadata(serializeSafetensors(rec, { epoch: '3', model: 'clip' })).metadata).toEqual({
      epoch: '3',
      model: 'clip',
    });
    const plain = serializeSafetensors(rec);
    expect(new TextDecoder().decode(plain)).not.toContain('__metadata__');
    expect(parseSafetensorsWithMetadata(plain).metadata).toEqual({});
  });

  it('pads the header with spaces to 8-byte alignment and aligns each tensor to its element size', () => {
    const bytes = serializeSafetensors(tensors, { a: 'b' });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(text.trimEnd().endsWith('}')).toBe(true);
    expect(/^ *$/.test(text.slice(text.trimEnd().length))).toBe(true);
    const header = JSON.parse(text) as Record<string, { dtype: string; data_offsets: [number, number] }>;
    const sizes: Record<string, number> = { F64: 8, I64: 8, F32: 4, I32: 4, F16: 2, BF16: 2, I16: 2, I8: 1, U8: 1, BOOL: 1 };
    for (const [name, e] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      expect(e.data_offsets[0] % sizes[e.dtype]).toBe(0);
    }
    expect(Object.keys(header)[0]).toBe('__metadata__');
  });

  it('rounds F16 / BF16 to nearest even when writing, and converts other numeric arrays', () => {
    const bytes = serializeSafetensors({
      h: { dtype: 'F16', shape: [2], data: new Float32Array([1 + 2 ** -11, 1 + 3 * 2 ** -11]) },
      i: { dtype: 'I32', shape: [2], data: new Float32Array([3, -4]) },
      l: { dtype: 'I64', shape: [1], data: new Int32Array([-9]) },
    });
    const back = parseSafetensors(bytes);
    expect(back.get('h')!.data).toEqual(new Float32Array([1, 1 + 2 ** -9]));
    expect(back.get('i')!.data).toEqual(new Int32Array([3, -4]));
    expect(back.get('l')!.data).toEqual(new BigInt64Array([-9n]));
  });

  it('rejects data that does not fit', () => {
    const f = (t: RawTensor) => () => serializeSafetensors({ bad: t });
    expect(f({ dtype: 'F32', shape: [3], data: new Float32Array(2) })).toThrow(/"bad".*2 elements.*needs 3/);
    expect(f({ dtype: 'I8', shape: [1], data: new Int32Array([200]) })).toThrow(/"bad".*200.*I8/);
    expect(f({ dtype: 'I32', shape: [1], data: new Float32Array([0.5]) })).toThrow(/"bad".*0.5/);
    expect(f({ dtype: 'BOOL', shape: [1], data: new Uint8Array([2]) })).toThrow(/"bad".*BOOL/);
    expect(f({ dtype: 'F32', shape: [1], data: new BigInt64Array(1) })).toThrow(/"bad".*I64/);
    expect(f({ dtype: 'F32', shape: [-1], data: new Float32Array(0) })).toThrow(/"bad".*shape/);
    expect(f({ dtype: 'X' as never, shape: [1], data: new Float32Array(1) })).toThrow(/"bad".*unknown dtype/);
    expect(() => serializeSafetensors({ __metadata__: { dtype: 'F32', shape: [], data: new Float32Array(1) } })).toThrow(
      /reserved/,
    );
  });
});

describe('parse errors name the source and the tensor', () => {
  const ok = () => buildFile('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', new Uint8Array(8));
  const src = '/models/x.safetensors';

  it('accepts the baseline', () => {
    expect(parseSafetensors(ok(), src).get('w')!.shape).toEqual([2]);
  });

  it('file shorter than 8 bytes', () => {
    expect(() => parseSafetensors(new Uint8Array(5), src)).toThrow(
      'safetensors /models/x.safetensors: file is 5 bytes, shorter than the 8-byte header length field',
    );
  });

  it('header length beyond the file', () => {
    const b = ok();
    b[0] = 0xff;
    b[5] = 0x01;
    expect(() => parseSafetensors(b, src)).toThrow(/^safetensors \/models\/x\.safetensors: header length \d+ is beyond the file size/);
  });

  it('truncated byte buffer', () => {
    const b = ok();
    expect(() => parseSafetensors(b.subarray(0, b.length - 3), src)).toThrow(
      /x\.safetensors: tensor "w": data_offsets \[0, 8\] are out of range for a byte buffer of 5 bytes/,
    );
  });

  it('invalid JSON, invalid UTF-8, non-object header', () => {
    expect(() => parseSafetensors(buildFile('{"w": {', []), src)).toThrow(/x\.safetensors: header \(7 bytes\) is not valid JSON/);
    const bad = buildFile('{"a":1}', []);
    bad[10] = 0xff;
    expect(() => parseSafetensors(bad, src)).toThrow(/not valid UTF-8/);
    expect(() => parseSafetensors(buildFile('[1]', []), src)).toThrow(/header is not a JSON object/);
  });

  it('unknown dtype', () => {
    const b = buildFile(JSON.stringify({ w: entry('F8_E4M3', [2], 0, 2) }), new Uint8Array(2));
    expect(() => parseSafetensors(b, src)).toThrow(/x\.safetensors: tensor "w": unknown dtype "F8_E4M3"/);
  });

  it('offsets that do not match the shape', () => {
    const b = buildFile(JSON.stringify({ w: entry('F32', [3], 0, 8) }), new Uint8Array(8));
    expect(() => parseSafetensors(b, src)).toThrow(
      /tensor "w": data_offsets \[0, 8\] span 8 bytes but dtype F32 with shape \[3\] needs 12/,
    );
  });

  it('bad dims and offsets', () => {
    const p = (h: object, n: number) => () => parseSafetensors(buildFile(JSON.stringify(h), new Uint8Array(n)), src);
    expect(p({ w: entry('F32', [-1], 0, 0) }, 0)).toThrow(/tensor "w": shape \[-1\] has a dim that is not a non-negative integer/);
    expect(p({ w: entry('F32', [1.5], 0, 4) }, 4)).toThrow(/tensor "w".*not a non-negative integer: 1.5/);
    expect(p({ w: entry('F32', ['2'], 0, 8) }, 8)).toThrow(/tensor "w".*"2"/);
    expect(p({ w: entry('F32', [1], 4, 0) }, 4)).toThrow(/tensor "w": data_offsets \[4, 0\] are out of range/);
    expect(p({ w: { dtype: 'F32', shape: [1], data_offsets: [0] } }, 4)).toThrow(/tensor "w": data_offsets is not a pair/);
    expect(p({ w: { dtype: 'F32', data_offsets: [0, 4] } }, 4)).toThrow(/tensor "w": shape is not an array/);
    expect(p({ w: 3 }, 0)).toThrow(/tensor "w": entry is not an object/);
    expect(p({ __metadata__: { a: 1 } }, 0)).toThrow(/__metadata__\.a is not a string/);
  });

  it('overlapping, gapped or partial coverage of the buffer', () => {
    const p = (h: object, n: number) => () => parseSafetensors(buildFile(JSON.stringify(h), new Uint8Array(n)), src);
    expect(p({ a: entry('F32', [2], 0, 8), b: entry('F32', [2], 4, 12) }, 12)).toThrow(
      /tensor "b" \(bytes \[4, 12\]\) overlaps tensor "a"/,
    );
    expect(p({ a: entry('F32', [1], 0, 4), b: entry('F32', [1], 8, 12) }, 12)).toThrow(
      /gap in the byte buffer: bytes \[4, 8\) before tensor "b"/,
    );
    expect(p({ a: entry('F32', [1], 0, 4) }, 12)).toThrow(/tensors cover 4 bytes of the 12-byte buffer/);
    expect(p({ a: entry('F32', [1], 4, 8) }, 8)).toThrow(/gap in the byte buffer: bytes \[0, 4\) before tensor "a"/);
  });

  it('defaults the source to (bytes)', () => {
    expect(() => parseSafetensors(new Uint8Array(0))).toThrow(/^safetensors \(bytes\): file is 0 bytes/);
  });
});

describe('16-bit float conversions', () => {
  it('encodes known F16 values with round to nearest even', () => {
    const cases: [number, number][] = [
      [1, 0x3c00],
      [-2, 0xc000],
      [0.5, 0x3800],
      [-0, 0x8000],
      [65504, 0x7bff],
      [65519, 0x7bff],
      [65520, 0x7c00],
      [Infinity, 0x7c00],
      [-Infinity, 0xfc00],
      [2 ** -14, 0x0400],
      [2 ** -24, 0x0001],
      [2 ** -25, 0x0000], // tie, rounds to even (0)
      [1.5 * 2 ** -25, 0x0001],
      [3 * 2 ** -25, 0x0002], // tie between 1 and 2 subnormal steps -> even (2)
      [1 + 2 ** -11, 0x3c00], // tie -> even
      [1 + 3 * 2 ** -11, 0x3c02], // tie -> even (up)
      [2 ** -14 - 2 ** -25, 0x0400], // largest subnormal + half a step, tie -> even rounds up to the smallest normal
    ];
    const bits = float32ToF16Bits(cases.map((c) => c[0]));
    expect(Array.from(bits, (b) => b.toString(16))).toEqual(cases.map((c) => c[1].toString(16)));
    expect(float32ToF16Bits([NaN])[0] & 0x7e00).toBe(0x7e00);
  });

  it('round-trips every non-NaN F16 bit pattern', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const floats = f16BitsToFloat32(all);
    const back = float32ToF16Bits(floats);
    for (let i = 0; i < 65536; i++) {
      const isNaN16 = (i & 0x7c00) === 0x7c00 && (i & 0x3ff) !== 0;
      if (isNaN16) expect(Number.isNaN(floats[i])).toBe(true);
      else if (back[i] !== i) throw new Error(`F16 pattern ${i.toString(16)} came back as ${back[i].toString(16)}`);
    }
  });

  it('encodes and decodes known BF16 values', () => {
    expect(Array.from(float32ToBf16Bits([1, -2, 3.140625, 1 + 2 ** -8, 1 + 3 * 2 ** -8, NaN]))).toEqual([
      0x3f80, 0xc000, 0x4049, 0x3f80, 0x3f82, 0x7fc0,
    ]);
    expect(Array.from(bf16BitsToFloat32(new Uint16Array([0x3f80, 0xc000, 0x4049, 0x7f80])))).toEqual([1, -2, 3.140625, Infinity]);
  });
});

describe('int64 helpers', () => {
  it('convert in range and name the tensor out of range', () => {
    const raw: RawTensor = { dtype: 'I64', shape: [3], data: new BigInt64Array([1n, -2n, 2147483647n]) };
    expect(int64ToInt32(raw)).toEqual(new Int32Array([1, -2, 2147483647]));
    expect(int64ToNumbers(new BigInt64Array([2n ** 40n]))).toEqual([2 ** 40]);
    expect(() => int64ToInt32(new BigInt64Array([0n, 2147483648n]), 'position_ids')).toThrow(
      'position_ids: value 2147483648 at flat index 1 is outside the int32 range',
    );
    expect(() => int64ToNumbers(new BigInt64Array([2n ** 60n]), 'x')).toThrow(/x: value 1152921504606846976 at flat index 0/);
    expect(() => int64ToInt32({ dtype: 'F32', shape: [1], data: new Float32Array(1) })).toThrow(/expected an I64 tensor/);
  });
});

const fixture = path.join(__dirname, '..', '..', 'fixtures', 'clip-tiny', 'weights.safetensors');
const withFixture = fs.existsSync(fixture) ? it : it.skip;

describe('reference fixture (tests/fixtures/clip-tiny)', () => {
  withFixture('parses the open_clip checkpoint and round-trips it', () => {
    const bytes = new Uint8Array(fs.readFileSync(fixture));
    const { tensors, metadata } = parseSafetensorsWithMetadata(bytes, fixture);
    expect(tensors.size).toBe(62);
    expect(metadata.format).toBe('pt');
    const pos = tensors.get('positional_embedding')!;
    expect(pos.dtype).toBe('F32');
    expect(pos.shape).toEqual([16, 48]);
    // values read with Python's struct/array module from the same file
    expect(pos.data[0]).toBeCloseTo(-0.0003224913962185383, 12);
    expect(pos.data[1]).toBeCloseTo(-0.027135882526636124, 12);
    expect(pos.data[16 * 48 - 1]).toBeCloseTo(0.005879923235625029, 12);
    expect(tensors.get('logit_scale')!.shape).toEqual([]);
    expect(tensors.get('logit_scale')!.data[0]).toBeCloseTo(2.6608450412750244, 10);
    expect(tensors.get('visual.proj')!.shape).toEqual([64, 32]);
    const again = parseSafetensorsWithMetadata(serializeSafetensors(tensors, metadata));
    expect(again.metadata).toEqual(metadata);
    for (const [k, t] of tensors) expect(again.tensors.get(k)).toEqual(t);
  });
});
