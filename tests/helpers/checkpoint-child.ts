// A child process for the checkpoint kill tests (tests/core/node/checkpoint-safety.test.ts): saves step 1, step 2,
// then re-saves step 2 (a Ctrl-C right after a periodic checkpoint), with MMZOO_TEST_KILL_AT choosing where it
// SIGKILLs itself. argv[2] is the run folder. Weights of step s are all equal to s.
import { tf } from '@mmzoo/core';
import { saveCheckpoint } from '@mmzoo/train';

async function main(runDir: string) {
  await tf.setBackend('cpu');
  const w = tf.variable(tf.zeros([2, 3]), true, 'w');
  const m = tf.variable(tf.zeros([2, 3]), false, 'm');
  const named = new Map([['w', w]]);
  const opt = new Map([['w.m', m]]);
  for (const step of [1, 2]) {
    w.assign(tf.fill([2, 3], step));
    m.assign(tf.fill([2, 3], step / 10));
    await saveCheckpoint(runDir, named, opt, { step, note: `first save of step ${step}` });
  }
  await saveCheckpoint(runDir, named, opt, { step: 2, note: 're-save of step 2' });
}

main(process.argv[2]).then(() => process.exit(0), (e) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});
