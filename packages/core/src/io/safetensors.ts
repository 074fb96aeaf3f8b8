/**
 * Reading and writing the safetensors format (https://github.com/huggingface/safetensors, "Format"):
 *
 * ```
 * [8 bytes]  N, little-endian unsigned 64-bit: the header length in bytes
 * [N bytes]  UTF-8 JSON header: { "<name>": { "dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end] },
 *                                 ..., "__metadata__"?: { "<key>": "<string value>" } }
 *            (may be padded at the end with spaces)
 * [rest]     the byte buffer; data_offsets are relative to its start, each tensor is row-major little-endian,
 *            the tensors cover the buffer exactly, without gaps or overlaps.
 * ```
 *
 * Browser-safe: no Node imports (file access lives in @mmzoo/train, `run/files.ts`). Decoding copies each tensor
 * out of the input, so the result does not keep the file's bytes alive and typed-array alignment never matters.
 */

/** The tensor element types this module reads and writes (safetensors' `dtype` strings). */
export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** Every {@link SafetensorsDtype}, with its element size in bytes in the file. */
export const SAFETENSORS_DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = {
  F64: 8,
  I64: 8,
  F32: 4,
  I32: 4,
  F16: 2,
  BF16: 2,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** The typed arrays a {@link RawTensor} may hold. */
export type TypedArray = Float32Array | Float64Array | Int32Array | Int16Array | Int8Array | Uint8Array | BigInt64Array;

/**
 * One tensor as stored in a safetensors file, independent of tfjs.
 *
 * `data` is row-major with `product(shape)` elements (1 for a 0-d tensor, `shape = []`). What the parser
 * returns for each dtype, and what the writer accepts:
 * - `F32`, `F16`, `BF16`: Float32Array (16-bit floats are widened exactly; writing rounds to nearest even);
 * - `F64`: Float64Array (kept at full precision);
 * - `I64`: BigInt64Array (see {@link int64ToInt32} / {@link int64ToNumbers} to convert with a range check);
 * - `I32`: Int32Array, `I16`: Int16Array, `I8`: Int8Array, `U8` and `BOOL`: Uint8Array (BOOL holds 0/1).
 * The writer also accepts any other numeric typed array for a numeric dtype when every value fits
 * (integers in range for integer dtypes, 0/1 for BOOL).
 */
export interface RawTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: TypedArray;
}

/** A parsed safetensors file: its tensors (in header order) and its `__metadata__` (`{}` when absent). */
export interface SafetensorsContents {
  tensors: Map<string, RawTensor>;
  metadata: Record<string, string>;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const METADATA_KEY = '__metadata__';

function isDtype(s: unknown): s is SafetensorsDtype {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(SAFETENSORS_DTYPE_BYTES, s);
}

function product(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Reverses the byte order of every `size`-byte element, in place (only used on big-endian hosts). */
function swapBytes(bytes: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let i = 0; i + size <= bytes.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// 16-bit floats: IEEE 754 binary16 ("F16": 1 sign, 5 exponent, 10 mantissa bits) and bfloat16 ("BF16": the
// top 16 bits of a float32).

let f16Table: Float32Array | null = null;

/** Lazily built table: all 65536 binary16 bit patterns -> float32 value (256 KiB). */
function halfTable(): Float32Array {
  if (f16Table) return f16Table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    let v: number;
    if (exp === 0) v = mant * 2 ** -24; // zero or subnormal
    else if (exp === 31) v = mant === 0 ? Infinity : NaN;
    else v = (1 + mant / 1024) * 2 ** (exp - 15);
    t[h] = sign * v;
  }
  f16Table = t;
  return t;
}

/**
 * Decodes IEEE 754 binary16 bit patterns to float32 (exact: every binary16 value is a float32).
 * @param bits `[n]` uint16 bit patterns.
 * @returns `[n]` float32 values.
 */
export function f16BitsToFloat32(bits: Uint16Array): Float32Array {
  const t = halfTable();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = t[bits[i]];
  return out;
}

/**
 * Decodes bfloat16 bit patterns to float32 (exact: the 16 low mantissa bits become zero).
 * @param bits `[n]` uint16 bit patterns.
 * @returns `[n]` float32 values.
 */
export function bf16BitsToFloat32(bits: Uint16Array): Float32Array {
  const u = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) u[i] = bits[i] << 16;
  return new Float32Array(u.buffer);
}

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** float32 bit pattern -> binary16 bit pattern, rounding to nearest even. */
function f32BitsToF16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0); // Inf, quiet NaN
  const e = exp - 127 + 15; // biased binary16 exponent
  if (e >= 31) return sign | 0x7c00; // overflow -> Inf
  if (e <= 0) {
    // binary16 subnormal or zero: value = h * 2^-24 with h = (1.mant as a 24-bit integer) >> (14 - e)
    if (e < -10) return sign; // below half the smallest subnormal
    const m = mant | 0x800000;
    const shift = 14 - e;
    let h = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (h & 1) !== 0)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) !== 0)) h++; // a carry into the exponent is still correct
  return sign | h;
}

