import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DataSchema } from '@mmzoo/train';
import {
  decodeCaptionFile, firstInvalidUtf8, readCaptions, readCaptionsCsv, readCaptionsJsonl, readCocoCaptions,
} from '../../../packages/train/src/data/readers';

// Issue 14: caption files with invalid UTF-8 are an error naming the file and line, never a silent U+FFFD;
// `data.encoding` reads files in another encoding.
let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmzoo-encoding-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(name: string, bytes: Buffer): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes);
  return file;
}

const hint = 'set data.encoding if the file is not UTF-8';

describe('firstInvalidUtf8', () => {
  test.each([
    ['ascii', [0x61, 0x62], -1],
    ['2-byte é', [0x61, 0xc3, 0xa9], -1],
    ['4-byte emoji', [0xf0, 0x9f, 0x98, 0x80], -1],
    ['0xff', [0x61, 0xff], 1],
    ['lone continuation', [0x80], 0],
    ['truncated at the end', [0x61, 0x62, 0xe2, 0x82], 2],
    ['overlong 0xc0 0xaf', [0xc0, 0xaf], 0],
    ['overlong 3-byte', [0xe0, 0x80, 0xaf], 0],
    ['surrogate U+D800', [0xed, 0xa0, 0x80], 0],
    ['above U+10FFFF', [0xf4, 0x90, 0x80, 0x80], 0],
    ['latin1 é then ascii', [0x63, 0x61, 0x66, 0xe9, 0x20, 0x61], 3],
  ])('%s', (_, bytes, at) => {
    expect(firstInvalidUtf8(Uint8Array.from(bytes as number[]))).toBe(at);
  });
});

describe('decodeCaptionFile', () => {
  test('valid UTF-8 decodes, the BOM dropped', () => {
    expect(decodeCaptionFile(Buffer.from('\ufeffcafé\n', 'utf8'), 'f.csv')).toBe('café\n');
  });

  test('names line, byte and column (characters of the line)', () => {
    const bytes = Buffer.concat([Buffer.from('image,caption\nä.png,caf'), Buffer.from([0xe9]), Buffer.from(' au lait\n')]);
    expect(() => decodeCaptionFile(bytes, 'x.csv')).toThrow(`x.csv:2: invalid UTF-8 (byte 0xe9 at column 10); ${hint}`);
  });

  test('another encoding reads the same bytes', () => {
    const bytes = Buffer.from([0x63, 0x61, 0x66, 0xe9]);
    expect(decodeCaptionFile(bytes, 'x.csv', 'latin1')).toBe('café');
    expect(decodeCaptionFile(Buffer.from('\ufeffhi', 'utf16le'), 'x.csv', 'utf-16le')).toBe('hi');
    expect(() => decodeCaptionFile(bytes, 'x.csv', 'klingon')).toThrow("x.csv: unknown text encoding 'klingon' (data.encoding)");
    // a lone high surrogate at the end of UTF-16 text
    expect(() => decodeCaptionFile(Buffer.from([0x61, 0x00, 0x00, 0xd8]), 'x.csv', 'utf-16le')).toThrow('x.csv: not valid utf-16le text (data.encoding)');
  });
});

describe('readers reject invalid UTF-8', () => {
  test('csv', () => {
    const file = write('bad.csv', Buffer.concat([Buffer.from('image,caption\na.png,fine\nb.png,'), Buffer.from([0xff]), Buffer.from('x\n')]));
    expect(() => readCaptionsCsv(file)).toThrow(`${file}:3: invalid UTF-8 (byte 0xff at column 7); ${hint}`);
    expect(() => readCaptions(file)).toThrow(`${file}:3: invalid UTF-8`);
  });

  test('jsonl', () => {
    const file = write('bad.jsonl', Buffer.concat([Buffer.from('{"image": "a.png", "caption": "ok"}\n\n{"image": "b.png", "caption": "'), Buffer.from([0xc3, 0x28]), Buffer.from('"}\n')]));
    expect(() => readCaptionsJsonl(file)).toThrow(`${file}:3: invalid UTF-8 (byte 0xc3 at column 32); ${hint}`);
  });

  test('coco json', () => {
    const json = '{\n  "images": [{"id": 1, "file_name": "a.png"}],\n  "annotations": [\n    {"image_id": 1, "caption": "';
    const file = write('bad.json', Buffer.concat([Buffer.from(json), Buffer.from([0xe9]), Buffer.from('"}\n  ]\n}\n')]));
    expect(() => readCocoCaptions(file)).toThrow(`${file}:4: invalid UTF-8 (byte 0xe9 at column 33); ${hint}`);
  });

  test('with encoding latin1 the same csv reads', () => {
    const file = write('latin1.csv', Buffer.concat([Buffer.from('image,caption\nb.png,caf'), Buffer.from([0xe9]), Buffer.from('\n')]));
    expect(readCaptionsCsv(file, { encoding: 'latin1' })[0].caption).toBe('café');
    expect(readCaptions(file, { encoding: 'latin1' })[0].caption).toBe('café');
  });

  test('a UTF-8 BOM is still ignored', () => {
    const file = write('bom.csv', Buffer.from('\ufeffimage,caption\na.png,x\n', 'utf8'));
    expect(readCaptionsCsv(file)[0].caption).toBe('x');
  });
});

describe('data.encoding in the schema', () => {
  test('optional (UTF-8 when left out), an enum of TextDecoder labels', () => {
    expect(DataSchema.parse({}).encoding).toBeUndefined();
    expect(DataSchema.parse({ encoding: 'latin1' }).encoding).toBe('latin1');
    expect(DataSchema.safeParse({ encoding: 'utf8x' }).success).toBe(false);
    for (const e of DataSchema.shape.encoding.unwrap().options) expect(() => new TextDecoder(e, { fatal: true })).not.toThrow();
  });
});
