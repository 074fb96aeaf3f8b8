import { BuildParts, ConfigError, ModelSpec, withShapesOnly } from '@mmzoo/core';
import type { Module } from '@mmzoo/core';
import { Experiment } from '../config/experiment';
import { configPlace } from '../config/places';

/**
 * Component paths: how `init:` targets, `init.<target>.component`, `init.<target>.skip` and `frozen:` name a part
 * of a model. A path is
 * - `model`: the whole model (every parameter and buffer);
 * - a component of the model's spec (`spec.components(cfg)`, e.g. `vision`): the trainable parameters it owns;
 * - otherwise a dotted parameter-name prefix (`visual_encoder`, `text_encoder.bert.encoder.layer.0`): every
 *   parameter named by it or under it (`visual` covers `visual.proj` and `visual.conv1.weight`, not `visual_encoder.x`;
 *   a trailing dot is ignored).
 * A component name wins over a prefix of the same spelling.
 */
export const WHOLE_MODEL = 'model';

/** What a component path resolves to on a model's parameters (see {@link WHOLE_MODEL}). */
export interface Selection {
  kind: 'model' | 'component' | 'prefix';
  /** the selected parameter names, in the model's order */
  names: string[];
}

/** Whether `name` is `prefix` or lies under it (dotted; a trailing dot of `prefix` is ignored; `''` covers every name). */
export function underPrefix(name: string, prefix: string): boolean {
  const p = prefix.endsWith('.') ? prefix.slice(0, -1) : prefix;
  return p === '' || name === p || name.startsWith(`${p}.`);
}

/** A parameter as selection needs it: a tf Variable or a shape-only placeholder. */
export interface ParamInfo {
  trainable: boolean;
  shape: readonly number[];
}

/**
 * The parameters a component path selects (see {@link WHOLE_MODEL}).
 * @param params the model's parameters by name (`namedParameters()`)
 * @param components the spec's components of this model (`spec.components(cfg)`), or undefined when the model is
 *   not known (a safetensors file: prefixes and `model` only)
 */
export function selectParameters(pathName: string, params: ReadonlyMap<string, ParamInfo>, components?: Record<string, (name: string) => boolean>): Selection {
  const names = [...params.keys()];
  if (pathName === WHOLE_MODEL) return { kind: 'model', names };
  const owns = components && Object.prototype.hasOwnProperty.call(components, pathName) ? components[pathName] : undefined;
  if (owns) return { kind: 'component', names: names.filter((n) => params.get(n)!.trainable && owns(n)) };
  return { kind: 'prefix', names: names.filter((n) => underPrefix(n, pathName)) };
}

/**
 * What a component path could have named, for messages: `components: a, b; parameter prefixes: x, y, ...` (the
 * components, or `none known` without a model config, and the first 8 top-level name prefixes).
 */
export function componentPathHint(components: Record<string, unknown> | undefined, names: readonly string[]): string {
  const tops = [...new Set(names.map((n) => n.split('.')[0]))];
  const comps = components ? Object.keys(components) : [];
  return `components: ${comps.length ? comps.join(', ') : 'none known'}; parameter prefixes: ${tops.slice(0, 8).join(', ')}${tops.length > 8 ? ', ...' : ''}`;
}

/**
 * The trainable parameter names the experiment's `frozen:` list holds fixed.
 * @param params the model's parameters by name (a built model's or a shape-only build's `namedParameters()`)
 * @param components `spec.components(cfg.model)`
 * @param placeOf the `file:line:col: key.path: ` prefix of a config path (`configPlace`)
 * @throws ConfigError `<file>:<line>:<col>: frozen[0]: 'visoin' is neither a component of the model nor a prefix of a
 *   trainable parameter (components: ...; parameter prefixes: ...)` for an entry that selects no trainable parameter, and `frozen: leaves no
 *   trainable parameter` when every one is frozen
 */
export function frozenParameterNames(
  params: ReadonlyMap<string, ParamInfo>, components: Record<string, (name: string) => boolean>, frozen: readonly string[] | undefined,
  placeOf: (p: (string | number)[]) => string,
): string[] {
  if (!frozen?.length) return [];
  const trainable = new Map([...params].filter(([, v]) => v.trainable));
  const out = new Set<string>();
  frozen.forEach((entry, i) => {
    const { names } = selectParameters(entry, trainable, components);
    if (names.length === 0) {
      throw new ConfigError(`${placeOf(['frozen', i])}'${entry}' is neither a component of the model nor a prefix of a trainable parameter (${componentPathHint(components, [...trainable.keys()])}); momentum copies and buffers are never trained`);
    }
    for (const n of names) out.add(n);
  });
  if (out.size === trainable.size) throw new ConfigError(`${placeOf(['frozen'])}leaves no trainable parameter; freeze less`);
  return [...trainable.keys()].filter((n) => out.has(n));
}

