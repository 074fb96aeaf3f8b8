#!/usr/bin/env node
// The `mmzoo` command. TypeScript sources run through tsx's CommonJS hook (no build step).
require('tsx/cjs');
require('../src/main.ts')
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
