/**
 * One-line messages for file-system errors that reach the CLI (issue 14): `cannot write /x/results.json:
 * read-only file system (EROFS)` instead of Node's `EROFS: read-only file system, open '/x/results.json'`.
 */
import { FS_ERROR_REASONS } from '@mmzoo/train';

/** What the failed system call was doing, as a verb: `read`, `write`, `create`, `remove`, ... */
function verbOf(syscall: string | undefined, code: string): string {
  switch (syscall) {
    case 'read': case 'readdir': case 'scandir': case 'stat': case 'lstat': case 'fstat': case 'access': case 'readlink': case 'realpath':
      return 'read';
    case 'write': case 'fsync': case 'fdatasync': case 'ftruncate': case 'truncate': case 'utime': case 'futime': case 'chmod': case 'fchmod':
      return 'write';
    case 'mkdir': case 'mkdtemp': case 'symlink': case 'link': case 'copyfile':
      return 'create';
    case 'unlink': case 'rmdir': case 'rm':
      return 'remove';
    case 'rename':
      return 'move';
    case 'open':
      // open() is used to read and to write; the codes below only arise when writing
      return ['EROFS', 'ENOSPC', 'EDQUOT', 'EEXIST', 'EISDIR', 'EFBIG'].includes(code) ? 'write' : 'open';
    default:
      return 'access';
  }
}

/**
 * A Node.js system error (with `code`, `syscall`, `path`) as one line, `cannot <verb> <path>: <plain reason>
 * (<CODE>)`, e.g. `cannot write /x/results.json: read-only file system (EROFS)` or `cannot move a to b: ...`.
 * @returns the line, or undefined when `e` is not a file-system error with a path
 */
export function describeFsError(e: unknown): string | undefined {
  if (!e || typeof e !== 'object') return undefined;
  const err = e as { code?: unknown; syscall?: unknown; path?: unknown; dest?: unknown };
  if (typeof err.code !== 'string' || typeof err.path !== 'string' || !/^E[A-Z]+$/.test(err.code)) return undefined;
  const known = FS_ERROR_REASONS[err.code];
  const reason = known ?? (e instanceof Error ? e.message.replace(/^E[A-Z]+: /, '').replace(/, \w+ '.*$/, '') : err.code);
  const verb = verbOf(typeof err.syscall === 'string' ? err.syscall : undefined, err.code);
  const target = typeof err.dest === 'string' ? `${err.path} to ${err.dest}` : err.path;
  return `cannot ${verb} ${target}: ${reason} (${err.code})`;
}
