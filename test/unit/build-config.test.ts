/**
 * The published build: its source maps must carry their sources, since the package ships
 * dist/ and not src/ (a map that points at src/*.ts leaves a debugger with nothing to show).
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
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

  it("every package.json export subpath (., ./dev, ./ioredis, ./node-redis) has ESM and CJS files built from a source module", () => {
    const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
      exports: Record<string, string | Record<string, { types: string; default: string }>>;
    };
    const subpaths = Object.keys(manifest.exports).filter((subpath) => subpath !== "./package.json");
    expect(subpaths).toEqual([".", "./dev", "./ioredis", "./node-redis"]);
    for (const subpath of subpaths) {
      const entry = manifest.exports[subpath] as Record<string, { types: string; default: string }>;
      for (const [condition, folder] of [
        ["import", "esm"],
        ["require", "cjs"],
      ] as const) {
        const { types, default: code } = entry[condition]!;
        expect(code.startsWith(`./dist/${folder}/`), `${subpath} ${condition}`).toBe(true);
        expect(types, `${subpath} ${condition}`).toBe(code.replace(/\.js$/, ".d.ts"));
        // tsc mirrors src/ into each dist folder: the module must exist in src/.
        const source = code.replace(`./dist/${folder}/`, "src/").replace(/\.js$/, ".ts");
        expect(existsSync(join(root, source)), source).toBe(true);
      }
    }
  });
});
