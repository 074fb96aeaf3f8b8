/** @mmzoo/lm/node: the Node-only loaders of @mmzoo/lm (they read files): Hugging Face model folders and llama2.c `.bin` checkpoints. */
export { loadHfFolder, loadLlama2cBin, readHfWeights } from './hf-folder';
export type { LoadedLm } from './hf-folder';
