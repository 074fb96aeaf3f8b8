import { z } from 'zod';
import { transformerShape } from './transformer';

/** A side length in pixels: a positive integer. */
const pixels = () => z.number().int().positive();

/** An image size: square (pixels) or [height, width] (open_clip's `image_size`). */
export const ImageSizeSchema = z.union([pixels(), z.tuple([pixels(), pixels()])]);

/**
 * The image input of a patch embedding (Dosovitskiy et al. 2021, section 3.1): images of `imageSize` pixels with
 * `channels` channels, cut into `patchSize` x `patchSize` patches; a zod object shape to spread into a schema.
 * @param imageSize the image size's schema: square pixels, or {@link ImageSizeSchema}
 * @returns the shape: imageSize, patchSize, channels (default 3)
 */
export function patchInputShape<S extends z.ZodType>(imageSize: S) {
  return {
    imageSize,
    patchSize: pixels(),
    /** input channels: 3 (RGB) or 1 (grey, e.g. Fashion-MNIST) */
    channels: z.number().int().positive().default(3),
  };
}

/**
 * The image input of a patch embedding with square images: the `model.vision` section of models whose transformer
 * is configured elsewhere (VLMo, BEiT-3: one multiway transformer for both modalities); keys are strict.
 */
export const PatchInputSchema = z.strictObject(patchInputShape(pixels()));

/**
 * The check that a model's square `vision.imageSize` is a whole number of patches, as arguments of zod's `refine`:
 * `schema.refine(...patchesTileImage)`; the error names `vision.patchSize`.
 */
export const patchesTileImage: [(c: { vision: { imageSize: number; patchSize: number } }) => boolean, { message: string; path: string[] }] = [
  (c) => c.vision.imageSize % c.vision.patchSize === 0,
  { message: 'imageSize must be a multiple of patchSize', path: ['vision', 'patchSize'] },
];

/**
 * The `model.vision` section shared by models whose image encoder is a timm/torchvision-style ViT (Dosovitskiy et
 * al. 2021, section 3.1), e.g. ALBEF and BLIP (ViT-B/16). Defaults live only here; keys are strict.
 */
export const VitConfigSchema = z
  .strictObject({
    ...patchInputShape(pixels()),
    ...transformerShape(),
    /** LayerNorm epsilon (timm and torchvision ViTs: 1e-6) */
    lnEps: z.number().positive().default(1e-6),
  });

/** A validated timm/torchvision-style ViT section ({@link VitConfigSchema}). */
export type VitConfig = z.infer<typeof VitConfigSchema>;
