/**
 * Readers of user image-caption data (Node only): CSV, COCO-style caption JSON and JSONL.
 * Every reader returns one record per caption; an image with several captions gives several records.
 * Relative image paths resolve against `imageRoot`, by default the folder of the data file.
 */
import * as fs from 'fs';
import * as path from 'path';
import { TextDecoder } from 'util';
import { parse as parseCsv } from 'csv-parse/sync';

/** One image-caption pair. */
export interface CaptionRecord {
  /** Absolute path of the image file (not checked for existence). */
  imagePath: string;
  /** The caption text, trimmed. */
  caption: string;
  /** Identifier of the image (records of one image share it): the id field when given, else the path as written. */
  imageId: string;
}

/** Options shared by the readers. */
export interface ReaderOptions {
  /** Folder that relative image paths resolve against (default: the data file's folder). */
  imageRoot?: string;
  /** CSV column / JSONL key holding the image path (default 'image'). */
  imageKey?: string;
  /** CSV column / JSONL key holding the caption (default 'caption'). */
  captionKey?: string;
  /** CSV column / JSONL key holding an image id (default 'image_id'; optional in the data). */
  idKey?: string;
  /**
   * Text encoding of the file, a WHATWG label Node's TextDecoder knows (the config's `data.encoding`; default
   * 'utf-8'). Bytes that are not valid in it are an error, never a silent U+FFFD.
   */
  encoding?: string;
}

/**
 * Byte offset of the first byte that starts an invalid UTF-8 sequence in `bytes` (a byte that cannot start a
 * sequence, a lead byte without its continuation bytes, an overlong form, a surrogate, or a code point above
 * U+10FFFF, as the WHATWG decoder rejects them), or -1 when all of it is valid.
 */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  const cont = (k: number, lo = 0x80, hi = 0xbf) => k < bytes.length && bytes[k] >= lo && bytes[k] <= hi;
  while (i < bytes.length) {
    const b = bytes[i];
    if (b < 0x80) i += 1;
    else if (b >= 0xc2 && b <= 0xdf) {
      if (!cont(i + 1)) return i;
      i += 2;
    } else if (b >= 0xe0 && b <= 0xef) {
      const [lo, hi] = b === 0xe0 ? [0xa0, 0xbf] : b === 0xed ? [0x80, 0x9f] : [0x80, 0xbf];
      if (!cont(i + 1, lo, hi) || !cont(i + 2)) return i;
      i += 3;
    } else if (b >= 0xf0 && b <= 0xf4) {
      const [lo, hi] = b === 0xf0 ? [0x90, 0xbf] : b === 0xf4 ? [0x80, 0x8f] : [0x80, 0xbf];
      if (!cont(i + 1, lo, hi) || !cont(i + 2) || !cont(i + 3)) return i;
      i += 4;
    } else return i;
  }
  return -1;
}

/**
 * Decodes a caption file's bytes with TextDecoder in fatal mode (a leading byte-order mark is dropped).
 * @param encoding a WHATWG label (default 'utf-8')
 * @throws Error `<file>:<line>: invalid UTF-8 (byte 0xff at column N); set data.encoding if the file is not UTF-8`
 *   (column: 1-based, in characters of the line's valid prefix) for UTF-8; `<file>: not valid <encoding> text
 *   (data.encoding)` for another encoding; `<file>: unknown text encoding '<encoding>'`
 */
export function decodeCaptionFile(bytes: Uint8Array, file: string, encoding = 'utf-8'): string {
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(encoding, { fatal: true });
  } catch {
    throw new Error(`${file}: unknown text encoding '${encoding}' (data.encoding)`);
  }
  try {
    return decoder.decode(bytes);
  } catch {
    if (decoder.encoding !== 'utf-8') throw new Error(`${file}: not valid ${encoding} text (data.encoding)`);
    const bad = firstInvalidUtf8(bytes);
    let lineStart = 0;
    let line = 1;
    for (let k = 0; k < bad; k++) {
      if (bytes[k] === 10) {
        line++;
        lineStart = k + 1;
      }
    }
    const column = [...new TextDecoder('utf-8').decode(bytes.subarray(lineStart, Math.max(lineStart, bad)))].length + 1;
    const byte = bad >= 0 ? bytes[bad].toString(16).padStart(2, '0') : '??';
    throw new Error(`${file}:${line}: invalid UTF-8 (byte 0x${byte} at column ${column}); set data.encoding if the file is not UTF-8`);
  }
}

