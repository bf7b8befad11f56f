import { defineConfig } from 'vitest/config';

// The web UI's vite.config.ts has root 'web'; tests get their own config so that vitest looks under test/.
export default defineConfig({
  test: {
    root: '.',
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
          // Real peers (Dante, sshd) bind fixed resources; two cores: keep files sequential.
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
