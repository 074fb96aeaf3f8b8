/** What the trainer needs from a session: its batches, its objective and the meta.json every checkpoint carries. */
import { batchTensors } from '@mmzoo/core';
import type { ImageTextBatch } from '@mmzoo/core';
import { makeImageTextBatch } from '../data/image-text';
import type { TrainerOptions } from '../train/trainer';
import { tokenizersMeta } from '../tokenizers/saved';
import { Session, savedTokenizers } from './session';

/**
 * The session-specific options of `runTraining` (train/trainer.ts), as `mmzoo train` uses them: micro-batch `i` of
 * the training pairs (a stage's batches are pair batches of its batch size; its `data` says which side its objectives
 * use), disposed after the step; the model's `trainingLoss`; and the checkpoint meta (config, the saved tokenizers
 * with their kinds, model name).
 */
export function sessionTraining(s: Session): Pick<TrainerOptions<ImageTextBatch>, 'makeBatch' | 'disposeBatch' | 'loss' | 'meta'> {
  const t = s.config.train;
  const seed = s.config.data.seed ?? t.seed;
  return {
    makeBatch: (i, stage) => makeImageTextBatch(s.data.train, s.tokenizer, i, stage?.batchSize ?? t.batchSize, s.contextLength, seed),
    disposeBatch: (b) => b && batchTensors(b).forEach((x) => x.dispose()),
    loss: (b, stage) => s.model.trainingLoss(b, stage),
    meta: { config: s.config, ...tokenizersMeta(savedTokenizers(s)), model: s.config.model.name },
  };
}
