/** @mmzoo/albef: ALBEF (Li et al. 2021, Align before Fuse) composed from @mmzoo/core. */
export { ALBEF, buildAlbef } from './model';
export type { AlbefEncoders, AlbefMlm, AlbefOptions, AlbefStepInputs, AlbefStepOutput, AlbefBatch } from './model';
export { AlbefConfigSchema, AlbefVisionSchema, AlbefTextSchema } from './config';
export type { AlbefConfig, AlbefConfigInput } from './config';
export { torchmultimodalAlbefName, loadTorchmultimodalAlbef } from './weights';
export { albefSpec } from './spec';
