/**
 * Test-only kill points (Node only). `MMZOO_TEST_KILL_AT=<point>` (or `<point>:<n>` for its n-th occurrence in
 * this process, counting from 1) makes the process SIGKILL itself when it reaches that point, so that tests can
 * check that a kill at that exact moment leaves a resumable run. Without the variable this is a no-op.
 *
 * Points: `checkpoint-write` (the new checkpoint's model file written, its folder still temporary),
 * `checkpoint-rename` (the folder renamed into place, `latest` not yet switched), `checkpoint-latest` (`latest`
 * switched, old checkpoints not yet pruned), `resave` (a Ctrl-C re-save of the latest step, before its meta.json is
 * replaced), `overwrite-aside` (`--overwrite` moved the old run aside, the new run has no checkpoint yet).
 */
const counts = new Map<string, number>();

/** SIGKILLs this process when `MMZOO_TEST_KILL_AT` names `point` (and, with `:n`, this is its n-th occurrence). */
export function killPoint(point: string): void {
  const want = process.env.MMZOO_TEST_KILL_AT;
  if (!want) return;
  const [name, nth] = want.split(':');
  if (name !== point) return;
  const n = (counts.get(point) ?? 0) + 1;
  counts.set(point, n);
  if (n === Number(nth ?? 1)) process.kill(process.pid, 'SIGKILL');
}