/**
 * Encodes numbers as IEEE 754 binary16 bit patterns: values are first rounded to float32, then to the
 * nearest binary16 (ties to even); magnitudes of 65520 and above become +-Infinity; NaN stays (quiet) NaN.
 * @param values `[n]` numbers.
 * @returns `[n]` uint16 bit patterns.
 */
export function float32ToF16Bits(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    scratchF32[0] = values[i];
    out[i] = f32BitsToF16Bits(scratchU32[0]);
  }
  return out;
}

/**
 * Encodes numbers as bfloat16 bit patterns: rounded to float32, then to the nearest bfloat16 (ties to
 * even); NaN stays (quiet) NaN.
 * @param values `[n]` numbers.
 * @returns `[n]` uint16 bit patterns.
 */
export function float32ToBf16Bits(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    scratchF32[0] = values[i];
    const x = scratchU32[0];
    if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) out[i] = ((x >>> 16) & 0x8000) | 0x7fc0;
    else out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// 64-bit integers

function int64Values(data: BigInt64Array | RawTensor): BigInt64Array {
  if (data instanceof BigInt64Array) return data;
  if (!(data.data instanceof BigInt64Array)) {
    throw new Error(`expected an I64 tensor holding a BigInt64Array, got dtype ${data.dtype} holding ${data.data.constructor.name}`);
  }
  return data.data;
}

/**
 * Converts 64-bit integers (e.g. an `I64` tensor of token or position ids) to an Int32Array.
 * @param data a BigInt64Array, or a {@link RawTensor} of dtype I64.
 * @param what names the tensor in error messages.
 * @returns `[n]` int32 values, same order.
 * @throws Error naming `what`, the index and the value when a value lies outside [-2^31, 2^31 - 1].
 */
export function int64ToInt32(data: BigInt64Array | RawTensor, what = 'I64 tensor'): Int32Array {
  const v = int64Values(data);
  const out = new Int32Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (x < -2147483648n || x > 2147483647n) {
      throw new Error(`${what}: value ${x} at flat index ${i} is outside the int32 range`);
    }
    out[i] = Number(x);
  }
  return out;
}

/**
 * Converts 64-bit integers to plain numbers.
 * @param data a BigInt64Array, or a {@link RawTensor} of dtype I64.
 * @param what names the tensor in error messages.
 * @returns `[n]` numbers, same order.
 * @throws Error naming `what`, the index and the value when a value lies outside +-(2^53 - 1)
 *   (`Number.MAX_SAFE_INTEGER`), where numbers stop being exact.
 */
