import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** Temporary folders made with `make()` and all removed by `cleanUp()` (call it in afterAll). */
export function tempDirs(prefix: string): { make: () => string; cleanUp: () => void } {
  const dirs: string[] = [];
  return {
    make: () => {
      const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
      dirs.push(d);
      return d;
    },
    cleanUp: () => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })),
  };
}
