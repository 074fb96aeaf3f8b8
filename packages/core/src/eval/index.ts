export { embedInBatches } from './dual-encoder';
export type { DualEncoder } from './dual-encoder';
export { ensembleClassEmbeddings, zeroShotAccuracy } from './zero-shot';
export { retrievalRecall, chanceAtK } from './retrieval';
export type { RecallAtK } from './retrieval';
