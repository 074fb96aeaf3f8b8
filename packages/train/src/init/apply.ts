import { ConfigError, copyTwins, hasInitTwins, hasMomentumCopies, loadStateDict, Module, RawTensor, Variable } from '@mmzoo/core';
import { InitSource } from '../config/init';
import { ParamInfo, Selection, WHOLE_MODEL, componentPathHint, selectParameters, skippedParameters, underPrefix } from './component-paths';
import { InitWeights } from './weights';
import type { SavedTokenizers } from '../tokenizers/saved';

/** One resolved `init:` entry: its target, its config and the tensors its source holds. */
export interface InitEntry {
  /** the entry's key: `model`, a component of the model or a parameter-name prefix */
  target: string;
  source: InitSource;
  weights: InitWeights;
  /**
   * the source model's parameters and components, when the source is a run whose config is known (a shape-only build
   * of its `model:` section); lets `component` name one of the source model's components
   */
  sourceModel?: { params: ReadonlyMap<string, ParamInfo>; components: Record<string, (name: string) => boolean> };
}

/** The tokenizers each entry's run saved, by entry (for tokenizer kind `init`; tokenizers/build `initTokenizer`). */
export function initTokenizers(entries: readonly InitEntry[]): Record<string, SavedTokenizers> {
  return Object.fromEntries(entries.filter((e) => e.weights.tokenizers).map((e) => [e.target, e.weights.tokenizers!]));
}

/** What {@link applyInit} loaded for one entry. */
export interface InitLoaded {
  target: string;
  file: string;
  /** number of tensors loaded, and of target parameters left as built (`skip`) */
  tensors: number;
  skipped: number;
}

const shape = (s: readonly number[]) => `[${s.join(', ')}]`;

/** Shows the first of a list and how many more there are. */
function firstOf(list: string[]): string {
  return list.length > 1 ? `${list[0]} (and ${list.length - 1} more)` : list[0];
}

/**
 * A source-name -> target-name function from `map` (`{source prefix: target prefix | null}`, the longest matching
 * prefix wins; `''` matches every name) or, without one, from `implicit`; a name no rule covers keeps its spelling.
 * @returns the target name, or null for a name mapped to null (left out)
 */
export function initRenamer(map: Record<string, string | null> | undefined): (name: string) => string | null {
  const strip = (p: string) => (p.endsWith('.') ? p.slice(0, -1) : p);
  const rules = Object.entries(map ?? {}).map(([from, to]) => [strip(from), to === null ? null : strip(to)] as const).sort((a, b) => b[0].length - a[0].length);
  return (name) => {
    const rule = rules.find(([from]) => underPrefix(name, from));
    if (!rule) return name;
    const [from, to] = rule;
    if (to === null) return null;
    const rest = from === '' ? name : name.slice(from.length + 1);
    return to && rest ? `${to}.${rest}` : to || rest;
  };
}

/** The source tensors an entry takes (`component`, default its target): a component of the source model, a prefix or all. */
function sourceSelection(entry: InitEntry, where: string): Selection {
  const part = entry.source.component ?? entry.target;
  const tensors = new Map([...entry.weights.tensors].map(([n, t]) => [n, entry.sourceModel?.params.get(n) ?? { trainable: true, shape: t.shape }]));
  const sel = selectParameters(part, tensors, entry.sourceModel?.components);
  if (sel.names.length === 0) {
    const hint = componentPathHint(entry.sourceModel?.components, [...tensors.keys()]);
    throw new ConfigError(`${where}${entry.weights.file} has no component or parameters '${part}' (${hint}); name the part to take with component`);
  }
  return sel;
}

