import { createHash } from 'crypto';

/**
 * Canonical JSON of a config value: object keys sorted, `undefined` members left out (as YAML and JSON leave them
 * out), non-finite numbers written as the strings `"Infinity"`, `"-Infinity"`, `"NaN"` (a config may hold
 * `maskValue: -.inf`; JSON cannot). Two configs with equal values give equal text, whatever their key order.
 * @throws Error for a value JSON cannot hold otherwise (a function, a bigint, a symbol)
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : JSON.stringify(String(value));
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
      const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
    }
    default:
      throw new Error(`canonicalJson: cannot encode a ${typeof value}`);
  }
}

/**
 * The hash that names a config's run (the `config:` source of `init:`): SHA-256 (hex) of the {@link canonicalJson}
 * of the validated experiment, defaults filled in and paths resolved, as `mmzoo train` writes it to the run
 * folder's config.yaml. Two files with the same values (comments, key order and left-out defaults aside) hash alike.
 */
export function configHash(config: object): string {
  return createHash('sha256').update(canonicalJson(config)).digest('hex');
}
