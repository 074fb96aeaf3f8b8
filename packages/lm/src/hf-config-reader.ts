import type { ZodError, ZodType } from 'zod';

/** Reads keys of a Hugging Face config.json with one-line errors that name the file (see {@link hfConfigReader}). */
export interface HfConfigReader {
  /** @throws Error `<where>: <msg>` always */
  fail(msg: string): never;
  /** the value of `key`, a positive integer @throws Error naming the key and the value otherwise */
  int(key: string): number;
  /** `value` validated by `schema` @throws Error listing each issue as `key: message` otherwise */
  parse<T>(schema: ZodType<T>, value: unknown): T;
}

/**
 * A reader over a parsed Hugging Face config.json, for the `*ConfigFromHf` functions.
 * @param json the parsed file
 * @param where names the file in error messages
 */
export function hfConfigReader(json: Record<string, unknown>, where: string): HfConfigReader {
  const fail = (msg: string): never => {
    throw new Error(`${where}: ${msg}`);
  };
  return {
    fail,
    int: (key) => {
      const v = json[key];
      return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : fail(`${key} must be a positive integer, got ${JSON.stringify(v)}`);
    },
    parse: (schema, value) => {
      const parsed = schema.safeParse(value);
      return parsed.success ? parsed.data : fail(issuesLine(parsed.error));
    },
  };
}

/** A zod error's issues on one line: `key: message; key: message`. */
export function issuesLine(error: ZodError): string {
  return error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
}
