/**
 * The model spec: what a model package exports so that the harness and the CLI can train, evaluate, count and caption
 * it without knowing it by name (schema, inputs, builder, objectives, evaluation tasks, weight names, presets), and the
 * model-facing interfaces the harness calls.
 */
export {
  BATCH_KEYS, IMAGE_TOKEN_INDEX, EVAL_TASK_COLUMNS, EVAL_TASK_NAMES, batchTensors, componentCounts, dualEncoderScores, inputKeys, tokenInputKeys, evalTask, isImageFeatureExtractor, isItmScorer, isDualEncoder, isImagePromptedLM, imagePromptRoom,
} from './model-spec';
export type {
  Batch, BatchKey, BuildParts, DualEncoder, ImagePromptedLM, ImagePromptOptions, EvalTaskName, EvalTaskOptions, EvalTaskRequest, ImageFeatureExtractor, ImageTextBatch,
  ImageTextModel, ModelInputs, ModelSpec, TokenInput, TokenizerFacts, TrainingModel,
} from './model-spec';
export { imageTextInputs } from './inputs';
export type { ImageTextInputConfig } from './inputs';
export { resolveVocabSize } from './vocab-size';
export { fitVisualTokenizer } from './prepare';
export type { PrepareContext, TrainingImages } from './prepare';
