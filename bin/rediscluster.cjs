#!/usr/bin/env node
// The `rediscluster` command. The CLI itself is TypeScript (src/dev/cli.ts), compiled by
// `npm run build`; this file only finds it and hands it the command line.
"use strict";

const { existsSync } = require("node:fs");
const { join } = require("node:path");

const cliPath = join(__dirname, "..", "dist", "cjs", "dev", "cli.js");
let cli;
try {
  cli = require(cliPath);
} catch (error) {
  // Only a missing cli.js means "not built": a module it needs that is missing says so itself
  // (its message names cli.js too, in the require stack).
  if (error?.code === "MODULE_NOT_FOUND" && !existsSync(cliPath)) {
    process.stderr.write(
      "rediscluster: the package is not built yet (dist/cjs/dev/cli.js is missing).\n" +
        "Run `npm run build` in the package folder, then try again.\n",
    );
    process.exit(1);
  }
  throw error;
}

const argv = process.argv.slice(2);
// main() reports its own failures; this catch is for a broken install only.
cli.main(argv, undefined, { packageRoot: join(__dirname, "..") }).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    const detail = argv.includes("--debug") ? (error?.stack ?? error) : (error?.message ?? error);
    process.stderr.write(`rediscluster: ${detail}\n`);
    process.exitCode = 1;
  },
);
