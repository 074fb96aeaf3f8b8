import { tf, Module, Tensor, Variable } from '@mmzoo/core';

/** tf.keep on every tensor of a nested output record (a model step's outputs made inside `tf.variableGrads`). */
export function keepAll(x: unknown): void {
  if (x instanceof tf.Tensor) tf.keep(x);
  else if (x && typeof x === 'object' && !ArrayBuffer.isView(x)) for (const v of Object.values(x)) keepAll(v);
}

/** Disposes every tensor of a nested output record. */
export function disposeAll(x: unknown): void {
  if (x instanceof tf.Tensor) x.dispose();
  else if (x && typeof x === 'object' && !ArrayBuffer.isView(x)) for (const v of Object.values(x)) disposeAll(v);
}

/**
 * Runs `step` under `tf.variableGrads` of the loss `which(out)` with respect to the model's variables `names`, keeping
 * the whole output (the caller disposes it with {@link disposeAll}). Every variable is kept connected to the loss
 * (`+ 0 * sum(v)`, since tfjs refuses a loss with no path to any of them), so one the loss does not reach gets a zero
 * gradient.
 * @param rename a name of `names` -> the model's parameter name (default: the same)
 * @returns the outputs and the gradients keyed by `names`
 * @throws Error naming a variable the model lacks
 */
export function stepGrads<O>(
  model: Module, names: string[], step: () => O, which: (out: O) => Tensor, rename: (name: string) => string | null = (n) => n,
): { out: O; grads: Map<string, Tensor> } {
  const params = model.namedParameters();
  const vars = names.map((n) => {
    const v = params.get(rename(n) ?? '');
    if (!v) throw new Error(`no variable for ${n}`);
    return v;
  });
  let out!: O;
  const { value, grads } = tf.variableGrads(() => {
    out = step();
    keepAll(out);
    return which(out).add(tf.addN(vars.map((v) => v.sum().mul(0)))) as tf.Scalar;
  }, vars);
  value.dispose();
  return { out, grads: new Map(names.map((n, i) => [n, grads[vars[i].name] ?? tf.zerosLike(vars[i])])) };
}
