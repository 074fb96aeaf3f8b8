import { formatPath } from './parse';

/** Where each loaded config's values came from, for errors found after loading (e.g. in openSession). */
const places = new WeakMap<object, (path: (string | number)[]) => string>();

/**
 * Records where the values of a config loaded from a file came from: `placeOf(path)` gives the `file:line:col:
 * key.path: ` (or `--set key=value: key.path: `) prefix of an error about `path`. Called by the CLI's config loader.
 */
export function recordConfigPlaces(config: object, placeOf: (path: (string | number)[]) => string): void {
  places.set(config, placeOf);
}

/**
 * The `file:line:col: key.path: ` (or `--set key=value: key.path: `) prefix of an error about `path` in a config
 * recorded by {@link recordConfigPlaces}; just `key.path: ` for a config from elsewhere (e.g. a checkpoint's meta.json).
 */
export function configPlace(config: object, path: (string | number)[]): string {
  return places.get(config)?.(path) ?? `${formatPath(path)}: `;
}

/**
 * True for a config loaded from a file (a config about to be trained or inspected, {@link recordConfigPlaces}), false
 * for one read back from a run (a checkpoint's meta.json).
 */
export function isLoadedConfig(config: object): boolean {
  return places.has(config);
}
