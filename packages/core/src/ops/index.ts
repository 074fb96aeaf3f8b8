export { matMul2d, batchMatMul, linear, project } from './matmul';
export { gelu, quickGelu, ACTIVATIONS } from './activations';
export type { ActivationName } from './activations';
export { layerNorm } from './layer-norm';
export { maskedSoftmax } from './softmax';
export { scaledDotProductAttention, splitHeads, mergeHeads, causalMask, keyPaddingMask } from './attention';
export { embeddingLookup } from './embedding';
export { stopGradient } from './stop-gradient';
