/**
 * @mmzoo/train: the Node harness of mmzoo. Configs (YAML loading and validation), datasets and data loaders,
 * tokenizer files, the trainer, optimizer and schedule, checkpoints and run folders, evaluation tasks, sessions (a
 * model spec built on its data) and backend selection. Uses Node built-ins, sharp and the optional native backends;
 * the browser-safe model code (layers, losses, generation, tokenizers, the model spec interface) is `@mmzoo/core`.
 */

// backend selection (Node: tfjs-node, the native addon, wasm)
export { parseBackendName, initBackend, BACKEND_NAMES } from './backend';
export type { BackendName, BackendInfo } from './backend';

// experiment configs: YAML parsing, validation, the experiment schema, stages
export { parseYaml, validate, formatPath } from './config/parse';
export type { YamlSource } from './config/parse';
export {
  DataSchema, TextDataSchema, InstructionsDataSchema, TrainSchema, EvalSchema, RuntimeSchema, ReferenceSchema, ExperimentSchema, CAPTION_ENCODINGS,
} from './config/experiment';
export type {
  CaptionEncoding, DataConfig, TextDataConfig, InstructionsDataConfig, TrainConfig, EvalConfig, RuntimeConfig, Experiment,
} from './config/experiment';
export {
  StageSchema, StagesSchema, checkStageObjectives, compilePattern, fillStageSteps, patternError, stageParameterNames,
  totalStageSteps,
} from './config/stages';
export type { StageConfig } from './config/stages';
export { recordConfigPlaces, configPlace, isLoadedConfig } from './config/places';
export { INIT_SOURCE_KINDS, InitSchema, InitSourceSchema, FrozenSchema, initSourceOf } from './config/init';
export type { InitSource, InitSourceKind } from './config/init';

