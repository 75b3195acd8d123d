import { defineConfig } from 'vitest/config';

// Two projects: fast unit tests in parallel, and browser end-to-end tests one file at a
// time (each starts its own signaling server and Chromium; two cores cannot take more).
// CI asks for a JSON report to print its plain "N passed, N failed" summary.
const report = process.env.TEST_REPORT;

export default defineConfig({
  test: {
    reporters: report ? ['default', ['json', { outputFile: report }]] : ['default'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['tests/unit/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
        },
      },
      {
        test: {
          // Several server processes around one real redis-server: one file at a time.
          name: 'scaled',
          include: ['tests/scaled/**/*.test.ts'],
          environment: 'node',
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['tests/e2e/**/*.test.ts'],
          environment: 'node',
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
