/**
 * The data helpers models use: the seeded Rng, token masking (BERT-style MLM) and block masking (BEiT-style MIM).
 * Datasets, loaders and file readers are in `@mmzoo/train`.
 */
export { Rng } from './rng';
export type { RngState } from './rng';
export { blockMask, blockMaskBatch, maskCount } from './block-masking';
export type { BlockMaskOptions } from './block-masking';
export { maskTextTokens, maskTokens } from './token-masking';
export type { MaskedTokens, TextTokenIds, TokenMaskingOptions } from './token-masking';
export { stepRng } from './step-rng';
