/**
 * The one TensorFlow.js import of mmzoo. Importing the union package `@tensorflow/tfjs` registers the
 * gradient functions (tfjs-core's Node bundle alone registers none, see DESIGN.md) and the cpu backend.
 * Every other file imports `tf` from here so that all packages share one engine instance.
 */
import * as tf from '@tensorflow/tfjs';

export { tf };
export type { Tensor, Tensor1D, Tensor2D, Tensor3D, Tensor4D, Variable, Rank } from '@tensorflow/tfjs';
