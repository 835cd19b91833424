/**
 * The published build: its source maps must carry their sources, since the package ships
 * dist/ and not src/ (a map that points at src/*.ts leaves a debugger with nothing to show).
 */
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");

function effectiveOptions(project: string): Record<string, unknown> {
  const text = execFileSync(process.execPath, [tsc, "-p", join(root, project), "--showConfig"], {
    cwd: root,
    encoding: "utf8",
  });
  return (JSON.parse(text) as { compilerOptions: Record<string, unknown> }).compilerOptions;
}

describe("the build (scripts/build.mjs)", () => {
  for (const project of ["tsconfig.build.json", "tsconfig.cjs.json"]) {
    it(`${project}: source maps inline their sources, and no map points at files not shipped`, () => {
      const options = effectiveOptions(project);
      expect(options.sourceMap).toBe(true);
      expect(options.inlineSources).toBe(true);
      // Declaration maps cannot inline sources: they would point into src/, which is not shipped.
      expect(options.declarationMap ?? false).toBe(false);
    });
  }
});
