import { Rng } from './rng';

/**
 * The random stream of one training step of a model: `new Rng(seed).fork('<model>-<index>')`, a function of the
 * run's data seed and the global micro-batch index only, so that a resumed run draws the same masks and hard
 * negatives as the uninterrupted one.
 * @param model the model's label in the fork (e.g. 'albef')
 * @param batch the run's data seed and the micro-batch index
 */
export function stepRng(model: string, batch: { seed: number; index: number }): Rng {
  return new Rng(batch.seed).fork(`${model}-${batch.index}`);
}
