/**
 * mmzoo Node-only entry point: IDX and Fashion-MNIST loading, user caption-file readers, image decoding.
 * Uses fs, zlib and sharp; browser code imports the data layer from `../data` instead.
 */
export { IDX_UBYTE, encodeIdx, isGzip, parseIdx, readIdx, writeIdx } from './idx';
export type { IdxArray } from './idx';
export { EMBEDDED_FASHION_MNIST_ROOT, FASHION_MNIST_FILES, FULL_FASHION_MNIST_ROOT, loadFashionMnist } from './fmnist';
export { readCaptions, readCaptionsCsv, readCaptionsJsonl, readCocoCaptions } from './readers';
export type { CaptionRecord, ReaderOptions } from './readers';
export { decodeImage } from './image';
export type { DecodeOptions } from './image';
export { writePng } from './image-write';
export { writeFileAtomic, readSafetensorsFile, writeSafetensorsFile } from './files';
export {
  saveCheckpoint, latestCheckpoint, resolveLatestCheckpoint, loadCheckpoint, readCheckpointMeta, loadWeightsFile, verifyCheckpoint, assertFiniteTensors,
  assertFiniteCheckpoint,
  isCompleteCheckpoint, cleanUpCheckpointTemps, CHECKPOINT_DIR,
} from './checkpoint';
export type { CheckpointMeta, CheckpointFileHash, LatestCheckpoint } from './checkpoint';
export { runTraining } from './trainer';
export type { TrainerOptions, TrainSummary, HistoryPoint, ActiveStage, StageSummary, StagePosition } from './trainer';
export {
  loadImageTextData, scenePairs, buildTokenizer, makeImageTextBatch, evaluateDualEncoder, RETRIEVAL_GALLERY_SEED,
} from './image-text';
export type { ImageTextBatch, ImageTextData, DualEncoderMetrics, RetrievalGallery } from './image-text';
export { captionTestSet, constantCaptionPool, evaluateCaptioning } from './caption-eval';
export type { CaptionEvalOptions, CaptionMetrics, CaptionTestSet } from './caption-eval';
export { evaluateItm, swappedSceneCaptions } from './itm-eval';
export type { ItmMetrics, ItmEvalOptions } from './itm-eval';
export { acquireRunLock, lockPath, RunLockedError, LOCK_HEARTBEAT_SECONDS, LOCK_STALE_SECONDS } from './lock';
export type { LockInfo, RunLock } from './lock';
export {
  RUN_MARKER, isMarkedRunFolder, markRunFolder, checkRunFolderPath, runFolderState, refuseForeign, ensureRunFolder, moveAside, discardAside,
  restoreAside, cleanUpAside,
} from './run-folder';
export type { RunMarker, RunFolderState } from './run-folder';
export { killPoint } from './test-hooks';
