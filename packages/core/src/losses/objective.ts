import { Tensor, Variable } from '../tf';

/** A training objective's value: the scalar to minimise and its named parts (`itc`, `itm`, `mlm`, `lm`, ...). */
export interface LossOutput {
  /** float32 scalar */
  total: Tensor;
  /** float32 scalars, one per objective term */
  parts: Record<string, Tensor>;
}

/** What the trainer needs of a model. */
export interface TrainableModel {
  trainableParameters(): Map<string, Variable>;
  /** optional hook run after each optimizer step (e.g. CLIP clamps its logit scale) */
  afterOptimizerStep?(): void;
}
