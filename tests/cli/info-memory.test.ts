import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

// Issue 15: `mmzoo info --all` counts every paper-size preset through a shape-only build (no weights allocated), so
// the command as a user runs it (a child process) peaks well under 1 GB of resident memory. Building the presets
// for real peaked at 1.9 GB.
const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'packages', 'cli', 'bin', 'mmzoo.js');

test('mmzoo info --all peaks under 1 GB of resident memory', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmzoo-info-rss-'));
  try {
    // preloaded into the child: prints its peak RSS (process.resourceUsage().maxRSS, kilobytes) as it exits
    const hook = path.join(dir, 'max-rss.js');
    fs.writeFileSync(hook, "process.on('exit', () => process.stderr.write(`MAXRSS_KB ${process.resourceUsage().maxRSS}\\n`));\n");
    const r = spawnSync(process.execPath, ['--require', hook, BIN, 'info', '--all'], { cwd: ROOT, encoding: 'utf8', timeout: 120000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/configs\/clip\/vit-b-32\.yaml\s+clip\s+151,277,313/);
    const kb = Number(/MAXRSS_KB (\d+)/.exec(r.stderr)?.[1]);
    expect(kb).toBeGreaterThan(0);
    expect(kb).toBeLessThan(1024 * 1024);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
