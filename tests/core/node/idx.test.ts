import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { encodeIdx, parseIdx, readIdx, writeIdx } from '../../../packages/train/src/data/idx';
import { Rng } from '../../../packages/core/src/data/rng';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmzoo-idx-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function randomBytes(n: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  return Uint8Array.from({ length: n }, () => rng.int(256));
}

describe('IDX', () => {
  it('encodes the documented big-endian layout', () => {
    const bytes = encodeIdx({ dims: [2, 3], data: Uint8Array.from([1, 2, 3, 4, 5, 6]) });
    expect(Array.from(bytes)).toEqual([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6]);
    expect(parseIdx(bytes, 'x')).toEqual({ dims: [2, 3], data: Uint8Array.from([1, 2, 3, 4, 5, 6]) });
    expect(() => encodeIdx({ dims: [2, 2], data: new Uint8Array(3) })).toThrow('IDX data length 3 does not match dims [2, 2] (4)');
  });

  it('round-trips gzipped and plain files, detecting gzip by content', () => {
    const array = { dims: [5, 28, 28], data: randomBytes(5 * 28 * 28, 1) };
    const gz = path.join(dir, 'a-idx3-ubyte.gz');
    const plain = path.join(dir, 'a-idx3-ubyte');
    writeIdx(gz, array);
    writeIdx(plain, array);
    expect(fs.readFileSync(gz).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    expect(fs.statSync(plain).size).toBe(16 + 5 * 28 * 28);
    expect(readIdx(gz)).toEqual(array);
    expect(readIdx(plain)).toEqual(array);
    const gzNoExtension = path.join(dir, 'gzipped-without-extension');
    fs.copyFileSync(gz, gzNoExtension);
    expect(readIdx(gzNoExtension)).toEqual(array);
    // scalars (0 dims) and empty arrays are valid too
    writeIdx(plain, { dims: [0, 4], data: new Uint8Array(0) });
    expect(readIdx(plain)).toEqual({ dims: [0, 4], data: new Uint8Array(0) });
  });

  it('names the file and the wrong magic number', () => {
    const file = path.join(dir, 'bad-magic');
    fs.writeFileSync(file, Uint8Array.from([1, 2, 8, 1, 0, 0, 0, 1, 9]));
    expect(() => readIdx(file)).toThrow(`${file}: bad IDX magic: expected 0x0000, found 0x0102`);
  });

  it('names the file and the unsupported data type', () => {
    const file = path.join(dir, 'float-idx1');
    fs.writeFileSync(file, Uint8Array.from([0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0]));
    expect(() => readIdx(file)).toThrow(
      `${file}: unsupported IDX data type: expected 0x08 (unsigned byte), found 0x0d (float32)`,
    );
  });

  it('reports truncated plain and gzipped files as size mismatches', () => {
    const file = path.join(dir, 'short-idx2');
    fs.writeFileSync(file, encodeIdx({ dims: [2, 3], data: Uint8Array.from([1, 2, 3, 4, 5, 6]) }).subarray(0, 17));
    expect(() => readIdx(file)).toThrow(`${file}: IDX size mismatch: dims [2, 3] need 6 data bytes, found 5`);

    const gz = path.join(dir, 'short-idx3.gz');
    const full = zlib.gzipSync(encodeIdx({ dims: [10, 100], data: randomBytes(1000, 2) }));
    fs.writeFileSync(gz, full.subarray(0, Math.floor(full.length / 2)));
    const message = (() => {
      try {
        readIdx(gz);
        return '';
      } catch (err) {
        return (err as Error).message;
      }
    })();
    const match = new RegExp(`^${gz.replace(/[.]/g, '\\.')}: IDX size mismatch: dims \\[10, 100\\] need 1000 data bytes, found (\\d+)$`).exec(message);
    expect(match).not.toBeNull();
    expect(Number(match?.[1])).toBeLessThan(1000);

    const header = path.join(dir, 'short-header');
    fs.writeFileSync(header, Uint8Array.from([0, 0, 8, 3, 0, 0]));
    expect(() => readIdx(header)).toThrow(`${header}: truncated IDX header: expected 16 bytes for 3 dims, found 6`);
  });

  it('names a missing file', () => {
    const file = path.join(dir, 'nope-idx1-ubyte.gz');
    expect(() => readIdx(file)).toThrow(`${file}: IDX file not found`);
  });
});
