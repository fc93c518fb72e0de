import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    // Network and fault-injection tests stop themselves; this is only a backstop.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    reporters: process.env['CI'] === 'true' ? ['default'] : ['default'],
  },
});
