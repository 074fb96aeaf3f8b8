export {
  openSession, prepareSession, prepareContext, checkBatchSizes, buildModel, allocationError, evaluateSession,
  imageTextInputs, buildParts, savedTokenizers, openTokenizers,
} from './session';
export { checkRunContract } from './contract';
export { sessionTraining } from './training';
export type { ContractProblem } from './contract';
export type { Session, ImageTextSpec } from './session';
export { EVAL_TASKS, runEvalTask, checkEvalTasks, linearProbeTop1 } from './tasks';
export type { EvalTask } from './tasks';
