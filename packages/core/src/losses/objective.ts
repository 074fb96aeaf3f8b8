import { tf, Tensor, Variable } from '../tf';

/**
 * A training objective's value: the scalar to minimise and its named parts (`itc`, `itm`, `mlm`, `lm`, ...). A type,
 * not an interface, so that a model may return it from `tf.tidy`.
 */
export type LossOutput = {
  /** float32 scalar */
  total: Tensor;
  /** float32 scalars, one per objective term */
  parts: Record<string, Tensor>;
};

/** What the trainer needs of a model. */
export interface TrainableModel {
  trainableParameters(): Map<string, Variable>;
  /** optional hook run after each optimizer step (e.g. CLIP clamps its logit scale) */
  afterOptimizerStep?(): void;
}

/** One weighted term of a training objective: named parts whose sum is weighted (e.g. VLMo's `itc`, BEiT-3's `mim + mlm + vlm`). */
export interface ObjectiveTerm {
  /** float32 scalars, reported unweighted */
  parts: Record<string, Tensor>;
  /** the weight of their sum in the total */
  weight: number;
}

/**
 * A training objective from weighted terms (VLMo section 3.2, BEiT-3 section 2.2 and their stages): `total = 0 +
 * w_1 * sum(parts_1) + w_2 * sum(parts_2) + ...`, added in order; every part reported unweighted. Call it inside
 * the caller's `tf.tidy`.
 * @param terms in the order they add up; empty gives total 0 and no parts
 */
export function weightedObjective(terms: readonly ObjectiveTerm[]): LossOutput {
  const parts: Record<string, Tensor> = {};
  let total: Tensor = tf.scalar(0);
  for (const term of terms) {
    const values = Object.values(term.parts);
    if (values.length === 0) continue;
    Object.assign(parts, term.parts);
    total = total.add((values.length === 1 ? values[0] : tf.addN(values)).mul(term.weight));
  }
  return { total, parts };
}