export function int64ToNumbers(data: BigInt64Array | RawTensor, what = 'I64 tensor'): number[] {
  const v = int64Values(data);
  const out = new Array<number>(v.length);
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (x < -max || x > max) throw new Error(`${what}: value ${x} at flat index ${i} is not a safe integer`);
    out[i] = Number(x);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Parsing

/** Turns one tensor's little-endian bytes (a private copy) into its {@link RawTensor} data array. */
function decodeData(dtype: SafetensorsDtype, bytes: Uint8Array): TypedArray {
  if (!LITTLE_ENDIAN_HOST) swapBytes(bytes, SAFETENSORS_DTYPE_BYTES[dtype]);
  const buf = bytes.buffer; // bytes is a fresh Uint8Array: offset 0, its whole buffer
  switch (dtype) {
    case 'F32':
      return new Float32Array(buf);
    case 'F64':
      return new Float64Array(buf);
    case 'F16':
      return f16BitsToFloat32(new Uint16Array(buf));
    case 'BF16':
      return bf16BitsToFloat32(new Uint16Array(buf));
    case 'I64':
      return new BigInt64Array(buf);
    case 'I32':
      return new Int32Array(buf);
    case 'I16':
      return new Int16Array(buf);
    case 'I8':
      return new Int8Array(buf);
    case 'U8':
    case 'BOOL':
      return bytes;
  }
}

function preview(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/**
 * Parses a safetensors file held in memory, with its metadata.
 *
 * Checks, each failing with an Error that starts with `safetensors <source>:` and names the tensor where
 * one is involved: file shorter than 8 bytes; header length beyond the file; header not UTF-8 or not a
 * JSON object; entry not `{dtype, shape, data_offsets}`; unknown dtype; a dim that is not a non-negative
 * integer; offsets that are not integers with `0 <= begin <= end <= buffer length`; `end - begin` not
 * equal to `product(shape) * element size`; tensors that overlap, leave gaps or do not cover the buffer;
 * `__metadata__` that is not an object of strings.
 *
 * @param bytes the whole file.
 * @param source names the file in error messages (e.g. its path); defaults to `(bytes)`.
 * @returns the tensors in header order (data decoded as documented on {@link RawTensor}) and the metadata
 *   (`{}` when the file has none).
 */
export function parseSafetensorsWithMetadata(bytes: Uint8Array, source?: string): SafetensorsContents {
  const where = `safetensors ${source ?? '(bytes)'}`;
  const fail = (msg: string): never => {
    throw new Error(`${where}: ${msg}`);
  };
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, shorter than the 8-byte header length field`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(bytes.length - 8)) {
    fail(`header length ${n} is beyond the file size (${bytes.length} bytes, so at most ${bytes.length - 8})`);
  }
  const headerLen = Number(n);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
  } catch {
    return fail(`header (${headerLen} bytes) is not valid UTF-8`);
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(`header (${headerLen} bytes) is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    fail(`header is not a JSON object but ${preview(header)}`);
  }
  const bufferStart = 8 + headerLen;
  const bufferLen = bytes.length - bufferStart;

  let metadata: Record<string, string> = {};
  const entries: { name: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        fail(`${METADATA_KEY} is not an object of strings: ${preview(value)}`);
      }
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`${METADATA_KEY}.${k} is not a string: ${preview(v)}`);
      }
      metadata = { ...(value as Record<string, string>) };
      continue;
    }
    const bad = (msg: string): never => fail(`tensor "${name}": ${msg}`);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      bad(`entry is not an object {dtype, shape, data_offsets}: ${preview(value)}`);
    }
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (!isDtype(dtype)) {
      bad(`unknown dtype ${preview(dtype)} (supported: ${Object.keys(SAFETENSORS_DTYPE_BYTES).join(', ')})`);
    }
    if (!Array.isArray(shape)) bad(`shape is not an array: ${preview(shape)}`);
    for (const d of shape as unknown[]) {
      if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
        bad(`shape ${preview(shape)} has a dim that is not a non-negative integer: ${preview(d)}`);
      }
    }
    if (!Array.isArray(offsets) || offsets.length !== 2) {
      bad(`data_offsets is not a pair [begin, end]: ${preview(offsets)}`);
    }
    const [begin, end] = offsets as unknown[];
    if (typeof begin !== 'number' || typeof end !== 'number' || !Number.isSafeInteger(begin) || !Number.isSafeInteger(end)) {
      bad(`data_offsets ${preview(offsets)} are not integers`);
    }
    const b = begin as number;
    const e = end as number;
    if (b < 0 || e < b || e > bufferLen) {
      bad(`data_offsets [${b}, ${e}] are out of range for a byte buffer of ${bufferLen} bytes`);
    }
    const dt = dtype as SafetensorsDtype;
    const dims = shape as number[];
    const expected = product(dims) * SAFETENSORS_DTYPE_BYTES[dt];
    if (e - b !== expected) {
      bad(
        `data_offsets [${b}, ${e}] span ${e - b} bytes but dtype ${dt} with shape [${dims.join(', ')}] ` +
          `needs ${expected}`,
      );
    }
    entries.push({ name, dtype: dt, shape: [...dims], begin: b, end: e });
  }

  // The tensors must tile the buffer: sorted by offset, each starts where the previous one ends.
  const sorted = [...entries].sort((x, y) => x.begin - y.begin || x.end - y.end);
  let pos = 0;
  let prev: string | null = null;
  for (const t of sorted) {
    if (t.begin < pos) fail(`tensor "${t.name}" (bytes [${t.begin}, ${t.end}]) overlaps tensor "${prev}" (ends at ${pos})`);
    if (t.begin > pos) {
      fail(`gap in the byte buffer: bytes [${pos}, ${t.begin}) before tensor "${t.name}" belong to no tensor`);
    }
    pos = t.end;
    prev = t.name;
  }
  if (pos !== bufferLen) {
    fail(`tensors cover ${pos} bytes of the ${bufferLen}-byte buffer (the last ${bufferLen - pos} belong to no tensor)`);
  }

  const tensors = new Map<string, RawTensor>();
  for (const t of entries) {
    // A fresh copy (never `bytes.slice`: on a Node Buffer that is a view into a shared pool).
    const copy = new Uint8Array(t.end - t.begin);
    copy.set(bytes.subarray(bufferStart + t.begin, bufferStart + t.end));
    tensors.set(t.name, { dtype: t.dtype, shape: t.shape, data: decodeData(t.dtype, copy) });
  }
  return { tensors, metadata };
}

