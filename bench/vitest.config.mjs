// @ts-check
// The bench's own tests (its parsing, statistics, report and chart), kept out of `npm test`
// like the bench itself: `npx vitest run --config bench/vitest.config.mjs`. They need no
// cluster and no build.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    root: fileURLToPath(new URL(".", import.meta.url)),
    include: ["test/**/*.test.mjs"],
  },
});
