/** @mmzoo/clip: CLIP (Radford et al. 2021) composed from @mmzoo/core. */
export { CLIP, buildClip } from './model';
export type { ClipOutput, ClipLoss } from './model';
export { ClipConfigSchema, ClipVisionSchema, ClipTextSchema } from './config';
export type { ClipConfig, ClipConfigInput } from './config';
export { clipSpec } from './spec';
