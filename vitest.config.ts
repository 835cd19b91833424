import { defineConfig } from "vitest/config";

// One runner for everything. Files run one at a time: integration files share one real
// cluster (started once in test/global-setup.ts) and the machine has two cores that the
// redis-server processes need too.
export default defineConfig({
  test: {
    // The bench's own unit tests (parsing, statistics, report, chart) need no cluster.
    include: ["test/**/*.test.ts", "bench/test/**/*.test.mjs"],
    globalSetup: ["test/global-setup.ts"],
    fileParallelism: false,
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 90_000,
    teardownTimeout: 30_000,
  },
});
