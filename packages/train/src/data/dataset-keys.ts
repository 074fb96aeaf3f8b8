/** Which batch keys each dataset of `data.dataset` yields (the dataset side of the run contract). */
import type { BatchKey } from '@mmzoo/core';
import type { DataConfig } from '../config/experiment';

/** A key a dataset may yield: a modality ({@link BatchKey}) or supervision (`labels`, `lossMask`; core `Batch`). */
export type DatasetKey = BatchKey | 'labels' | 'lossMask';

/**
 * The batch keys each dataset yields. Image-caption datasets: `image` float32 [B, C, H, W] and `text` (captions, as
 * ids of the run's `text` tokenizer). `text` (the text corpus): `text` int32 [B, L] token windows and `labels` int32
 * [B, L], the next id of each position (data/text-batches.ts). `dialogue` (text dialogues in a chat template): `text`
 * and `labels`, -100 but where the next id is an answer's (data/dialogue-batches.ts). `sceneInstructions`: `image`, `lm`
 * (the language model's ids with one core `IMAGE_TOKEN_INDEX` per row), `labels` aligned with `lm`, and `text` (the
 * instruction in the `text` tokenizer, for a Q-Former that reads it; in a batch only when the model takes `text`)
 * (data/instruction-batches.ts). A model needing a key its dataset does not yield is refused when the config loads.
 */
export const DATASET_KEYS: { readonly [D in DataConfig['dataset']]: readonly DatasetKey[] } = {
  fmnist: ['image', 'text'],
  csv: ['image', 'text'],
  coco: ['image', 'text'],
  jsonl: ['image', 'text'],
  text: ['text', 'labels'],
  dialogue: ['text', 'labels'],
  sceneInstructions: ['image', 'lm', 'labels', 'text'],
};
