import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { decodeImage } from '../../../packages/train/src/data/image';

let dir: string;
let grey: string;
let red: string;
const GREY_PIXELS = [0, 51, 102, 153, 204, 255, 10, 20]; // 4 wide, 2 high

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmzoo-image-'));
  grey = path.join(dir, 'grey.png');
  await sharp(Buffer.from(GREY_PIXELS), { raw: { width: 4, height: 2, channels: 1 } }).png().toFile(grey);
  red = path.join(dir, 'red.png');
  await sharp({ create: { width: 6, height: 4, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 1 } } }).png().toFile(red);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('decodeImage', () => {
  it('decodes a grey-scale PNG exactly into [1, H, W] floats in [0, 1]', async () => {
    const out = await decodeImage(grey, { height: 2, width: 4, channels: 1 });
    expect(out).toEqual(Float32Array.from(GREY_PIXELS.map((v) => v / 255)));
  });

  it('gives planar [3, H, W] channels, replicating grey and dropping alpha', async () => {
    const fromGrey = await decodeImage(grey, { height: 2, width: 4, channels: 3 });
    const expected = GREY_PIXELS.map((v) => v / 255);
    expect(fromGrey).toEqual(Float32Array.from([...expected, ...expected, ...expected]));
    const fromRed = await decodeImage(red, { height: 3, width: 3, channels: 3 });
    expect(fromRed).toEqual(Float32Array.from([1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
  });

  it('resizes and converts colour to grey', async () => {
    const out = await decodeImage(red, { height: 2, width: 2, channels: 1 });
    expect(out).toHaveLength(4);
    // pure red has luma well between black and white, the same in every pixel
    expect(out[0]).toBeGreaterThan(0.1);
    expect(out[0]).toBeLessThan(0.9);
    expect(new Set(out).size).toBe(1);
  });

  it('names a missing or undecodable file', async () => {
    const missing = path.join(dir, 'missing.png');
    await expect(decodeImage(missing, { height: 2, width: 2, channels: 1 })).rejects.toThrow(`${missing}: image file not found`);
    const text = path.join(dir, 'text.png');
    fs.writeFileSync(text, 'not an image');
    await expect(decodeImage(text, { height: 2, width: 2, channels: 1 })).rejects.toThrow(
      new RegExp(`^${text}: cannot decode image: `),
    );
    await expect(decodeImage(grey, { height: 2, width: 2, channels: 2 as 1 })).rejects.toThrow(RangeError);
  });
});
