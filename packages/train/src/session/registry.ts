import type { Module, ModelSpec } from '@mmzoo/core';

/**
 * A model registry: `model.name` -> the model package's spec (the CLI's `MODELS` map). @mmzoo/train imports no model
 * package, so what needs the registry (e.g. {@link loadRun}) takes one as a parameter.
 * @typeParam M the models its specs build
 */
export type SpecRegistry<M extends Module> = Readonly<Record<string, ModelSpec<unknown, M>>>;

/**
 * The spec registered under `name`: an own key of the registry, never a prototype member such as `toString`.
 * @param where how to name the place of the name in the error (default `model.name`)
 * @throws Error `<where>: unknown model '<name>'; registered models: clip, albef, ...`
 */
export function findSpec<M extends Module>(specs: SpecRegistry<M>, name: string, where = 'model.name'): ModelSpec<unknown, M> {
  const spec = Object.prototype.hasOwnProperty.call(specs, name) ? specs[name] : undefined;
  if (!spec) throw new Error(`${where}: unknown model '${name}'; registered models: ${Object.keys(specs).join(', ')}`);
  return spec;
}