/**
 * Parses a safetensors file held in memory; {@link parseSafetensorsWithMetadata} also returns its metadata.
 * @param bytes the whole file.
 * @param source names the file in error messages (e.g. its path).
 * @returns tensor name -> {@link RawTensor}, in header order.
 * @throws Error naming `source` and the tensor, for every check listed on {@link parseSafetensorsWithMetadata}.
 */
export function parseSafetensors(bytes: Uint8Array, source?: string): Map<string, RawTensor> {
  return parseSafetensorsWithMetadata(bytes, source).tensors;
}

// ---------------------------------------------------------------------------------------------------------
// Writing

const INT_RANGES: Partial<Record<SafetensorsDtype, [number, number]>> = {
  I32: [-2147483648, 2147483647],
  I16: [-32768, 32767],
  I8: [-128, 127],
  U8: [0, 255],
  BOOL: [0, 1],
};

const INT_ARRAYS = {
  I32: Int32Array,
  I16: Int16Array,
  I8: Int8Array,
  U8: Uint8Array,
  BOOL: Uint8Array,
} as const;

/** The tensor's values in its storage type (host byte order); checks that every value fits the dtype. */
function storageArray(name: string, t: RawTensor): TypedArray | Uint16Array {
  const { dtype, data } = t;
  const bad = (msg: string): never => {
    throw new Error(`serializeSafetensors: tensor "${name}": ${msg}`);
  };
  if (dtype === 'I64') {
    if (data instanceof BigInt64Array) return data;
    const out = new BigInt64Array(data.length);
    for (let i = 0; i < data.length; i++) {
      const x = data[i];
      if (!Number.isSafeInteger(x)) bad(`value ${x} at flat index ${i} is not a safe integer for dtype I64`);
      out[i] = BigInt(x);
    }
    return out;
  }
  if (data instanceof BigInt64Array) return bad(`BigInt64Array data can only be written as dtype I64, not ${dtype}`);
  switch (dtype) {
    case 'F32':
      return data instanceof Float32Array ? data : Float32Array.from(data);
    case 'F64':
      return data instanceof Float64Array ? data : Float64Array.from(data);
    case 'F16':
      return float32ToF16Bits(data);
    case 'BF16':
      return float32ToBf16Bits(data);
  }
  const Ctor = INT_ARRAYS[dtype];
  const [lo, hi] = INT_RANGES[dtype]!;
  if (data instanceof Ctor && dtype !== 'BOOL') return data;
  for (let i = 0; i < data.length; i++) {
    const x = data[i];
    if (!Number.isInteger(x) || x < lo || x > hi) {
      bad(`value ${x} at flat index ${i} does not fit dtype ${dtype} (integers in [${lo}, ${hi}])`);
    }
  }
  return data instanceof Ctor ? data : Ctor.from(data);
}