/** Target name -> [source name, tensor] for one entry, after every check of names, shapes and dtypes. */
function planEntry(entry: InitEntry, params: Map<string, Variable>, components: Record<string, (name: string) => boolean>, where: string): Map<string, [string, RawTensor]> {
  const file = entry.weights.file;
  const target = selectParameters(entry.target, params, components);
  const skipSet = skippedParameters(entry.source.skip, params, components);
  const skipped = (n: string) => skipSet.has(n);
  const wanted = new Set(target.names.filter((n) => !skipped(n)));
  const source = sourceSelection(entry, where);
  const part = entry.source.component ?? entry.target;
  // a prefix taken into another prefix is renamed from one to the other unless a map says otherwise
  const implicit = source.kind === 'prefix' && target.kind === 'prefix' && part !== entry.target ? { [part]: entry.target } : undefined;
  const rename = initRenamer(entry.source.map ?? implicit);
  const plan = new Map<string, [string, RawTensor]>();
  const unexpected: string[] = [];
  for (const from of source.names) {
    const to = rename(from);
    // left out by the map, or landing on a parameter the entry leaves as built
    if (to === null || (skipped(to) && target.names.includes(to))) continue;
    const raw = entry.weights.tensors.get(from)!;
    if (!wanted.has(to)) {
      unexpected.push(`'${from}' ${shape(raw.shape)}${to !== from ? ` (as '${to}')` : ''}`);
      continue;
    }
    const twin = plan.get(to);
    if (twin) throw new ConfigError(`${where}${file}: '${twin[0]}' and '${from}' both land on '${to}'; fix the map`);
    plan.set(to, [from, raw]);
  }
  if (unexpected.length) {
    throw new ConfigError(`${where}${file}: ${firstOf(unexpected)} is not a parameter of init target '${entry.target}'; rename it with map, or map it to null to leave it out`);
  }
  const missing = [...wanted].filter((n) => !plan.has(n)).map((n) => `'${n}' ${shape(params.get(n)!.shape)}`);
  if (missing.length) {
    throw new ConfigError(`${where}${file} has no tensor for ${firstOf(missing)}; rename the source's names with map, or list the parameter in skip to leave it as built`);
  }
  for (const [to, [from, raw]] of plan) {
    const v = params.get(to)!;
    if (raw.shape.length !== v.shape.length || raw.shape.some((d, i) => d !== v.shape[i])) {
      throw new ConfigError(`${where}${file}: '${from}' is ${shape(raw.shape)} but '${to}' is ${shape(v.shape)}`);
    }
    if (v.dtype === 'int32' && !/^(I|U|BOOL)/.test(raw.dtype)) throw new ConfigError(`${where}${file}: '${from}' is ${raw.dtype} but '${to}' is int32`);
  }
  return plan;
}

/**
 * Loads the experiment's `init:` weights into a freshly built model: each entry's source tensors (its `component`,
 * renamed by its `map`) onto its target's parameters (its `skip` prefixes left as built). Every entry is checked
 * before anything is assigned, so on error no parameter has changed. Momentum copies (ALBEF, BLIP) whose online twin
 * was loaded and which were not loaded themselves are then set equal to it, as the model's constructor does; so are
 * a model's init twins (core HasInitTwins: BLIP-2's query FFNs, copies of the text FFNs).
 * @param model the built model (not shape-only)
 * @param components `spec.components(cfg.model)`
 * @param placeOf the `file:line:col: key.path: ` prefix of a config path (`configPlace`)
 * @returns what each entry loaded
 * @throws ConfigError, one line naming `init.<target>` and the source file: a source tensor that lands on no target
 *   parameter, a target parameter no source tensor loads, two tensors for one parameter, a shape mismatch (both
 *   shapes), a float tensor for an int32 parameter, a source part that names nothing
 */
export function applyInit(
  model: Module, components: Record<string, (name: string) => boolean>, entries: readonly InitEntry[], placeOf: (p: (string | number)[]) => string,
): InitLoaded[] {
  const params = model.namedParameters();
  const plans = entries.map((e) => planEntry(e, params, components, placeOf(['init', e.target])));
  const loaded = new Set<Variable>();
  const report = entries.map((entry, i) => {
    const plan = plans[i];
    const target = new Map([...plan.keys()].map((n) => [n, params.get(n)!]));
    loadStateDict(target, new Map([...plan].map(([to, [, raw]]) => [to, raw])));
    for (const v of target.values()) loaded.add(v);
    const all = entry.target === WHOLE_MODEL ? params.size : selectParameters(entry.target, params, components).names.length;
    return { target: entry.target, file: entry.weights.file, tensors: plan.size, skipped: all - plan.size };
  });
  if (hasMomentumCopies(model)) model.momentumPairs.copy((online, momentum) => loaded.has(online) && !loaded.has(momentum));
  if (hasInitTwins(model)) copyTwins(model.initTwins(), (source, twin) => loaded.has(source) && !loaded.has(twin));
  return report;
}