// data: image sets, Fashion-MNIST, captions, scenes, pairs, IDX and caption-file readers, image decoding,
// the image-text loader (with the run's tokenizer)
export { checkImageSet, imageAt, imageBatch, imageBytes, imageSize, selectImages } from './data/types';
export type { ImageSet } from './data/types';
export {
  FMNIST_CLASS_NAMES, FMNIST_PROMPT_TEMPLATES, FMNIST_SHORT_NAMES, FMNIST_SYNONYMS, articleFor, classPrompts,
  fillTemplate,
} from './data/fmnist-classes';
export { CAPTION_TEMPLATES, captionFor, captionsFor } from './data/captions';
export {
  buildScenes, canonicalDescription, checkSceneItems, describeScene, drawLayout, layoutCaption, layoutCaptions, positionName,
  renderScene, SCENE_CAPTION_STYLES, SCENE_QUESTION_KINDS, sceneCaptions, sceneQuestions, sceneRelations, swapPositions, twinSwap,
} from './data/scenes';
export type { QaPair, Scene, SceneCaptionStyle, SceneGrid, SceneItem, SceneOptions, SceneQuestionKind, SceneSet } from './data/scenes';
export { corruptCaptions, noisySceneCaptions } from './data/noisy-captions';
export type { CorruptionOptions, NoisyCaption } from './data/noisy-captions';
export { resizeImageSet } from './data/resize';
export { imageSetPairs, concatPairs, batchIndices, epochOrder, groupedPairs } from './data/pairs';
export type { PairSource } from './data/pairs';
export { IDX_UBYTE, encodeIdx, isGzip, parseIdx, readIdx, writeIdx } from './data/idx';
export type { IdxArray } from './data/idx';
export {
  EMBEDDED_FASHION_MNIST_ROOT, FASHION_MNIST_FILES, FULL_FASHION_MNIST_ROOT, loadFashionMnist,
} from './data/fmnist';
export { readCaptions, readCaptionsCsv, readCaptionsJsonl, readCocoCaptions } from './data/readers';
export type { CaptionRecord, ReaderOptions } from './data/readers';
export { decodeImage } from './data/image';
export { DATASET_KEYS } from './data/dataset-keys';
export type { DecodeOptions } from './data/image';
export { imagePreprocessor } from './data/preprocess';
export type { ImageInput, ImagePreprocess } from './data/preprocess';
export { writePng } from './data/image-write';
export {
  loadImageTextData, scenePairs, makeImageTextBatch, evaluateDualEncoder, evaluateZeroShot, evaluateRetrieval,
  RETRIEVAL_GALLERY_SEED,
} from './data/image-text';
export type { ImageTextBatch, ImageTextData, DualEncoderMetrics, RetrievalGallery } from './data/image-text';
// real English text: the Brown corpus, WordNet glosses, the text corpus with its fixed held-out split
export { brownDir, brownFileNames, brownPlainText, readBrownFile, untagBrownLine } from './data/brown';
export { WORDNET_DATA_FILES, glossText, parseWordNetLine, readWordNetGlosses, wordnetDir } from './data/wordnet';
export type { WordNetGloss, WordNetPos } from './data/wordnet';
export { HELD_OUT_FRACTION, brownDocuments, loadTextCorpus, splitHeldOut, wordnetDocuments } from './data/text-corpus';
export type { TextCorpus, TextCorpusOptions, TextDocument, TextSource } from './data/text-corpus';
export { IGNORE_LABEL, documentSequence, loadTextData, makeTextBatch, sequenceWindows, tokenizeTextData, windowBatch } from './data/text-batches';
export type { TextData, TextTokens } from './data/text-batches';
export { CHAT_TEMPLATES, CHAT_TEMPLATE_NAMES, LLAVA_V1_SYSTEM, chatPieces, chatTemplateJinja, chatText, splitAtImage } from './data/chat-templates';
export type { ChatPiece, ChatTemplate, ChatTemplateName, ChatTurn } from './data/chat-templates';
export {
  DIALOGUE_GRID, DIALOGUE_KINDS, HELD_OUT_SEED, drawDialogue, glossDefinition, heldOutQuestions, isHeldOutLayout, loadDefinitions,
  trainingDialogues,
} from './data/dialogues';
export type { Definition, Dialogue, DialogueKind, DialogueMix, DialogueSources } from './data/dialogues';
export {
  dialogueBatchArrays, dialogueOptions, dialogueTemplates, dialogueTexts, loadDialogueData, majorityAnswer, makeDialogueBatch, mostFrequent, pieceIds,
  tokenizeDialogues,
} from './data/dialogue-batches';
export type { DialogueData, DialogueIds, DialogueTokens } from './data/dialogue-batches';
// scene instruction data for the bridge models (issue 17): tasks, layouts of BLIP-2 / InstructBLIP / MiniGPT-4 / LLaVA, batches
export {
  INSTRUCTION_TEMPLATE_NAMES, INSTRUCTION_WORDINGS, answerEnd, answerStop, cutAnswer, instructionPieces, isMultiTurn,
} from './data/instruction-templates';
export type { AnswerStop, InstructionTemplateName, WordingGroup } from './data/instruction-templates';
export {
  EVALUATED_TASKS, HELD_IN_TASKS, HELD_OUT_TASKS, INSTRUCTION_HELD_OUT_SEED, SCENE_TASKS, YES_NO_TASKS, drawInstruction, heldOutInstructions,
  majorityAnswers, answerLists, sceneDescription, trainingInstructions, trainingTasks,
} from './data/scene-instructions';
export type { SceneInstruction, SceneTask, SceneTaskMix } from './data/scene-instructions';
export {
  INSTRUCTION_TEST_SCENE_SEED, answerCandidateIds, blankImageBatch, imagePrompt, instructionEvalSet, instructionIds, instructionOptions, instructionTexts, loadInstructionData,
  makeInstructionBatch, tokenizeInstructions,
} from './data/instruction-batches';
export type { ImagePrompt, InstructionBatchInputs, InstructionData, InstructionEvalSet, InstructionRow, InstructionTokens } from './data/instruction-batches';

// tokenizers of a run: the tokenizers: config, building, saving and loading by kind; the byte-level BPE trainer
export * from './tokenizers';

// training: optimizer, schedule, one step, the trainer
export { AdamW, adamwUpdate, clipGradNorm, defaultDecayFilter } from './train/optimizer';
export type { AdamWOptions } from './train/optimizer';
export { cosineLr } from './train/schedule';
export { trainStep } from './train/step';
export type { StepResult } from './train/step';
export { runTraining } from './train/trainer';
export type {
  TrainerOptions, TrainSummary, HistoryPoint, ActiveStage, StageSummary, StagePosition,
} from './train/trainer';

// weights from elsewhere (`init:`) and frozen parts (`frozen:`): component paths, config hashes, source weights,
// prerequisite runs built once
export {
  WHOLE_MODEL, underPrefix, selectParameters, frozenParameterNames, checkInitTargets, checkComponentPaths, modelParameters,
  componentPathHint,
} from './init/component-paths';
export type { Selection, ParamInfo } from './init/component-paths';
export { canonicalJson, configHash } from './init/config-hash';
export { readRunWeights, readCheckpointWeights, readSafetensorsWeights } from './init/weights';
export type { InitWeights } from './init/weights';
export { applyInit, initRenamer, initTokenizers } from './init/apply';
export type { InitEntry, InitLoaded } from './init/apply';
export { PREREQUISITE_FOLDER, prerequisiteRunDirs, isFinishedRunOf, buildOnce } from './init/prerequisite';
export type { BuildOnceOptions } from './init/prerequisite';

