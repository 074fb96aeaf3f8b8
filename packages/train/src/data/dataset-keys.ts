/** Which batch keys each dataset of `data.dataset` yields (the dataset side of the run contract). */
import type { BatchKey } from '@mmzoo/core';
import type { DataConfig } from '../config/experiment';

/**
 * The batch keys each dataset yields: every dataset today is image-caption pairs, `image` float32 [B, C, H, W] and
 * `text` (captions, as ids of the run's `text` tokenizer). A model needing a key its dataset does not yield is refused
 * when the config loads.
 */
export const DATASET_KEYS: { readonly [D in DataConfig['dataset']]: readonly BatchKey[] } = {
  fmnist: ['image', 'text'],
  csv: ['image', 'text'],
  coco: ['image', 'text'],
  jsonl: ['image', 'text'],
};
