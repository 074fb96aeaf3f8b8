/**
 * @mmzoo/core: what a model needs (tensor ops, layers grouped by role, losses, sampling and generation, tokenizer
 * interfaces, safetensors and state dicts, the zod fragments of model configs, the model spec interface and the
 * model-facing interfaces the harness calls). Browser-safe: no Node built-in or native module anywhere in its
 * import graph (tests/core/browser-safety.test.ts). The Node harness (configs, datasets, trainer, checkpoints,
 * evaluation) is `@mmzoo/train`.
 */
export { tf } from './tf';
export type { Tensor, Tensor1D, Tensor2D, Tensor3D, Tensor4D, Variable, Rank } from './tf';
export * from './ops';
export * from './nn';
export * from './losses';
export * from './io';
export * from './config';
export * from './generate';
export * from './data';
export * from './tokenizers';
export * from './spec';
