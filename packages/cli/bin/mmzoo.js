#!/usr/bin/env node
// The `mmzoo` command. Inside the repository (src/ is here) it runs the TypeScript sources through tsx's CommonJS
// hook, with the root tsconfig.json's `paths` resolving every @mmzoo/* import to its package's src/ too: no build
// step, and a stale dist/ is never used. An installed package (src/ is not shipped) runs its build, dist/.
'use strict';
const fs = require('fs');
const path = require('path');

const source = path.join(__dirname, '..', 'src', 'main.ts');
let cli;
if (fs.existsSync(source)) {
  process.env.TSX_TSCONFIG_PATH ??= path.join(__dirname, '..', '..', '..', 'tsconfig.json');
  require('tsx/cjs');
  cli = require(source);
} else {
  cli = require('../dist/main.js');
}
cli.main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
