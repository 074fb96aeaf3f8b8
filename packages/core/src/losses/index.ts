export { logSoftmax, crossEntropy } from './cross-entropy';
export type { CrossEntropyOptions } from './cross-entropy';
export { contrastiveLoss, l2Normalize } from './contrastive';
export type { ContrastiveLossOutput } from './contrastive';