// run folders: atomic files, checkpoints, locks, markers, test hooks
export { writeFileAtomic, readSafetensorsFile, writeSafetensorsFile } from './run/files';
export {
  saveCheckpoint, latestCheckpoint, resolveLatestCheckpoint, findCheckpoint, loadCheckpoint, readCheckpointMeta, loadWeightsFile,
  verifyCheckpoint, assertFiniteTensors, isCompleteCheckpoint, cleanUpCheckpointTemps,
  CHECKPOINT_DIR,
} from './run/checkpoint';
export type { CheckpointMeta, CheckpointFileHash, CheckpointRef, LatestCheckpoint } from './run/checkpoint';
export { FS_ERROR_REASONS, fsErrorReason, processAlive } from './run/fs-errors';
export { acquireRunLock, lockPath, RunLockedError, LOCK_HEARTBEAT_SECONDS, LOCK_STALE_SECONDS } from './run/lock';
export type { LockInfo, RunLock } from './run/lock';
export {
  RUN_MARKER, isMarkedRunFolder, markRunFolder, checkRunFolderPath, runFolderState, refuseForeign, ensureRunFolder,
  moveAside, discardAside, restoreAside, cleanUpAside,
} from './run/run-folder';
export type { RunMarker, RunFolderState } from './run/run-folder';
export { killPoint } from './run/test-hooks';

// evaluation tasks: zero-shot, retrieval, ITM re-ranking, linear probe, caption metrics, CapFilt filter metrics,
// Kneser-Ney n-gram baselines of language models
export { embedInBatches } from './eval/dual-encoder';
export type { DualEncoder } from './eval/dual-encoder';
export { ensembleClassEmbeddings, zeroShotAccuracy } from './eval/zero-shot';
export { retrievalRecall, retrievalRecallFromScores, chanceAtK, pessimisticRank } from './eval/retrieval';
export type { RecallAtK } from './eval/retrieval';
export { itmRerankedRecall, scorePairs } from './eval/itm-rerank';
export type { RerankedRecall } from './eval/itm-rerank';
export { linearProbe, top1Accuracy } from './eval/linear-probe';
export type { LinearProbeOptions, LinearProbeResult } from './eval/linear-probe';
export {
  captionTokens, ngramCounts, corpusBleu, ciderD, captionScores, bestConstantCaptions, ConstantScorer,
} from './eval/caption-metrics';
export type { BleuResult, CiderOptions, CiderResult, CaptionScores, ConstantCaption } from './eval/caption-metrics';
export { filterPrecisionRecall } from './eval/filter-metrics';
export type { FilterScores } from './eval/filter-metrics';
export { captionTestSet, constantCaptionPool, evaluateCaptioning } from './eval/caption-eval';
export type { CaptionEvalOptions, CaptionMetrics, CaptionTestSet } from './eval/caption-eval';
export { evaluateItm, swappedSceneCaptions } from './eval/itm-eval';
export type { ItmMetrics, ItmEvalOptions } from './eval/itm-eval';
export { FALLBACK_DISCOUNT, KneserNey, kneserNeyBaselines } from './eval/kneser-ney';
export type { KneserNeyOptions, Perplexity } from './eval/kneser-ney';
export { causalLmPerplexity } from './eval/perplexity';
export { accuracyByTask, constantAnswerAccuracy, normalizeVqaAnswer, vqaAccuracy, vqaExactMatch } from './eval/vqa-metrics';
export type { TaskAccuracy } from './eval/vqa-metrics';
export type { CausalLmPerplexityOptions } from './eval/perplexity';

// sessions: a spec's model built on its data with the run's tokenizer; the evaluation tasks specs request by name;
// a run loaded in one call (config, model at a checkpoint, tokenizer, image preprocessing); the model registry type
export {
  openSession, prepareSession, prepareContext, checkBatchSizes, buildModel, allocationError, evaluateSession,
  harnessInputs, mainTokenizer, imageTextOf, buildParts, savedTokenizers, openTokenizers, checkRunContract, sessionTraining, runSession, EVAL_TASKS,
  runEvalTask, checkEvalTasks, linearProbeTop1, loadRun, readRunConfig, loadRunTokenizers, findSpec,
  isTextData, isDialogueData, isInstructionData, loadSessionData, sessionBatch, sessionInstructionTokens, trainingSize, trainingTexts,
  CHAT_CONFIG_FILE, chatTokenizerConfig,
  writeChatTokenizerConfig, SAMPLE_NAMES, answerLogProbs, chatMetrics, sceneVqaMetrics, normaliseAnswer, shortAnswerExactMatch, yesNoMetrics,
} from './session';
export type {
  Session, TrainingSpec, EvalTask, ContractProblem, LoadedRun, LoadedCheckpoint, LoadRunOptions, SpecRegistry, SessionData, ScoredAnswer,
} from './session';
