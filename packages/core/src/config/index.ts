export { ConfigError, parseYaml, validate, formatPath } from './parse';
export type { YamlSource } from './parse';
export { DataSchema, TrainSchema, EvalSchema, RuntimeSchema, ReferenceSchema, ExperimentSchema } from './experiment';
export type { DataConfig, TrainConfig, EvalConfig, RuntimeConfig, Experiment } from './experiment';
export { CaptionDecodingSchema } from './caption';
export type { CaptionDecodingConfig } from './caption';
export { VitConfigSchema } from './vit';
