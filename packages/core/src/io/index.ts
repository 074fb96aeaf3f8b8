/**
 * Browser-safe tensor I/O: the safetensors format and tfjs <-> RawTensor state dicts. File access: `@mmzoo/train`
 * (run/files).
 */
export {
  SAFETENSORS_DTYPE_BYTES,
  bf16BitsToFloat32,
  f16BitsToFloat32,
  float32ToBf16Bits,
  float32ToF16Bits,
  int64ToInt32,
  int64ToNumbers,
  parseSafetensors,
  parseSafetensorsWithMetadata,
  serializeSafetensors,
} from './safetensors';
export type { RawTensor, SafetensorsContents, SafetensorsDtype, TypedArray } from './safetensors';
export { fromTensor, loadStateDict, toTensor } from './state-dict';
export type { LoadStateDictOptions, LoadStateDictResult, StateDict } from './state-dict';
export { timmVitName, torchvisionVitName, torchmultimodalVitName, adaptShapes } from './vit-names';
export { ropeRowPermutation, permuteRopeRows } from './rope-rows';
