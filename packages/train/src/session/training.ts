/** What the trainer needs from a session: its batches, its objective and the meta.json every checkpoint carries. */
import { batchTensors } from '@mmzoo/core';
import type { Batch } from '@mmzoo/core';
import { sessionBatch } from './datasets';
import type { TrainerOptions } from '../train/trainer';
import { tokenizersMeta } from '../tokenizers/saved';
import { configPlace } from '../config/places';
import { frozenParameterNames } from '../init/component-paths';
import { Session, savedTokenizers } from './session';

/**
 * The session-specific options of `runTraining` (train/trainer.ts), as `mmzoo train` uses them: micro-batch `i` of
 * the training data (pairs, or text windows: session/datasets `sessionBatch`; a stage's batches are batches of its
 * batch size; its `data` says which side its objectives use), disposed after the step; the model's `trainingLoss`; the checkpoint meta (config, the saved tokenizers
 * with their kinds, model name); and the parameters the config's `frozen:` holds fixed.
 * @throws ConfigError naming `frozen[i]` for an entry that selects no trainable parameter (`frozenParameterNames`)
 */
export function sessionTraining(s: Session): Required<Pick<TrainerOptions<Batch>, 'makeBatch' | 'disposeBatch' | 'loss' | 'meta' | 'frozen'>> {
  const t = s.config.train;
  const seed = s.config.data.seed ?? t.seed;
  return {
    frozen: frozenParameterNames(s.model.namedParameters(), s.spec.components(s.config.model), s.config.frozen, (p) => configPlace(s.config, p)),
    makeBatch: (i, stage) => sessionBatch(s, i, stage?.batchSize ?? t.batchSize, seed),
    disposeBatch: (b) => b && batchTensors(b).forEach((x) => x.dispose()),
    loss: (b, stage) => s.model.trainingLoss(b, stage),
    meta: { config: s.config, ...tokenizersMeta(savedTokenizers(s)), model: s.config.model.name },
  };
}
