export {
  openSession, prepareSession, prepareContext, checkBatchSizes, buildModel, allocationError, evaluateSession,
  imageTextInputs,
} from './session';
export type { Session, ImageTextSpec } from './session';
export { EVAL_TASKS, runEvalTask, checkEvalTasks, linearProbeTop1 } from './tasks';
export type { EvalTask } from './tasks';
