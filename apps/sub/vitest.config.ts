import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Each test starts the built CLI as a process and talks to it over
    // ZeroMQ, so it takes longer than vitest's default of 5 seconds.
    testTimeout: 20_000,
  },
});