/**
 * The parameters an `init:` entry's `skip` list leaves as built: each entry a component path (a component of the
 * model or a parameter-name prefix, as {@link selectParameters} reads it), e.g. `skip: [qformerText]`.
 */
export function skippedParameters(skip: readonly string[] | undefined, params: ReadonlyMap<string, ParamInfo>, components: Record<string, (name: string) => boolean>): Set<string> {
  return new Set((skip ?? []).flatMap((entry) => selectParameters(entry, params, components).names));
}

/**
 * Checks the targets of the experiment's `init:` (and each entry's `skip` paths) against the model's parameters.
 * @throws ConfigError naming `init.<target>` for a target that selects no parameter, `init.<target>.skip[i]` for a
 *   skip path that selects none of the target's, and `init.<target>` when two targets load one parameter (a parameter
 *   one entry skips may come from another)
 */
export function checkInitTargets(
  params: ReadonlyMap<string, ParamInfo>, components: Record<string, (name: string) => boolean>, init: Experiment['init'],
  placeOf: (p: (string | number)[]) => string,
): void {
  const owner = new Map<string, string>();
  for (const [target, source] of Object.entries(init ?? {})) {
    const { names } = selectParameters(target, params, components);
    if (names.length === 0) throw new ConfigError(`${placeOf(['init', target])}'${target}' is not '${WHOLE_MODEL}', a component of the model or a prefix of its parameters (${componentPathHint(components, [...params.keys()])})`);
    (source.skip ?? []).forEach((s, i) => {
      const skipped = skippedParameters([s], params, components);
      if (!names.some((n) => skipped.has(n))) throw new ConfigError(`${placeOf(['init', target, 'skip', i])}'${s}' is neither a component nor a prefix of any parameter of init target '${target}' (e.g. ${names.slice(0, 3).join(', ')})`);
    });
    const skipped = skippedParameters(source.skip, params, components);
    for (const n of names.filter((x) => !skipped.has(x))) {
      const other = owner.get(n);
      if (other !== undefined) throw new ConfigError(`${placeOf(['init', target])}'${target}' and '${other}' both load '${n}'; give each parameter one source`);
      owner.set(n, target);
    }
  }
}

/**
 * What the tokenizers give a builder, stood in for by fixed values where only parameter names and trainability are
 * wanted (they do not depend on the vocabulary): mmzoo's word tokenizer ids ([PAD] 0, [SEP] 3), 1,000 words, for
 * every tokenized input.
 */
const STAND_IN_FACTS = { vocabSize: 1000, eotId: 3, padId: 0 };
const STAND_IN_PARTS: BuildParts = { ...STAND_IN_FACTS, tokenizers: { text: STAND_IN_FACTS, lm: STAND_IN_FACTS } };

/**
 * The parameters (name, trainability, shape) of the model a config describes, from a shape-only build
 * (`withShapesOnly`: nothing allocated) with stand-in tokenizer parts: names and trainability are exact; shapes
 * that depend on the vocabulary are not.
 */
export function modelParameters(spec: ModelSpec<any, Module>, modelConfig: unknown): Map<string, ParamInfo> {
  const model = withShapesOnly(() => spec.build(modelConfig, STAND_IN_PARTS));
  try {
    return new Map([...model.namedParameters()].map(([n, v]) => [n, { trainable: v.trainable, shape: [...v.shape] }]));
  } finally {
    model.dispose();
  }
}

/**
 * Checks a loaded experiment's `init:` targets and `frozen:` entries against its model's parameters (a shape-only
 * build), so that a misspelt component is reported before anything is trained or built.
 * @throws ConfigError from {@link checkInitTargets} and {@link frozenParameterNames}, with the config's file and line
 */
export function checkComponentPaths(spec: ModelSpec<any, Module>, config: Pick<Experiment<any>, 'model' | 'init' | 'frozen'>): void {
  if (!config.init && !config.frozen?.length) return;
  const params = modelParameters(spec, config.model);
  const components = spec.components(config.model);
  const placeOf = (p: (string | number)[]) => configPlace(config, p);
  checkInitTargets(params, components, config.init, placeOf);
  frozenParameterNames(params, components, config.frozen, placeOf);
}
