import { tf, Tensor, LossOutput, TrainableModel } from '@mmzoo/core';
import { AdamW, clipGradNorm } from './optimizer';

/** Scalars reported by {@link trainStep}. */
export interface StepResult {
  loss: number;
  parts: Record<string, number>;
  /** global gradient norm before clipping */
  gradNorm: number;
  lr: number;
}

/**
 * One optimizer step with gradient accumulation: the gradients of `loss(micro)` over the micro-batches are
 * averaged, optionally clipped to a global norm, and applied with AdamW at learning rate `lr`. Leaves no
 * tensors behind (the caller disposes its batches).
 *
 * @param micro the micro-batches of this step (length = accumSteps >= 1)
 * @param loss maps one micro-batch to its {@link LossOutput}
 * @throws Error when the loss is not finite, or when some of the optimizer's parameters receive no gradient (naming
 *   them); the parameters are left unchanged
 */
export function trainStep<B>(
  model: TrainableModel, optimizer: AdamW, micro: B[], loss: (batch: B) => LossOutput, lr: number, clipNorm?: number,
): StepResult {
  const params = optimizer.params;
  const names = [...params.keys()];
  const vars = names.map((n) => params.get(n)!);
  const sums = new Map<string, Tensor>();
  const partSums: Record<string, number> = {};
  let lossSum = 0;
  for (const batch of micro) {
    let parts: Record<string, Tensor> = {};
    const { value, grads } = tf.variableGrads(() => {
      const out = loss(batch);
      parts = Object.fromEntries(Object.entries(out.parts).map(([k, t]) => [k, tf.keep(t)]));
      return out.total as tf.Scalar;
    }, vars);
    lossSum += value.dataSync()[0];
    for (const [k, t] of Object.entries(parts)) partSums[k] = (partSums[k] ?? 0) + t.dataSync()[0];
    tf.dispose([value, ...Object.values(parts)]);
    const missing = names.filter((_, i) => !grads[vars[i].name]);
    if (missing.length > 0) {
      tf.dispose([...Object.values(grads), ...sums.values()]);
      throw new Error(`${missing.length} trainable parameter(s) receive no gradient from the loss: ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ', ...' : ''}; leave them out of the optimizer (e.g. a stage's frozen patterns)`);
    }
    names.forEach((n, i) => {
      const g = grads[vars[i].name];
      const prev = sums.get(n);
      if (prev) {
        sums.set(n, prev.add(g));
        tf.dispose([prev, g]);
      } else sums.set(n, g);
    });
  }
  const k = micro.length;
  const lossMean = lossSum / k;
  if (!Number.isFinite(lossMean)) {
    tf.dispose([...sums.values()]);
    throw new Error(`loss is not finite (${lossMean}); parameters left unchanged`);
  }
  const mean = new Map<string, Tensor>();
  for (const [n, g] of sums) mean.set(n, k > 1 ? tf.tidy(() => g.div(k)) : g);
  if (k > 1) tf.dispose([...sums.values()]);
  const { grads, norm } = clipNorm ? clipGradNorm(mean, clipNorm) : { grads: mean, norm: globalNorm(mean) };
  optimizer.apply(grads, lr);
  tf.dispose([...mean.values()]);
  if (grads !== mean) tf.dispose([...grads.values()]);
  model.afterOptimizerStep?.();
  const parts = Object.fromEntries(Object.entries(partSums).map(([n, v]) => [n, v / k]));
  return { loss: lossMean, parts, gradNorm: norm, lr };
}

function globalNorm(grads: Map<string, Tensor>): number {
  return tf.tidy(() => tf.addN([...grads.values()].map((g) => g.square().sum())).sqrt().dataSync()[0]);
}
