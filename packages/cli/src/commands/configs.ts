import { readdirSync, readFileSync, statSync } from 'fs';
import * as path from 'path';

/** Finds every .yaml file under `dir`, sorted. */
export function listConfigFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir).sort()) {
    const p = path.join(dir, e);
    if (statSync(p).isDirectory()) out.push(...listConfigFiles(p));
    else if (/\.ya?ml$/.test(e)) out.push(p);
  }
  return out;
}

/**
 * `mmzoo configs`: lists the shipped configs, one line each: path and the first comment line of the file.
 */
export function configsCommand(dir = 'configs'): number {
  for (const f of listConfigFiles(dir)) {
    const first = readFileSync(f, 'utf8').split('\n').find((l) => l.startsWith('#'));
    process.stdout.write(`${f.padEnd(40)} ${first ? first.replace(/^#\s*/, '') : ''}\n`);
  }
  return 0;
}
