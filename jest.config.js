/** Jest: @swc/jest transpiles (TypeScript 7 is not supported by ts-jest; `npm run typecheck`
 *  runs tsc 5.9 for types). Integration and e2e tests share one Postgres server started or
 *  found by tests/helpers/global-setup.ts; each worker clones its own database. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } } }] },
  globalSetup: '<rootDir>/tests/helpers/global-setup.ts',
  globalTeardown: '<rootDir>/tests/helpers/global-teardown.ts',
  testTimeout: 30000,
  maxWorkers: 2,
};
