/**
 * Jest: TypeScript through @swc/jest (fast, no type check; `npm run typecheck` does that). @mmzoo/* imports resolve
 * to the packages' sources through tsconfig.json's `paths` (the one list of them), never to a build in dist/.
 */
const { compilerOptions } = require('./tsconfig.json');

/** tsconfig `paths` as jest moduleNameMapper entries: `@mmzoo/core/*` -> `^@mmzoo/core/(.*)$` -> `<rootDir>/.../$1`. */
const moduleNameMapper = Object.fromEntries(
  Object.entries(compilerOptions.paths).map(([from, [to]]) => [`^${from.replace('*', '(.*)')}$`, `<rootDir>/${to.replace('*', '$1')}`]),
);

module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }] },
  moduleNameMapper,
  testTimeout: 120000,
};
