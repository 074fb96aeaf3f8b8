import { isMap, isNode, LineCounter, parseDocument, Document } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '@mmzoo/core';

/** A parsed YAML document that can report the line of any path inside it. */
export interface YamlSource {
  /** the plain JS value of the document */
  value: unknown;
  /** file name used in messages */
  file: string;
  /** `line:col` (1-based) of the node at `path`, or of its nearest existing parent; '' when unknown */
  locate(path: readonly PropertyKey[]): string;
  /** where a value came from when not from the file (e.g. `--set train.lr=abc`), else undefined */
  origin?(path: readonly PropertyKey[]): string | undefined;
}

/**
 * Parses YAML text, reporting syntax errors as `file:line:col: message`.
 * @throws ConfigError for malformed YAML, a document that is not a mapping, or aliases that expand beyond
 *   {@link MAX_YAML_ALIASES} (`file: YAML aliases expand too much ...`)
 */
export function parseYaml(text: string, file: string): YamlSource {
  const lineCounter = new LineCounter();
  const doc: Document = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const pos = lineCounter.linePos(e.pos[0]);
    throw new ConfigError(`${file}:${pos.line}:${pos.col}: malformed YAML: ${e.message.split('\n')[0]}`);
  }
  if (!isMap(doc.contents)) throw new ConfigError(`${file}:1:1: expected a mapping of sections (model, data, train, eval)`);
  const locate = (path: readonly PropertyKey[]): string => {
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n) as unknown[], true);
      if (isNode(node) && node.range) {
        const p = lineCounter.linePos(node.range[0]);
        return `${p.line}:${p.col}`;
      }
      // for a key whose value is missing, point at the key of the parent pair
      if (n > 0 && isMap(doc.getIn(path.slice(0, n - 1) as unknown[], true))) {
        const map = doc.getIn(path.slice(0, n - 1) as unknown[], true) as { items: { key: unknown }[] };
        const pair = map.items.find((it) => isNode(it.key) && (it.key as { value?: unknown }).value === path[n - 1]);
        if (pair && isNode(pair.key) && pair.key.range) {
          const p = lineCounter.linePos(pair.key.range[0]);
          return `${p.line}:${p.col}`;
        }
      }
    }
    return '';
  };
  let value: unknown;
  try {
    // aliases are expanded with yaml's default limit (maxAliasCount 100), which stops a "billion laughs" file
    value = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (e) {
    const msg = (e as Error).message;
    if (/excessive alias count|resource exhaustion/i.test(msg)) throw new ConfigError(`${file}: YAML aliases expand too much (more than ${MAX_YAML_ALIASES} alias expansions; a "billion laughs" document?): write the values out instead`);
    throw new ConfigError(`${file}: malformed YAML: ${msg.split('\n')[0]}`);
  }
  return { value, file, locate };
}

/** The most alias expansions {@link parseYaml} allows (the `yaml` package's `maxAliasCount`). */
export const MAX_YAML_ALIASES = 100;

/** Renders a path as YAML dotted notation, e.g. `train.lr` or `model.vision.imageSize[1]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((s, k) => (typeof k === 'number' ? `${s}[${k}]` : s ? `${s}.${String(k)}` : String(k)), '');
}

/**
 * Validates a value with a zod schema, turning the first issues into one message per line of the form
 * `file:line:col: path: message` (e.g. `configs/x.yaml:12:7: train.lr: expected number, received string`).
 * Unknown keys come first; one within edit distance 2 of a valid key is reported with a "did you mean" and, when
 * that key is required and missing, as the single line explaining both (a misspelt `width` is one error, not two).
 * @param prefix path of `value` inside the document (e.g. ['model'] when validating the model section)
 * @throws ConfigError listing up to 5 issues
 */
