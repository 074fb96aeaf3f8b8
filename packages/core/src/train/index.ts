export { AdamW, adamwUpdate, clipGradNorm, defaultDecayFilter } from './optimizer';
export type { AdamWOptions } from './optimizer';
export { cosineLr } from './schedule';
export { trainStep } from './step';
export type { LossOutput, TrainableModel, StepResult } from './step';
export { MomentumPairs } from './momentum';
