import { isMap, isNode, LineCounter, parseDocument, Document } from 'yaml';
import { z } from 'zod';

/**
 * A configuration error that names where it is: `file:line:col: yaml.path: message`.
 * Thrown for malformed YAML, unknown keys and wrong types; the CLI prints the message as one line and exits 2.
 */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

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
 * @throws ConfigError for malformed YAML or a document that is not a mapping
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
  return { value: doc.toJS(), file, locate };
}

/** Renders a path as YAML dotted notation, e.g. `train.lr` or `model.vision.imageSize[1]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((s, k) => (typeof k === 'number' ? `${s}[${k}]` : s ? `${s}.${String(k)}` : String(k)), '');
}

/**
 * Validates a value with a zod schema, turning the first issues into one message per line of the form
 * `file:line:col: path: message` (e.g. `configs/x.yaml:12:7: train.lr: expected number, received string`).
 * @param prefix path of `value` inside the document (e.g. ['model'] when validating the model section)
 * @throws ConfigError listing up to 5 issues
 */
export function validate<S extends z.ZodType>(schema: S, value: unknown, source: YamlSource, prefix: PropertyKey[] = []): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const lines = result.error.issues.slice(0, 5).map((issue) => {
    const base = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((k) => {
        const p = [...base, k];
        return `${where(source, p)}${formatPath(p)}: unknown key (valid keys: ${validKeys(schema, base.slice(prefix.length))})`;
      }).join('\n');
    }
    const msg = issue.message.replace(/^Invalid input: /, '').replace(/, received undefined$/, ' (missing)');
    return `${where(source, base)}${formatPath(base) || '(root)'}: ${msg}`;
  });
  throw new ConfigError(lines.join('\n'));
}

function where(source: YamlSource, path: PropertyKey[]): string {
  const origin = source.origin?.(path);
  if (origin) return `${origin}: `;
  const loc = source.locate(path);
  return loc ? `${source.file}:${loc}: ` : `${source.file}: `;
}

/** Lists the keys a (possibly nested) object schema accepts at `path`, for unknown-key messages. */
function validKeys(schema: z.ZodType, path: readonly PropertyKey[]): string {
  let s: unknown = schema;
  for (const k of path) {
    s = unwrap(s);
    if (typeof k === 'number') {
      // an element of a list (e.g. stages[1])
      const element = (s as { element?: unknown }).element;
      if (!element) return '?';
      s = element;
      continue;
    }
    const shape = (s as { shape?: Record<string, unknown> }).shape;
    if (!shape || typeof k !== 'string' || !(k in shape)) return '?';
    s = shape[k];
  }
  const shape = (unwrap(s) as { shape?: Record<string, unknown> }).shape;
  return shape ? Object.keys(shape).join(', ') : '?';
}

function unwrap(s: unknown): unknown {
  let cur = s as { def?: { innerType?: unknown; type?: string } };
  while (cur?.def?.innerType) cur = cur.def.innerType as typeof cur;
  return cur;
}
