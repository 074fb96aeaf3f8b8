import * as fs from 'fs';
import { spawnSync } from 'child_process';

/** Debian's python, for which python3-torch is packaged (DESIGN.md): the PyTorch references run under it. */
export const PYTHON = '/usr/bin/python3';

/** Why the PyTorch references (bench/clip_step.py, bench/lm_step.py) cannot run here, or undefined when they can. */
export function torchUnavailable(): string | undefined {
  if (!fs.existsSync(PYTHON)) return `${PYTHON} not found`;
  if (spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' }).status !== 0) return 'python3-torch is not installed (apt-get install python3-torch)';
  return undefined;
}
