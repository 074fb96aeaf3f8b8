/** @mmzoo/beit3: BEiT-3 (Wang et al. 2023, "Image as a Foreign Language") composed from @mmzoo/core. */
export { BEiT3, buildBeit3, beit3Rename, beit3StageObjectives } from './model';
export type { Beit3Inputs, Beit3Output, Beit3Loss, Beit3Batch } from './model';
export { Beit3ConfigSchema, Beit3TextSchema, Beit3MaskingSchema, Beit3TokenizerSchema, Beit3ObjectivesSchema } from './config';
export type { Beit3Config, Beit3ConfigInput } from './config';
export { beit3Spec } from './spec';
