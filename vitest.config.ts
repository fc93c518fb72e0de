import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Fails a test on any internal error the guard caught, unhandled rejection or uncaught exception.
    setupFiles: ['test/setup/internal-errors.ts'],
    environment: 'node',
    // Network and fault-injection tests stop themselves; this is only a backstop.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
