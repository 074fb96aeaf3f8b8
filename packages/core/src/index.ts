/**
 * @mmzoo/core: the shared core of mmzoo. Browser-safe: Node-only I/O lives in `@mmzoo/core/node`.
 */
export { tf } from './tf';
export type { Tensor, Tensor1D, Tensor2D, Tensor3D, Tensor4D, Variable, Rank } from './tf';
export * from './backend';
export * from './ops';
export * from './nn';
export * from './losses';
export * from './io';
export * from './config';
export * from './train';
export * from './eval';
export * from './generate';
export * from './data';
export * from './tokenizers';