/**
 * Serializes tensors (and optional metadata) to the safetensors format.
 *
 * Layout: tensors ordered by element size (largest first), then by name (code-unit order), so every
 * tensor starts at a multiple of its element size from the buffer start; the header JSON lists
 * `__metadata__` first (only when `metadata` is given, even if empty) and then the tensors in that order,
 * and is padded with spaces so that the byte buffer starts at a multiple of 8. Data is little-endian;
 * F16/BF16 are rounded to nearest even from the float values.
 *
 * @param tensors name -> {@link RawTensor}; names must not be `__metadata__`. 0-d tensors use `shape: []`.
 * @param metadata free-form string pairs stored as `__metadata__`.
 * @returns the whole file.
 * @throws Error naming the tensor when the dtype is unknown, a dim is not a non-negative integer,
 *   `data.length !== product(shape)`, or a value does not fit the dtype (non-integer or out of range for
 *   an integer dtype, not 0/1 for BOOL, BigInt64Array for a non-I64 dtype); or when a metadata value is
 *   not a string.
 */
export function serializeSafetensors(
  tensors: Map<string, RawTensor> | Record<string, RawTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const list = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const items = list.map(([name, t]) => {
    const bad = (msg: string): never => {
      throw new Error(`serializeSafetensors: tensor "${name}": ${msg}`);
    };
    if (name === METADATA_KEY) bad(`the name ${METADATA_KEY} is reserved for metadata`);
    if (!isDtype(t.dtype)) bad(`unknown dtype ${preview(t.dtype)}`);
    if (!Array.isArray(t.shape) || t.shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
      bad(`shape ${preview(t.shape)} must be an array of non-negative integers`);
    }
    const count = product(t.shape);
    if (t.data.length !== count) {
      bad(`data has ${t.data.length} elements but shape [${t.shape.join(', ')}] needs ${count}`);
    }
    return { name, t, size: SAFETENSORS_DTYPE_BYTES[t.dtype] };
  });
  items.sort((a, b) => b.size - a.size || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`serializeSafetensors: metadata "${k}" is not a string: ${preview(v)}`);
    }
    header[METADATA_KEY] = { ...metadata };
  }
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const { name, t } of items) {
    const arr = storageArray(name, t);
    let chunk = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
    if (!LITTLE_ENDIAN_HOST) {
      chunk = new Uint8Array(chunk);
      swapBytes(chunk, arr.BYTES_PER_ELEMENT);
    }
    chunks.push(chunk);
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + chunk.length] };
    offset += chunk.length;
  }

  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let pos = 8 + json.length;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.length;
  }
  return out;
}
