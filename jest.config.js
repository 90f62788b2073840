/**
 * ESM jest with swc: swc strips types, `npm test` type-checks with tsc first.
 *
 * Two projects, one run (CI counts both):
 *  - `default`: every test file, every store a JSON file;
 *  - `e2e-pg`: the end-to-end suites (test/e2e) again, every store a PostgreSQL database on
 *    one private cluster for the project (test/helpers/stores.ts, test/pg/e2e-global.ts).
 *    Each e2e file says which of its blocks run there (describeStores) and which stay with
 *    the JSON file, and why (describeJsonOnly, testJsonOnly: shown skipped there).
 *    `--selectProjects default` or `--selectProjects e2e-pg` runs one of them.
 */
const project = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'es6' } }] },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
};

export default {
  testTimeout: 60000,
  projects: [
    { ...project, displayName: 'default', testMatch: ['<rootDir>/test/**/*.test.ts'] },
    {
      ...project,
      displayName: 'e2e-pg',
      testMatch: ['<rootDir>/test/e2e/**/*.test.ts'],
      globals: { M4ME_TEST_STORE: 'pg' },
      globalSetup: '<rootDir>/test/pg/e2e-setup.mjs',
      globalTeardown: '<rootDir>/test/pg/e2e-teardown.mjs',
    },
  ],
};
