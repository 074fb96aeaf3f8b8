/** Image file writing through sharp (Node only). */
import { promises as fsp } from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import { ImageSet, imageBytes } from './types';

/**
 * Writes image `index` of an {@link ImageSet} (uint8 [C, H, W], C = 1 grey or 3 RGB) as a PNG file, creating the
 * folder; {@link decodeImage} reads it back to the same bytes (lossless).
 * @throws RangeError when the index is out of range or the set has a channel count other than 1 or 3
 * @throws Error `<file>: cannot write PNG: <reason>` when sharp or the file system fails
 */
export async function writePng(file: string, set: ImageSet, index: number): Promise<void> {
  const { channels: c, height: h, width: w } = set;
  if (c !== 1 && c !== 3) throw new RangeError(`writePng: images need 1 or 3 channels, got ${c}`);
  const planar = imageBytes(set, index);
  // planar CHW -> interleaved HWC
  const hwc = Buffer.alloc(c * h * w);
  const plane = h * w;
  for (let p = 0; p < plane; p++) for (let k = 0; k < c; k++) hwc[p * c + k] = planar[k * plane + p];
  try {
    await fsp.mkdir(path.dirname(file), { recursive: true });
    await sharp(hwc, { raw: { width: w, height: h, channels: c } }).png().toFile(file);
  } catch (err) {
    throw new Error(`${file}: cannot write PNG: ${(err as Error).message}`);
  }
}
