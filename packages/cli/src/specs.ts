import type { ImageTextSpec } from '@mmzoo/train';
import { clipSpec } from '@mmzoo/clip';
import { albefSpec } from '@mmzoo/albef';
import { blipSpec } from '@mmzoo/blip';
import { cocaSpec } from '@mmzoo/coca';
import { vlmoSpec } from '@mmzoo/vlmo';
import { beit3Spec } from '@mmzoo/beit3';

/**
 * The model registry: `model.name` -> the model package's spec. An explicit map; a miss throws and lists the valid
 * names ({@link getModel}). Everything the CLI knows about a model comes from its spec.
 */
export const MODELS: Readonly<Record<string, ImageTextSpec>> = {
  clip: clipSpec,
  albef: albefSpec,
  blip: blipSpec,
  coca: cocaSpec,
  vlmo: vlmoSpec,
  beit3: beit3Spec,
};

/** @throws Error naming the unknown model and listing the registered names */
export function getModel(name: string, where = 'model.name'): ImageTextSpec {
  const spec = Object.prototype.hasOwnProperty.call(MODELS, name) ? MODELS[name] : undefined;
  if (!spec) throw new Error(`${where}: unknown model '${name}'; registered models: ${Object.keys(MODELS).join(', ')}`);
  return spec;
}
