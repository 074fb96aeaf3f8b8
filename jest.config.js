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
    '^@mmzoo/albef$': '<rootDir>/packages/albef/src/index.ts',
    '^@mmzoo/blip$': '<rootDir>/packages/blip/src/index.ts',
    '^@mmzoo/blip/capfilt$': '<rootDir>/packages/blip/src/capfilt.ts',
    '^@mmzoo/vlmo$': '<rootDir>/packages/vlmo/src/index.ts',
    '^@mmzoo/beit3$': '<rootDir>/packages/beit3/src/index.ts',
    '^@mmzoo/coca$': '<rootDir>/packages/coca/src/index.ts',
    '^@mmzoo/train$': '<rootDir>/packages/train/src/index.ts',
    '^@mmzoo/cli$': '<rootDir>/packages/cli/src/index.ts',
    '^@mmzoo/backend-native$': '<rootDir>/packages/backend-native/src/index.ts',
  },
  testTimeout: 120000,
};
