/** Image file decoding through sharp (Node only). */
import * as fs from 'fs';
import sharp from 'sharp';

/** Target size of {@link decodeImage}. */
export interface DecodeOptions {
  /** Output height in pixels. */
  height: number;
  /** Output width in pixels. */
  width: number;
  /** 1 (grey-scale, ITU-R BT.709 luma as sharp computes it) or 3 (sRGB; alpha dropped). */
  channels: 1 | 3;
  /**
   * How the image is fitted to height x width: 'cover' (default; scale so that the image covers the box,
   * then centre-crop: aspect ratio kept) or 'fill' (stretch to the box).
   */
  fit?: 'cover' | 'fill';
}

/**
 * Decodes an image file (PNG, JPEG, WebP, GIF, TIFF, AVIF, SVG: whatever sharp reads) into
 * float32 [channels, height, width] in [0, 1] (byte / 255), resized with sharp's default (Lanczos 3).
 * @throws Error `<path>: image file not found` when the file does not exist
 * @throws Error `<path>: cannot decode image: <sharp's reason>` when sharp cannot read it
 * @throws RangeError on a size that is not a positive integer or channels other than 1 or 3
 */
export async function decodeImage(path: string, options: DecodeOptions): Promise<Float32Array> {
  const { height, width, channels } = options;
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
    throw new RangeError(`decodeImage: height and width must be positive integers, got ${height}x${width}`);
  }
  if (channels !== 1 && channels !== 3) throw new RangeError(`decodeImage: channels must be 1 or 3, got ${channels}`);
  if (!fs.existsSync(path)) throw new Error(`${path}: image file not found`);

  let raw: { data: Uint8Array; info: { channels: number } };
  try {
    let pipeline = sharp(path).resize(width, height, { fit: options.fit ?? 'cover' });
    pipeline = channels === 1 ? pipeline.greyscale() : pipeline.toColourspace('srgb');
    raw = await pipeline.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new Error(`${path}: cannot decode image: ${(err as Error).message}`);
  }

  // Interleaved HWC bytes -> planar CHW floats. A grey source read as RGB may come back with one channel.
  const { data, info } = raw;
  const have = info.channels;
  const out = new Float32Array(channels * height * width);
  const plane = height * width;
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < channels; c++) {
      out[c * plane + p] = data[p * have + Math.min(c, have - 1)] / 255;
    }
  }
  return out;
}
