/** @mmzoo/vlmo: VLMo (Bao et al. 2022), a mixture-of-modality-experts transformer composed from @mmzoo/core. */
export { VLMo, buildVlmo, vlmoRename, vlmoStageObjectives } from './model';
export type { VlmoUnimodalOutput, VlmoFusionOutput, VlmoLoss, VlmoBatch } from './model';
export { VlmoConfigSchema, VlmoTextSchema, VlmoObjectivesSchema, VlmoMimSchema } from './config';
export type { VlmoConfig, VlmoConfigInput } from './config';
export { vlmoSpec } from './spec';
