import { z } from 'zod';
import {
  ImageSizeSchema, InitLogitScaleSchema, MaxLogitScaleSchema, PatchInputSchema, bertTextShape, headsDivideWidth, itmShape, logitScaleShape,
  multiwayShape, openClipModelShape, patchesTileImage, textInputShape, textTowerShape, transformerShape,
} from '@mmzoo/core';
import { ClipConfigSchema } from '@mmzoo/clip';
import { CocaConfigSchema } from '@mmzoo/coca';
import { VlmoConfigSchema } from '@mmzoo/vlmo';
import { Beit3ConfigSchema } from '@mmzoo/beit3';

// Issue 15 "fold the repeats": the zod fragments the model configs share. Each default is checked against the value
// written out here, and each model still parses to the value it had before the fold.

/** ln(1/0.07) = ln(100 / 7), computed another way than the code's Math.log(1 / 0.07) */
const LN_1_OVER_0_07 = Math.log(100) - Math.log(7);

/** The one error message of a failed parse, as `path: message`. */
function issue(schema: z.ZodType, value: unknown): string {
  const r = schema.safeParse(value);
  if (r.success) throw new Error('expected a failed parse');
  return r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
}

describe('config fragments (core/config)', () => {
  test("the logit scale: CLIP's ln(1/0.07) (section 2.5), clamped at 100, for CLIP, CoCa, VLMo and BEiT-3 alike", () => {
    expect(InitLogitScaleSchema.parse(undefined)).toBeCloseTo(LN_1_OVER_0_07, 12);
    expect(InitLogitScaleSchema.parse(undefined)).toBeCloseTo(2.659260036932778, 12);
    expect(MaxLogitScaleSchema.parse(undefined)).toBe(100);
    expect(() => MaxLogitScaleSchema.parse(0)).toThrow();
    const clip = ClipConfigSchema.parse({
      name: 'clip', embedDim: 8, vision: { imageSize: 8, patchSize: 4, width: 8, layers: 1, numHeads: 2 }, text: { contextLength: 4, width: 8, layers: 1, numHeads: 2 },
    });
    const coca = CocaConfigSchema.parse({
      name: 'coca', embedDim: 8, vision: { imageSize: 8, patchSize: 4, width: 8, layers: 1, numHeads: 2 },
      text: { contextLength: 4, width: 8, layers: 1, numHeads: 2 }, decoder: { layers: 1, numHeads: 2 },
    });
    const vlmo = VlmoConfigSchema.parse({ name: 'vlmo', vision: { imageSize: 8, patchSize: 4 }, text: { contextLength: 4 }, width: 8, layers: 2, numHeads: 2, vlStart: 1 });
    const beit3 = Beit3ConfigSchema.parse({ name: 'beit3', vision: { imageSize: 8, patchSize: 4 }, text: { contextLength: 4 }, width: 8, layers: 2, numHeads: 2 });
    for (const cfg of [clip, coca, vlmo, beit3]) expect(cfg.initLogitScale).toBeCloseTo(LN_1_OVER_0_07, 12);
    expect([clip.maxLogitScale, coca.maxLogitScale]).toEqual([100, 100]);
    expect([clip.activation, coca.activation]).toEqual(['quick_gelu', 'gelu']);
    expect(logitScaleShape().initLogitScale).toBe(InitLogitScaleSchema);
  });

  test('transformer sizes: mlpRatio defaults to 4; width must split over the heads, the error naming numHeads', () => {
    const Stack = z.strictObject(transformerShape()).refine(...headsDivideWidth);
    expect(Stack.parse({ width: 12, layers: 2, numHeads: 3 })).toEqual({ width: 12, layers: 2, numHeads: 3, mlpRatio: 4 });
    expect(issue(Stack, { width: 10, layers: 2, numHeads: 3 })).toBe('numHeads: width must be divisible by numHeads');
    expect(issue(Stack, { width: 12, layers: 2, numHeads: 3, depth: 1 })).toMatch(/depth/);
  });

  test('text input and tower: contextLength at least minLength, vocabSize optional', () => {
    const Masked = z.strictObject(textInputShape(2));
    expect(Masked.parse({ contextLength: 2 })).toEqual({ contextLength: 2 });
    expect(issue(Masked, { contextLength: 1 })).toMatch(/^contextLength: /);
    const Tower = z.strictObject(textTowerShape());
    expect(Tower.parse({ contextLength: 1, vocabSize: 9, width: 8, layers: 1, numHeads: 2 }))
      .toEqual({ contextLength: 1, vocabSize: 9, width: 8, layers: 1, numHeads: 2, mlpRatio: 4 });
    expect(issue(Tower, { contextLength: 4, vocabSize: 0, width: 8, layers: 1, numHeads: 2 })).toMatch(/^vocabSize: /);
  });

  test("BERT text keys: BERT's defaults, the model's token types, -Infinity allowed as the mask constant", () => {
    const Albef = z.strictObject(bertTextShape({ typeVocabSize: 2 }));
    const Blip = z.strictObject(bertTextShape({ typeVocabSize: 0 }));
    expect(Albef.parse({})).toEqual({ lnEps: 1e-12, initStd: 0.02, typeVocabSize: 2, maskValue: -10000 });
    expect(Blip.parse({ maskValue: -Infinity })).toEqual({ lnEps: 1e-12, initStd: 0.02, typeVocabSize: 0, maskValue: -Infinity });
  });

  test('ITM keys take each model\'s defaults', () => {
    const Itm = z.strictObject(itmShape({ hardNegativeEps: 1e-4, itmRerankK: 256 }));
    expect(Itm.parse({})).toEqual({ hardNegativeEps: 1e-4, itmRerankK: 256 });
    expect(issue(Itm, { itmRerankK: 0 })).toMatch(/^itmRerankK: /);
  });

  test('image inputs: square or [height, width] for open_clip towers; a whole number of patches for multiway models', () => {
    expect(ImageSizeSchema.parse([32, 48])).toEqual([32, 48]);
    expect(ImageSizeSchema.parse(28)).toBe(28);
    expect(PatchInputSchema.parse({ imageSize: 28, patchSize: 7 })).toEqual({ imageSize: 28, patchSize: 7, channels: 3 });
    expect(issue(PatchInputSchema, { imageSize: [28, 28], patchSize: 7 })).toMatch(/^imageSize: /);
    const Multiway = z.strictObject({ ...multiwayShape(z.strictObject({ contextLength: z.number() })) }).refine(...patchesTileImage);
    expect(issue(Multiway, { vision: { imageSize: 30, patchSize: 7 }, text: { contextLength: 4 }, width: 8, layers: 1, numHeads: 2 }))
      .toBe('vision.patchSize: imageSize must be a multiple of patchSize');
    expect(multiwayShape(z.number()).vision).toBe(PatchInputSchema);
  });

  test('open_clip model keys: the towers given, the activation default given, the logit scale', () => {
    const shape = openClipModelShape(z.number(), z.string(), { activation: 'gelu' });
    expect(Object.keys(shape)).toEqual(['embedDim', 'vision', 'text', 'activation', 'initLogitScale', 'maxLogitScale']);
    expect(z.strictObject(shape).parse({ embedDim: 4, vision: 1, text: 'a' }).activation).toBe('gelu');
  });
});
