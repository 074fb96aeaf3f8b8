/**
 * `npm run soak [-- --rounds N --backend NAME --config FILE]`: kills `mmzoo train` at random moments (SIGKILL,
 * and SIGINT followed by SIGKILL a few milliseconds later: a kill during the Ctrl-C re-save), resumes until the
 * run finishes, and checks that its final weights equal an uninterrupted run's byte for byte and that no round
 * ever left a run without a resumable checkpoint once it had one. Not part of CI: it takes minutes (about 20 s a
 * round on the cpu backend with the built-in tiny config).
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from 'util';

const ROOT = path.join(__dirname, '..');
const BIN = path.join(ROOT, 'packages', 'cli', 'bin', 'mmzoo.js');
const { values } = parseArgs({ options: { rounds: { type: 'string', default: '10' }, backend: { type: 'string', default: 'cpu' }, config: { type: 'string' } } });

const TINY = `model:
  name: clip
  embedDim: 8
  vision: { imageSize: 28, patchSize: 14, channels: 1, width: 8, layers: 1, numHeads: 2 }
  text: { contextLength: 8, width: 8, layers: 1, numHeads: 2, pool: eot }
data: { trainLimit: 64, scenes: { train: 8 } }
train: { batchSize: 8, steps: 60, lr: 1.0e-3, warmupSteps: 5, checkpointEvery: 3, logEvery: 10 }
eval: { zeroShot: false, retrievalGallery: 0 }
`;

function finalWeights(run: string): Buffer {
  const root = path.join(run, 'checkpoints');
  return fs.readFileSync(path.join(root, fs.readFileSync(path.join(root, 'latest'), 'utf8').trim(), 'model.safetensors'));
}

function train(cfg: string, out: string, resume: boolean, killAfterMs?: number, sigintFirst = false): Promise<number | string> {
  return new Promise((resolve) => {
    const args = [BIN, 'train', cfg, '--out', out, '--backend', values.backend!, ...(resume ? ['--resume'] : [])];
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: 'ignore' });
    if (killAfterMs !== undefined) {
      setTimeout(() => {
        if (sigintFirst) {
          child.kill('SIGINT');
          setTimeout(() => child.kill('SIGKILL'), Math.random() * 30);
        } else child.kill('SIGKILL');
      }, killAfterMs);
    }
    child.on('close', (code, signal) => resolve(signal ?? code ?? -1));
  });
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmzoo-soak-'));
  const cfg = values.config ?? path.join(dir, 'tiny.yaml');
  if (!values.config) fs.writeFileSync(cfg, TINY);
  const ref = path.join(dir, 'reference');
  const r = spawnSync(process.execPath, [BIN, 'train', cfg, '--out', ref, '--backend', values.backend!], { cwd: ROOT, stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`the uninterrupted reference run failed (exit ${r.status})`);
  const reference = finalWeights(ref);
  let failures = 0;
  let kills = 0;
  for (let round = 1; round <= Number(values.rounds); round++) {
    const out = path.join(dir, `round-${round}`);
    let started = false;
    let outcome: number | string = -1;
    for (let attempt = 0; attempt < 50; attempt++) {
      const killAt = attempt < 6 ? 1500 + Math.random() * 6000 : undefined;
      const sigint = Math.random() < 0.3;
      outcome = await train(cfg, out, started, killAt, sigint);
      if (outcome === 'SIGKILL' || outcome === 130) kills++;
      if (fs.existsSync(path.join(out, 'checkpoints', 'latest'))) started = true;
      if (outcome === 0) break;
      if (typeof outcome === 'number' && outcome !== 130) {
        process.stdout.write(`round ${round}: attempt ${attempt} exited ${outcome} (a failed start or resume)\n`);
        if (started) failures++;
        break;
      }
    }
    const same = outcome === 0 && finalWeights(out).equals(reference);
    if (!same) failures++;
    process.stdout.write(`round ${round}: ${same ? 'final weights equal the uninterrupted run' : `FAILED (last outcome ${outcome})`}\n`);
  }
  process.stdout.write(`${Number(values.rounds)} rounds, ${kills} kills, ${failures} failures; run folders in ${dir}\n`);
  if (failures === 0) fs.rmSync(dir, { recursive: true, force: true });
  process.exitCode = failures ? 1 : 0;
}

main().catch((e) => {
  process.stderr.write(`soak: ${(e as Error).message}\n`);
  process.exitCode = 1;
});
