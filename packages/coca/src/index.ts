/** @mmzoo/coca: CoCa (Yu et al. 2022, Contrastive Captioners) composed from @mmzoo/core. */
export { CoCa, buildCoca } from './model';
export type { CocaOutput, CocaLoss, CocaOptions } from './model';
export { CocaVision } from './vision';
export type { CocaVisionOutput, PoolerDesign } from './vision';
export {
  CocaConfigSchema, CocaVisionSchema, CocaTextSchema, CocaDecoderSchema, CocaLossSchema, CocaCaptionSchema,
} from './config';
export type { CocaConfig, CocaConfigInput } from './config';
export { cocaCaptions } from './captions';
export { cocaSpec } from './spec';
