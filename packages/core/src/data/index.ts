/**
 * mmzoo data layer, browser-safe part: seeded Rng, ImageSet helpers, Fashion-MNIST class names and prompts,
 * generated captions and compositional scenes. File reading lives in `../node` (Node only).
 */
export { Rng } from './rng';
export type { RngState } from './rng';
export { checkImageSet, imageAt, imageBatch, imageBytes, imageSize, selectImages } from './types';
export type { ImageSet } from './types';
export {
  FMNIST_CLASS_NAMES,
  FMNIST_PROMPT_TEMPLATES,
  FMNIST_SHORT_NAMES,
  FMNIST_SYNONYMS,
  articleFor,
  classPrompts,
  fillTemplate,
} from './fmnist-classes';
export { CAPTION_TEMPLATES, captionFor, captionsFor } from './captions';
export {
  buildScenes,
  canonicalDescription,
  checkSceneItems,
  describeScene,
  layoutCaption,
  layoutCaptions,
  positionName,
  renderScene,
  SCENE_CAPTION_STYLES,
  sceneCaptions,
  sceneQuestions,
  sceneRelations,
  swapPositions,
  twinSwap,
} from './scenes';
export type { QaPair, Scene, SceneCaptionStyle, SceneGrid, SceneItem, SceneOptions, SceneSet } from './scenes';
export { resizeImageSet } from './resize';
export { imageSetPairs, concatPairs, batchIndices, epochOrder, groupedPairs } from './pairs';
export type { PairSource } from './pairs';
export { corruptCaptions, noisySceneCaptions } from './noisy-captions';
export type { CorruptionOptions, NoisyCaption } from './noisy-captions';
export { blockMask, blockMaskBatch, maskCount } from './block-masking';
export type { BlockMaskOptions } from './block-masking';
export { maskTokens } from './token-masking';
export type { TokenMaskingOptions, MaskedTokens } from './token-masking';