export function validate<S extends z.ZodType>(schema: S, value: unknown, source: YamlSource, prefix: PropertyKey[] = []): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues;
  const missing = new Set(issues.filter((i) => i.code !== 'unrecognized_keys' && /received undefined$/.test(i.message)).map((i) => formatPath([...prefix, ...i.path])));
  const explained = new Set<string>();
  const unknown = issues.flatMap((issue) => {
    if (issue.code !== 'unrecognized_keys') return [];
    const base = [...prefix, ...issue.path];
    const valid = validKeys(schema, issue.path, value);
    return issue.keys.map((k) => {
      const p = [...base, k];
      const guess = closestKey(k, valid);
      const hint = guess === undefined ? '' : `, did you mean '${guess}'?`;
      if (guess !== undefined && missing.has(formatPath([...base, guess]))) explained.add(formatPath([...base, guess]));
      return `${where(source, p)}${formatPath(p)}: unknown key${hint} (valid keys: ${valid.length ? valid.join(', ') : '?'})`;
    });
  });
  const others = issues
    .filter((i) => i.code !== 'unrecognized_keys' && !explained.has(formatPath([...prefix, ...i.path])))
    .map((issue) => {
      const base = [...prefix, ...issue.path];
      const msg = issue.message.replace(/^Invalid input: /, '').replace(/, received undefined$/, ' (missing)');
      return `${where(source, base)}${formatPath(base) || '(root)'}: ${msg}`;
    });
  throw new ConfigError([...unknown, ...others].slice(0, 5).join('\n'));
}

/** The valid key nearest to `key` by Levenshtein distance (case-insensitive), if at most 2 edits away and unique. */
function closestKey(key: string, valid: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  let tie = false;
  for (const v of valid) {
    const d = editDistance(key.toLowerCase(), v.toLowerCase());
    if (d < bestD) [best, bestD, tie] = [v, d, false];
    else if (d === bestD) tie = true;
  }
  return tie ? undefined : best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur.push(Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = cur;
  }
  return prev[b.length];
}

function where(source: YamlSource, path: PropertyKey[]): string {
  const origin = source.origin?.(path);
  if (origin) return `${origin}: `;
  const loc = source.locate(path);
  return loc ? `${source.file}:${loc}: ` : `${source.file}: `;
}

/** The keys a (possibly nested) object schema accepts at `path`, for unknown-key messages ([] when unknown). */
function validKeys(schema: z.ZodType, path: readonly PropertyKey[], value: unknown): string[] {
  let s: unknown = schema;
  let v: unknown = value;
  for (const k of path) {
    s = unionOption(unwrap(s), v);
    v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined;
    if (typeof k === 'number') {
      // an element of a list (e.g. stages[1])
      const element = (s as { element?: unknown }).element;
      if (!element) return [];
      s = element;
      continue;
    }
    const shape = (s as { shape?: Record<string, unknown> }).shape;
    // a value of a record keyed by name (e.g. init.vision)
    const valueType = (s as { def?: { valueType?: unknown } }).def?.valueType;
    if (!shape && valueType && typeof k === 'string') {
      s = valueType;
      continue;
    }
    if (!shape || typeof k !== 'string' || !(k in shape)) return [];
    s = shape[k];
  }
  const last = unionOption(unwrap(s), v);
  const options = (last as { def?: { options?: unknown[] } }).def?.options;
  // a union none of whose options the value picks: every option's keys
  const shapes = (options ?? [last]).map((o) => (unwrap(o) as { shape?: Record<string, unknown> }).shape ?? {});
  return [...new Set(shapes.flatMap((sh) => Object.keys(sh)))];
}

/**
 * The option of a union schema (e.g. the tokenizer kinds) that `value` picks by its literal fields (`kind: bpe`), or
 * the schema itself when it is no union or no option fits.
 */
function unionOption(s: unknown, value: unknown): unknown {
  const options = (s as { def?: { options?: unknown[] } }).def?.options;
  if (!options || value === null || typeof value !== 'object') return s;
  const fits = options.filter((o) => {
    const shape = (unwrap(o) as { shape?: Record<string, unknown> }).shape;
    if (!shape) return false;
    const literals = Object.entries(shape).filter(([, f]) => (unwrap(f) as { def?: { type?: string } }).def?.type === 'literal');
    return literals.length > 0 && literals.every(([k, f]) => ((unwrap(f) as { def: { values: unknown[] } }).def.values).includes((value as Record<string, unknown>)[k]));
  });
  return fits.length === 1 ? unwrap(fits[0]) : s;
}

function unwrap(s: unknown): unknown {
  let cur = s as { def?: { innerType?: unknown; type?: string } };
  while (cur?.def?.innerType) cur = cur.def.innerType as typeof cur;
  return cur;
}
