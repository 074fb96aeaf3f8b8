import { tf } from '../tf';

/** True when the active backend has a kernel registered under `kernelName` (e.g. 'UnsortedSegmentSum'). */
export function backendHasKernel(kernelName: string): boolean {
  return tf.getKernel(kernelName, tf.getBackend()) !== undefined;
}
