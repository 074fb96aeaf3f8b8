import { Rng } from '../../packages/core/src/data/rng';
import { SceneItem } from '../../packages/train/src/data/scenes';
import { ImageSet } from '../../packages/train/src/data/types';

/**
 * 30 labelled 4x4 single-channel images (3 per class, labels i % 10), every pixel in [1, 255] so that empty scene
 * cells (0) are told apart. @param seed the pixel stream's seed
 */
export function syntheticSceneSource(seed = 99): ImageSet {
  const count = 30;
  const rng = new Rng(seed);
  const images = Uint8Array.from({ length: count * 16 }, () => 1 + rng.int(255));
  const labels = Int32Array.from({ length: count }, (_, i) => i % 10);
  return { images, count, channels: 1, height: 4, width: 4, labels };
}

/** The 2x2 scene grid of the scene tests. */
export const GRID = { rows: 2, cols: 2 };

/** A scene item of class `label` in cell (row, col); sourceIndex -1: no source image. */
export const sceneItem = (label: number, row: number, col: number, sourceIndex = -1): SceneItem => ({ label, row, col, sourceIndex });
