/** Jest: TypeScript through @swc/jest (fast, no type check; `npm run typecheck` does that). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }] },
  moduleNameMapper: {
    '^@mmzoo/core$': '<rootDir>/packages/core/src/index.ts',
    '^@mmzoo/core/(.*)$': '<rootDir>/packages/core/src/$1',
    '^@mmzoo/clip$': '<rootDir>/packages/clip/src/index.ts',
    '^@mmzoo/cli$': '<rootDir>/packages/cli/src/index.ts',
  },
  testTimeout: 120000,
};
