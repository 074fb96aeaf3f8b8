export { main } from './main';
export { MODELS, getModel, loadRun } from './specs';
