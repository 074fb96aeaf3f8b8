/** @mmzoo/blip: BLIP (Li et al. 2022) composed from @mmzoo/core. */
export { BLIP, buildBlip } from './model';
export type { BlipEncoders, BlipOptions, BlipStepInputs, BlipStepOutput, BlipBatch } from './model';
export { BlipConfigSchema, BlipVisionSchema, BlipTextSchema } from './config';
export type { BlipConfig, BlipConfigInput } from './config';
export { salesforceBlipName, loadSalesforceBlip } from './weights';
export { blipCaptions } from './captions';
export {
  CapFiltConfigSchema, CapFiltNoisySchema, CapFiltFinetuneSchema, CapFiltNucleusSchema, CapFiltCaptionerSchema, CapFiltFilterSchema,
  capfiltTrainable, finetuneBlip, syntheticCaptions, itmMatchProbabilities, runCapFilt,
} from './capfilt';
export type { CapFiltConfig, CapFiltText, CapFiltCounts, CapFiltReport, CapFiltInputs, FinetuneOptions, FinetuneSummary } from './capfilt';
