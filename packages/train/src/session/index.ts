export {
  openSession, prepareSession, prepareContext, checkBatchSizes, buildModel, allocationError, evaluateSession,
  harnessInputs, mainTokenizer, imageTextOf, buildParts, savedTokenizers, openTokenizers, runSession, SAMPLE_NAMES,
} from './session';
export { CHAT_CONFIG_FILE, chatTokenizerConfig, writeChatTokenizerConfig } from './chat-config';
export { answerLogProbs, chatMetrics, normaliseAnswer, shortAnswerExactMatch, yesNoMetrics } from './chat-task';
export { sceneVqaMetrics } from './scene-vqa-task';
export type { ScoredAnswer } from './chat-task';
export { checkRunContract } from './contract';
export { sessionTraining } from './training';
export type { ContractProblem } from './contract';
export { loadRun, readRunConfig, loadRunTokenizers } from './load-run';
export type { LoadedRun, LoadedCheckpoint, LoadRunOptions } from './load-run';
export { findSpec } from './registry';
export type { SpecRegistry } from './registry';
export type { Session, TrainingSpec } from './session';
export { EVAL_TASKS, runEvalTask, checkEvalTasks, linearProbeTop1 } from './tasks';
export type { EvalTask } from './tasks';
export {
  isTextData, isDialogueData, isInstructionData, loadSessionData, sessionBatch, sessionInstructionTokens, trainingSize, trainingTexts,
} from './datasets';
export type { SessionData } from './datasets';
