/**
 * Plain words for the file-system errors a user can act on (Node.js system errors carry `code`, `syscall`, `path`).
 * Used by checkpoint writes and by the CLI's one-line error for any file-system failure.
 */

/** Plain reasons of the error codes, e.g. `EROFS` -> `read-only file system`. */
export const FS_ERROR_REASONS: Readonly<Record<string, string>> = {
  EISDIR: 'is a folder',
  EEXIST: 'already exists',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or folder',
  ENOTEMPTY: 'the folder is not empty',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
  EBUSY: 'busy (in use by another process)',
  ENAMETOOLONG: 'name too long',
  ELOOP: 'too many symbolic links',
  EXDEV: 'on another device',
  EFBIG: 'file too large',
  EIO: 'input/output error',
};

/**
 * The reason of an error in plain words with its code, `read-only file system (EROFS)`; for an error without a
 * known code, the first line of its message.
 */
export function fsErrorReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (typeof err?.code === 'string' && FS_ERROR_REASONS[err.code]) return `${FS_ERROR_REASONS[err.code]} (${err.code})`;
  return String(err?.message ?? e).split('\n')[0];
}

/** True when process `pid` exists on this host (EPERM: it exists but belongs to another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
