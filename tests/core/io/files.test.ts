import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readSafetensorsFile, writeFileAtomic, writeSafetensorsFile } from '@mmzoo/train';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmzoo-files-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it('creates and replaces a file, leaving no temporary files', async () => {
    const target = path.join(dir, 'state.json');
    await writeFileAtomic(target, 'old');
    expect(fs.readFileSync(target, 'utf8')).toBe('old');
    await writeFileAtomic(target, new Uint8Array([110, 101, 119])); // "new"
    expect(fs.readFileSync(target, 'utf8')).toBe('new');
    expect(fs.readdirSync(dir)).toEqual(['state.json']);
  });

  it('keeps the mode of an existing file', async () => {
    const target = path.join(dir, 'run.sh');
    fs.writeFileSync(target, 'a');
    fs.chmodSync(target, 0o750);
    await writeFileAtomic(target, 'b');
    expect(fs.statSync(target).mode & 0o777).toBe(0o750);
  });

  it('on failure throws, removes its temporary file and leaves the target alone', async () => {
    const target = path.join(dir, 'taken');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'inside'), 'x');
    await expect(writeFileAtomic(target, 'data')).rejects.toThrow();
    expect(fs.readdirSync(dir)).toEqual(['taken']);
    await expect(writeFileAtomic(path.join(dir, 'no', 'such', 'dir'), 'x')).rejects.toThrow(/ENOENT/);
  });

  it('a writer killed mid-write leaves the target with the old or the new content, never a mix', async () => {
    const target = path.join(dir, 'big.bin');
    const size = 4 << 20;
    const script = path.join(dir, 'writer.ts');
    const filesModule = path.resolve(__dirname, '../../../packages/train/src/run/files.ts');
    fs.writeFileSync(
      script,
      `import { writeFileAtomic } from ${JSON.stringify(filesModule)};
(async () => {
  for (let i = 0; ; i++) {
    await writeFileAtomic(${JSON.stringify(target)}, new Uint8Array(${size}).fill(i % 2 === 0 ? 0x41 : 0x42));
    if (i === 0) process.stdout.write('first\\n');
  }
})();
`,
    );
    // One node process (tsx as a require hook, not the tsx CLI, which would put a wrapper process in between).
    const child = spawn(process.execPath, ['--require', require.resolve('tsx/cjs'), script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout!.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`writer exited early with ${code}`)));
    });
    await new Promise((r) => setTimeout(r, 150));
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    const content = fs.readFileSync(target);
    expect(content.length).toBe(size);
    const first = content[0];
    expect([0x41, 0x42]).toContain(first);
    expect(content.every((b) => b === first)).toBe(true);
    // Only the target, the script and (at most) one stray temporary file from the killed write remain.
    const stray = fs.readdirSync(dir).filter((f) => f !== 'big.bin' && f !== 'writer.ts');
    expect(stray.length).toBeLessThanOrEqual(1);
    for (const f of stray) expect(f).toMatch(/^\.big\.bin\.[0-9a-f]{12}\.tmp$/);
  });
});

describe('safetensors files', () => {
  it('round-trips through disk with metadata', async () => {
    const file = path.join(dir, 'w.safetensors');
    await writeSafetensorsFile(file, { x: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) } }, { step: '5' });
    const back = await readSafetensorsFile(file);
    expect(back.metadata).toEqual({ step: '5' });
    expect(back.tensors.get('x')).toEqual({ dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) });
    expect(fs.readdirSync(dir)).toEqual(['w.safetensors']);
  });

  it('names the path in parse errors', async () => {
    const file = path.join(dir, 'bad.safetensors');
    fs.writeFileSync(file, 'abc');
    await expect(readSafetensorsFile(file)).rejects.toThrow(`safetensors ${file}: file is 3 bytes`);
  });
});
