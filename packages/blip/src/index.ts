/** @mmzoo/blip: BLIP (Li et al. 2022) composed from @mmzoo/core. */
export { BLIP, buildBlip } from './model';
export type { BlipEncoders, BlipLm, BlipOptions, BlipStepInputs, BlipStepOutput, BlipBatch } from './model';
export { BlipConfigSchema, BlipVisionSchema, BlipTextSchema } from './config';
export type { BlipConfig, BlipConfigInput } from './config';
export { salesforceBlipName, loadSalesforceBlip } from './weights';
export { blipCaptions } from './captions';
export { blipSpec } from './spec';
// CapFilt (section 3.3) is harness code (it fine-tunes with @mmzoo/train, a Node package): `@mmzoo/blip/capfilt`.
