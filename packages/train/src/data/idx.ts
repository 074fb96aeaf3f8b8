/**
 * IDX files: the simple array format of MNIST and Fashion-MNIST (Node only).
 *
 * Layout (big-endian): bytes 0-1 are zero (the magic), byte 2 is the data type (0x08 = unsigned byte,
 * the only type these data sets use and the only one supported here), byte 3 is the number of dimensions
 * `n`, then `n` uint32 dimension sizes, then the values in row-major order.
 * Files may be gzipped (detected by the gzip magic 1f 8b, not by the file name).
 * Format description: http://yann.lecun.com/exdb/mnist/ (section "file formats").
 */
import * as fs from 'fs';
import * as zlib from 'zlib';

/** An n-dimensional uint8 array read from or written to an IDX file. */
export interface IdxArray {
  /** Dimension sizes, outermost first, e.g. [10000, 28, 28] for 10,000 images of 28x28. */
  dims: number[];
  /** Values in row-major order; length = product of `dims`. */
  data: Uint8Array;
}

/** IDX data type code for unsigned bytes (the only one supported). */
export const IDX_UBYTE = 0x08;

const TYPE_NAMES: Record<number, string> = {
  0x08: 'unsigned byte',
  0x09: 'signed byte',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
};

function hex(byte: number): string {
  return '0x' + byte.toString(16).padStart(2, '0');
}

function product(dims: number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** True when `bytes` starts with the gzip magic number 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Parses the bytes of an IDX file (already gunzipped) into dims and data.
 * The returned `data` is a plain Uint8Array view into `bytes` (no copy).
 * @param bytes the whole uncompressed file
 * @param name the file name used in error messages
 * @throws Error `<name>: bad IDX magic: expected 0x0000, found 0x....` when bytes 0-1 are not zero
 * @throws Error `<name>: unsupported IDX data type: expected 0x08 (unsigned byte), found ...`
 * @throws Error `<name>: truncated IDX header: expected N bytes, found M`
 * @throws Error `<name>: IDX size mismatch: dims [..] need N data bytes, found M` (truncated or trailing data)
 */
export function parseIdx(bytes: Uint8Array, name: string): IdxArray {
  if (bytes.length < 4) {
    throw new Error(`${name}: truncated IDX header: expected at least 4 bytes, found ${bytes.length}`);
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const found = '0x' + [bytes[0], bytes[1]].map((b) => b.toString(16).padStart(2, '0')).join('');
    throw new Error(`${name}: bad IDX magic: expected 0x0000, found ${found}`);
  }
  const type = bytes[2];
  if (type !== IDX_UBYTE) {
    const typeName = TYPE_NAMES[type] ?? 'unknown';
    throw new Error(
      `${name}: unsupported IDX data type: expected ${hex(IDX_UBYTE)} (unsigned byte), found ${hex(type)} (${typeName})`,
    );
  }
  const ndim = bytes[3];
  const headerBytes = 4 + 4 * ndim;
  if (bytes.length < headerBytes) {
    throw new Error(`${name}: truncated IDX header: expected ${headerBytes} bytes for ${ndim} dims, found ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < ndim; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const expected = product(dims);
  const found = bytes.length - headerBytes;
  if (found !== expected) {
    throw new Error(`${name}: IDX size mismatch: dims [${dims.join(', ')}] need ${expected} data bytes, found ${found}`);
  }
  // A plain Uint8Array view (not a Buffer, even when `bytes` is one).
  return { dims, data: new Uint8Array(bytes.buffer, bytes.byteOffset + headerBytes, expected) };
}

/**
 * Reads an IDX file, gzipped or not (detected by the gzip magic).
 * A truncated gzip stream is decompressed as far as it goes and then reported as a size mismatch.
 * @param path file path
 * @throws Error `<path>: IDX file not found` when the file does not exist
 * @throws Error `<path>: corrupt gzip data: ...` when the gzip stream cannot be decoded
 * @throws the errors of {@link parseIdx}, named with `path`
 */
export function readIdx(path: string): IdxArray {
  if (!fs.existsSync(path)) throw new Error(`${path}: IDX file not found`);
  let bytes: Uint8Array = fs.readFileSync(path);
  if (isGzip(bytes)) {
    try {
      // SYNC_FLUSH: a cut-off stream yields what it holds, so truncation becomes a size mismatch below.
      bytes = zlib.gunzipSync(bytes, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    } catch (err) {
      throw new Error(`${path}: corrupt gzip data: ${(err as Error).message}`);
    }
  }
  return parseIdx(bytes, path);
}

/**
 * Encodes an array as the bytes of an uncompressed IDX file of unsigned bytes.
 * @throws RangeError when a dim is not a non-negative integer below 2^32, there are more than 255 dims,
 *   or `data.length` is not the product of `dims`
 */
export function encodeIdx(array: IdxArray): Uint8Array {
  const { dims, data } = array;
  if (dims.length > 255) throw new RangeError(`IDX supports at most 255 dims, got ${dims.length}`);
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0 || d > 0xffffffff) throw new RangeError(`invalid IDX dim ${d}`);
  }
  if (data.length !== product(dims)) {
    throw new RangeError(`IDX data length ${data.length} does not match dims [${dims.join(', ')}] (${product(dims)})`);
  }
  const headerBytes = 4 + 4 * dims.length;
  const out = new Uint8Array(headerBytes + data.length);
  const view = new DataView(out.buffer);
  out[2] = IDX_UBYTE;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, headerBytes);
  return out;
}

/**
 * Writes an IDX file of unsigned bytes; gzipped (level 9, deterministic bytes) when `path` ends in `.gz`.
 * @throws the RangeErrors of {@link encodeIdx}; file system errors as thrown by `fs.writeFileSync`
 */
export function writeIdx(path: string, array: IdxArray): void {
  const raw = encodeIdx(array);
  const bytes = path.endsWith('.gz') ? zlib.gzipSync(raw, { level: 9 }) : raw;
  fs.writeFileSync(path, bytes);
}
