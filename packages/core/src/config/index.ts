export { ConfigError, parseYaml, validate, formatPath } from './parse';
export type { YamlSource } from './parse';
export { DataSchema, TrainSchema, EvalSchema, RuntimeSchema, ReferenceSchema, ExperimentSchema, CAPTION_ENCODINGS } from './experiment';
export type { CaptionEncoding, DataConfig, TrainConfig, EvalConfig, RuntimeConfig, Experiment } from './experiment';
export { CaptionDecodingSchema } from './caption';
export type { CaptionDecodingConfig } from './caption';
export { PatchInputSchema, VitConfigSchema } from './vit';
export { momentumItcShape } from './momentum-itc';
export { textTokenIdsShape } from './text-token-ids';
export {
  StageSchema, StagesSchema, STAGE_DATA, checkStageObjectives, compilePattern, fillStageSteps, patternError, resolveStageSelection, stageParameterNames,
  totalStageSteps,
} from './stages';
export type { StageConfig, StageData, StageSelection } from './stages';
export { VisualTokenizerSchema } from './visual-tokenizer';
export type { VisualTokenizerConfig } from './visual-tokenizer';
