/** The model-facing part of configs: zod schema fragments that model configs share, ConfigError, stage selection. */
export { ConfigError } from './error';
export { CaptionDecodingSchema } from './caption';
export type { CaptionDecodingConfig } from './caption';
export { ImageSizeSchema, PatchInputSchema, VitConfigSchema, patchInputShape, patchesTileImage } from './vit';
export { openClipModelShape, openClipVisionShape } from './open-clip';
export { multiwayShape } from './multiway';
export type { VitConfig } from './vit';
export { headsDivideWidth, textInputShape, textTowerShape, transformerShape } from './transformer';
export { itmShape } from './itm';
export { bertTextShape } from './bert-text';
export { InitLogitScaleSchema, MaxLogitScaleSchema, logitScaleShape } from './logit-scale';
export { momentumItcShape } from './momentum-itc';
export { textTokenIdsShape } from './text-token-ids';
export { STAGE_DATA, resolveStageSelection } from './stage-selection';
export type { StageData, StageSelection } from './stage-selection';
export { VisualTokenizerSchema } from './visual-tokenizer';
export type { VisualTokenizerConfig } from './visual-tokenizer';
