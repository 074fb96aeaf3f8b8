export { logSoftmax, crossEntropy } from './cross-entropy';
export type { CrossEntropyOptions } from './cross-entropy';
export { contrastiveLoss, l2Normalize } from './contrastive';
export type { ContrastiveLossOutput } from './contrastive';
export { hardNegativeWeights, sampleHardNegatives, itmPairs, sampleItmPairs } from './hard-negatives';
export type { HardNegativeOptions, ItmPairs, SampledItmPairs } from './hard-negatives';
export { momentumContrastiveLoss, clampTemperature, distillationAlpha } from './momentum-contrastive';
export type { MomentumContrastiveInputs, MomentumContrastiveOutput } from './momentum-contrastive';
export { maskedPredictionLoss, maskedImageModelingLoss } from './masked-modeling';
