/**
 * ESLint: the layer rules of docs/structure.md. `npm run lint` also runs Prettier --check and knip
 * (dead code, knip.jsonc); .ci/run runs it before the tests.
 */
const tseslint = require('typescript-eslint');

const layer = (from, forbidden, why) => ({
  regex: `(^|/)(${forbidden.join('|')})(/|$)`,
  message: `${from} may not import this: ${why}`,
});

module.exports = tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench/results/**'] },
  {
    files: ['src/**/*.ts'],
    languageOptions: { parser: tseslint.parser },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // Only src/config reads the environment (a validated, frozen Config for everyone else).
      'no-restricted-properties': [
        'error',
        {
          object: 'process',
          property: 'env',
          message: 'read configuration from src/config (the only reader of process.env)',
        },
      ],
      // One helper opens transactions and reuses an open one (db/knex.ts withTransaction).
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.property.name='transaction']",
          message: 'open transactions with withTransaction (src/db/knex.ts)',
        },
      ],
    },
  },
  {
    files: ['src/modules/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            layer(
              'a module',
              ['http', 'jobs', 'cli', 'main', 'stack', 'cli\\.ts'],
              'modules are below HTTP, the worker and the composition root',
            ),
          ],
        },
      ],
    },
  },
  {
    files: ['src/lib/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            layer(
              'lib/',
              ['modules', 'http', 'jobs', 'db', 'cli', 'main', 'stack', 'radius', 'mikrotik'],
              'lib/ is domain-free',
            ),
          ],
        },
      ],
    },
  },
  {
    files: ['src/db/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            layer(
              'db/',
              ['modules', 'http', 'jobs', 'cli', 'main', 'stack'],
              'the database layer knows no domain module',
            ),
          ],
        },
      ],
    },
  },
  {
    files: ['src/jobs/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            layer(
              'the worker',
              ['http', 'cli', 'main', 'stack'],
              'the worker does not depend on HTTP or the composition root',
            ),
          ],
        },
      ],
    },
  },
  {
    // The one place that may read it.
    files: ['src/config/**/*.ts'],
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    // These pass the whole environment on to a child process (FreeRADIUS, PostgreSQL's tools);
    // they read no setting from it.
    files: [
      'src/freeradius/runtime-dir.ts',
      'src/freeradius/process.ts',
      'src/db/embedded-postgres.ts',
      'src/db/radacct-partitions.ts',
    ],
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    files: ['src/db/knex.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
);
