/**
 * The jest configuration every package shares: TypeScript tests under test/, transpiled by
 * ts-jest. Type checking is done by `pnpm typecheck` (tsc over src and test); ts-jest only
 * transpiles (isolatedModules in each tsconfig.json), which keeps runs fast.
 * A package's jest.config.js is `module.exports = require('../../jest.config.base.js')` (its
 * rootDir is the package, where that file lives).
 * @type {import('jest').Config}
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }],
  },
  testTimeout: 30000,
};
