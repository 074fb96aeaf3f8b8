import { z } from 'zod';

/**
 * The image input of a patch embedding (Dosovitskiy et al. 2021, section 3.1): square images of `imageSize` pixels
 * with `channels` channels, cut into `patchSize` x `patchSize` patches. The `model.vision` section of models whose
 * transformer is configured elsewhere (VLMo, BEiT-3: one multiway transformer for both modalities); keys are strict.
 */
export const PatchInputSchema = z
  .object({
    /** image size in pixels (square) */
    imageSize: z.number().int().positive(),
    patchSize: z.number().int().positive(),
    /** input channels: 3 (RGB) or 1 (grey, e.g. Fashion-MNIST) */
    channels: z.number().int().positive().default(3),
  })
  .strict();

/**
 * The `model.vision` section shared by models whose image encoder is a timm/torchvision-style ViT (Dosovitskiy et
 * al. 2021, section 3.1), e.g. ALBEF and BLIP (ViT-B/16). Defaults live only here; keys are strict.
 */
export const VitConfigSchema = PatchInputSchema
  .extend({
    width: z.number().int().positive(),
    layers: z.number().int().positive(),
    numHeads: z.number().int().positive(),
    /** MLP width as a multiple of width (ViT: 4) */
    mlpRatio: z.number().positive().default(4),
    /** LayerNorm epsilon (timm and torchvision ViTs: 1e-6) */
    lnEps: z.number().positive().default(1e-6),
  })
  .strict();