function readText(file: string, options: ReaderOptions = {}): string {
  if (!fs.existsSync(file)) throw new Error(`${file}: file not found`);
  if (fs.statSync(file).isDirectory()) throw new Error(`${file}: is a folder, expected a .csv, .json or .jsonl file`);
  return decodeCaptionFile(fs.readFileSync(file), file, options.encoding);
}

function resolver(file: string, options: ReaderOptions): (p: string) => string {
  const root = path.resolve(options.imageRoot ?? path.dirname(file));
  return (p) => path.resolve(root, p);
}

/**
 * Reads a CSV file with a header row, e.g. `image,caption` then `img/1.png,"a red dress"` (RFC 4180
 * quoting; blank lines skipped; a UTF-8 BOM ignored). An optional `image_id` column gives the image ids.
 * @throws Error `<file>: file not found`; `<file>:<line>: invalid UTF-8 (...)` ({@link decodeCaptionFile})
 * @throws Error `<file>:1: missing column "caption" (header: image, text)`
 * @throws Error `<file>:<line>: expected N columns, found M` for a row with a different column count
 * @throws Error `<file>:<line>: empty caption` / `empty image path`
 * @throws Error `<file>:<line>: <csv-parse's message>` for malformed CSV (e.g. an unclosed quote)
 */
export function readCaptionsCsv(file: string, options: ReaderOptions = {}): CaptionRecord[] {
  const text = readText(file, options);
  let rows: { record: string[]; info: { lines: number } }[];
  try {
    // the line each record ends on (what csv-parse's `info` option gives; its typings do not model that option)
    const lines: number[] = [];
    const records = parseCsv(text, {
      relax_column_count: true, skip_empty_lines: true, bom: true,
      on_record: (record, context) => {
        lines.push(context.lines);
        return record;
      },
    });
    rows = records.map((record, i) => ({ record, info: { lines: lines[i] } }));
  } catch (err) {
    const line = (err as { lines?: number }).lines;
    throw new Error(`${file}:${line ?? '?'}: ${(err as Error).message}`);
  }
  if (rows.length === 0) throw new Error(`${file}:1: empty file, expected a header row`);
  const header = rows[0].record.map((h) => h.trim());
  const column = (key: string, required: boolean): number => {
    const index = header.indexOf(key);
    if (index < 0 && required) {
      throw new Error(`${file}:${rows[0].info.lines}: missing column "${key}" (header: ${header.join(', ')})`);
    }
    return index;
  };
  const imageCol = column(options.imageKey ?? 'image', true);
  const captionCol = column(options.captionKey ?? 'caption', true);
  const idCol = column(options.idKey ?? 'image_id', false);
  const resolve = resolver(file, options);

  const out: CaptionRecord[] = [];
  for (const { record, info } of rows.slice(1)) {
    const where = `${file}:${info.lines}`;
    if (record.length !== header.length) throw new Error(`${where}: expected ${header.length} columns, found ${record.length}`);
    const image = record[imageCol].trim();
    const caption = record[captionCol].trim();
    if (!image) throw new Error(`${where}: empty image path`);
    if (!caption) throw new Error(`${where}: empty caption`);
    const id = idCol >= 0 ? record[idCol].trim() : '';
    out.push({ imagePath: resolve(image), caption, imageId: id || image });
  }
  return out;
}

/** 1-based line of a character offset in `text`. */
function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/**
 * The line of a JSON.parse error: from V8's "(line N column M)" or "at position N", the last line for
 * "Unexpected end of JSON input", else undefined (some V8 messages carry no position).
 */
