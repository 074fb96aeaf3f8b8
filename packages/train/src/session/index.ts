export {
  openSession, prepareSession, prepareContext, checkBatchSizes, buildModel, allocationError, evaluateSession,
  imageTextInputs, runSession,
} from './session';
export { loadRun, readRunConfig, loadRunTokenizer } from './load-run';
export type { LoadedRun, LoadedCheckpoint, LoadRunOptions } from './load-run';
export { findSpec } from './registry';
export type { SpecRegistry } from './registry';
export type { Session, ImageTextSpec } from './session';
export { EVAL_TASKS, runEvalTask, checkEvalTasks, linearProbeTop1 } from './tasks';
export type { EvalTask } from './tasks';
