/**
 * Child-process helper of tests/backend-native/fallback.test.ts: selects a backend automatically (the order
 * tensorflow > native > wasm > cpu) and prints the log lines, then a JSON line with the result.
 */
import { initBackend } from '@mmzoo/train';
import { tf } from '@mmzoo/core';

const lines: string[] = [];
initBackend(undefined, (l) => lines.push(l))
  .then((info) => {
    // one small op on the chosen backend
    const y = tf.tidy(() => tf.matMul(tf.ones([2, 3]), tf.ones([3, 2])).sum().dataSync()[0]);
    for (const l of lines) console.log(l);
    console.log(JSON.stringify({ ...info, y }));
  })
  .catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