function jsonErrorLine(text: string, err: Error): number | undefined {
  const lineMatch = /line (\d+)/.exec(err.message);
  if (lineMatch) return Number(lineMatch[1]);
  const positionMatch = /position (\d+)/.exec(err.message);
  if (positionMatch) return lineAt(text, Number(positionMatch[1]));
  return /end of JSON input/.test(err.message) ? lineAt(text, text.trimEnd().length) : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Reads COCO-style caption JSON: `{ "images": [{ "id", "file_name" }], "annotations": [{ "image_id", "caption" }] }`
 * (other fields ignored). One record per annotation, in annotation order; imageId is the image's id as a string.
 * For COCO itself pass `imageRoot` (e.g. the train2017 folder), since file names are relative to it.
 * @throws Error `<file>: file not found`; `<file>:<line>: invalid UTF-8 (...)` ({@link decodeCaptionFile})
 * @throws Error `<file>:<line>: invalid JSON: <reason>` (the line when the parser reports a position)
 * @throws Error `<file>: images[3]: expected {id, file_name}` / `annotations[7]: expected {image_id, caption}` /
 *   `annotations[7]: image_id 42 not in images` for structural problems (JSON path instead of a line)
 */
export function readCocoCaptions(file: string, options: ReaderOptions = {}): CaptionRecord[] {
  const text = readText(file, options);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    const line = jsonErrorLine(text, err as Error);
    // V8 quotes the text around the error, newlines included: keep the message on one line
    throw new Error(`${file}${line ? `:${line}` : ''}: invalid JSON: ${(err as Error).message.replace(/\r?\n/g, '\\n')}`);
  }
  if (!isRecord(json) || !Array.isArray(json.images) || !Array.isArray(json.annotations)) {
    throw new Error(`${file}: expected an object with "images" and "annotations" arrays`);
  }
  const resolve = resolver(file, options);
  const files = new Map<string, string>();
  json.images.forEach((image: unknown, i: number) => {
    if (!isRecord(image) || !(typeof image.id === 'number' || typeof image.id === 'string') || typeof image.file_name !== 'string') {
      throw new Error(`${file}: images[${i}]: expected {id: number|string, file_name: string}`);
    }
    files.set(String(image.id), image.file_name);
  });
  return json.annotations.map((ann: unknown, i: number) => {
    if (!isRecord(ann) || !(typeof ann.image_id === 'number' || typeof ann.image_id === 'string') || typeof ann.caption !== 'string') {
      throw new Error(`${file}: annotations[${i}]: expected {image_id: number|string, caption: string}`);
    }
    const id = String(ann.image_id);
    const fileName = files.get(id);
    if (fileName === undefined) throw new Error(`${file}: annotations[${i}]: image_id ${id} not in images`);
    const caption = ann.caption.trim();
    if (!caption) throw new Error(`${file}: annotations[${i}]: empty caption`);
    return { imagePath: resolve(fileName), caption, imageId: id };
  });
}

/**
 * Reads JSONL: one object per line, `{"image": "img/1.png", "caption": "a red dress"}`, with an optional
 * `"image_id"`; blank lines skipped.
 * @throws Error `<file>: file not found`; `<file>:<line>: invalid UTF-8 (...)` ({@link decodeCaptionFile})
 * @throws Error `<file>:<line>: invalid JSON: <reason>`
 * @throws Error `<file>:<line>: expected an object with string "image" and "caption"`
 */
export function readCaptionsJsonl(file: string, options: ReaderOptions = {}): CaptionRecord[] {
  const text = readText(file, options);
  const imageKey = options.imageKey ?? 'image';
  const captionKey = options.captionKey ?? 'caption';
  const idKey = options.idKey ?? 'image_id';
  const resolve = resolver(file, options);
  const out: CaptionRecord[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (!line.trim()) return;
    const where = `${file}:${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new Error(`${where}: invalid JSON: ${(err as Error).message}`);
    }
    if (!isRecord(value) || typeof value[imageKey] !== 'string' || typeof value[captionKey] !== 'string') {
      throw new Error(`${where}: expected an object with string "${imageKey}" and "${captionKey}"`);
    }
    const image = (value[imageKey] as string).trim();
    const caption = (value[captionKey] as string).trim();
    if (!image) throw new Error(`${where}: empty image path`);
    if (!caption) throw new Error(`${where}: empty caption`);
    const id = value[idKey];
    out.push({ imagePath: resolve(image), caption, imageId: typeof id === 'string' || typeof id === 'number' ? String(id) : image });
  });
  return out;
}

/**
 * Reads image-caption records, choosing the reader by extension: `.csv`, `.json` (COCO-style), `.jsonl`.
 * @throws Error `<file>: unknown caption file type, expected .csv, .json or .jsonl`; the readers' errors
 */
export function readCaptions(file: string, options: ReaderOptions = {}): CaptionRecord[] {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv') return readCaptionsCsv(file, options);
  if (ext === '.json') return readCocoCaptions(file, options);
  if (ext === '.jsonl') return readCaptionsJsonl(file, options);
  throw new Error(`${file}: unknown caption file type, expected .csv, .json or .jsonl`);
}
