import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20000,
    // The memory tests collect garbage before they sample RSS and heap use.
    poolOptions: { forks: { execArgv: ['--expose-gc'] } },
  },
});
