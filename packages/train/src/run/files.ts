/**
 * Node-only file helpers: crash-safe writes and safetensors files on disk. Browser code uses
 * `io/safetensors.ts` on bytes it fetched itself.
 */
import { randomBytes } from 'crypto';
import { promises as fsp } from 'fs';
import * as path from 'path';
import { parseSafetensorsWithMetadata, serializeSafetensors, type RawTensor, type SafetensorsContents } from '@mmzoo/core';

/**
 * Writes a file so that readers (and a crash or kill at any moment) see either the old content or the
 * whole new content, never a mix or a truncated file: the data goes to a temporary file in the same folder
 * (`.<name>.<random>.tmp`), which is fsynced and then renamed over `filePath` (atomic on POSIX file
 * systems); the folder is then fsynced where the platform allows it. On error the temporary file is
 * removed. After a hard kill (SIGKILL, power loss) a stray `.<name>.*.tmp` may remain; the target is intact.
 * A new file gets mode 0o666 minus the umask; an existing file's mode is kept.
 * @param filePath the target; its folder must exist.
 * @param data bytes, or a string written as UTF-8.
 * @throws the underlying fs error (e.g. ENOENT for a missing folder, EISDIR when the target is a folder).
 */
export async function writeFileAtomic(filePath: string, data: Uint8Array | string): Promise<void> {
  const dir = path.dirname(path.resolve(filePath));
  const tmp = path.join(dir, `.${path.basename(filePath)}.${randomBytes(6).toString('hex')}.tmp`);
  let mode = 0o666;
  try {
    mode = (await fsp.stat(filePath)).mode & 0o7777;
  } catch {
    /* a new file */
  }
  let handle: fsp.FileHandle | null = null;
  try {
    handle = await fsp.open(tmp, 'wx', mode);
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = null;
    await fsp.rename(tmp, filePath);
  } catch (e) {
    if (handle) await handle.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
  await syncDir(dir);
}

/** fsyncs a folder so that a rename in it is durable; silently skipped where folders cannot be opened (Windows). */
async function syncDir(dir: string): Promise<void> {
  let h: fsp.FileHandle | null = null;
  try {
    h = await fsp.open(dir, 'r');
    await h.sync();
  } catch {
    /* not supported on this platform or file system */
  } finally {
    await h?.close().catch(() => undefined);
  }
}

/**
 * Reads a safetensors file.
 * @param filePath the file.
 * @returns its tensors (header order) and metadata (`{}` when absent); see `RawTensor` for the data types.
 * @throws fs errors (ENOENT, ...) and the parse errors of `parseSafetensorsWithMetadata`, which name the path
 *   and the tensor.
 */
export async function readSafetensorsFile(filePath: string): Promise<SafetensorsContents> {
  const buf = await fsp.readFile(filePath);
  return parseSafetensorsWithMetadata(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), filePath);
}

/**
 * Writes tensors (and optional metadata) as a safetensors file, atomically ({@link writeFileAtomic}).
 * @param filePath the target; its folder must exist.
 * @param tensors name -> tensor; see `serializeSafetensors` for layout and accepted data.
 * @param metadata string pairs stored as `__metadata__`.
 * @throws the errors of `serializeSafetensors` (naming the tensor) and of {@link writeFileAtomic}.
 */
export async function writeSafetensorsFile(
  filePath: string,
  tensors: Map<string, RawTensor> | Record<string, RawTensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFileAtomic(filePath, serializeSafetensors(tensors, metadata));
}
