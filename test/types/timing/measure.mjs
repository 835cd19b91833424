// Times `tsc` on a 200-line user file (user-file.ts) as a user of the package would check it:
// against the built declarations (dist/, so `npm run build` first), in a temporary project
// that imports "rediscluster". Two variants, each checked `--runs` times (default 5), medians:
//
//   typed     the file as it is
//   baseline  the same file with the client typed `any` (no command types consulted)
//
// The difference is what the command types cost (issue 16's budget: under 2 s). Times move
// with the machine's load; the type and instantiation counts printed with them do not.
//
//   npm run typecheck:timing -- [--runs 5] [--package DIR]
//
// --package DIR times the same file against another build of the package (a checkout of an
// older commit, built): "before" figures. The file may not compile there (it uses newer
// API); its type errors are reported as a count and the timings kept.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..", "..");
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
const runsAt = process.argv.indexOf("--runs");
const runs = runsAt === -1 ? 5 : Number(process.argv[runsAt + 1]);
const packageAt = process.argv.indexOf("--package");
const packageRoot = packageAt === -1 ? root : resolve(process.argv[packageAt + 1]);

const source = readFileSync(join(here, "user-file.ts"), "utf8").replace(
  "../../../src/index.js",
  "rediscluster",
);
const variants = {
  typed: source,
  baseline: source.replace("const cluster = new RedisCluster(", "const cluster: any = new RedisCluster("),
};
if (variants.baseline === source)
  throw new Error("user-file.ts no longer declares `const cluster = new RedisCluster(`");

const signed = (seconds) => `${seconds < 0 ? "" : "+"}${seconds.toFixed(2)}`;

const project = mkdtempSync(join(tmpdir(), "rediscluster-tsc-"));
try {
  mkdirSync(join(project, "node_modules", "@types"), { recursive: true });
  symlinkSync(packageRoot, join(project, "node_modules", "rediscluster"), "dir");
  symlinkSync(
    join(root, "node_modules", "@types", "node"),
    join(project, "node_modules", "@types", "node"),
    "dir",
  );
  const compilerOptions = {
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: ["node"],
  };
  const medians = {};
  for (const [name, text] of Object.entries(variants)) {
    const folder = join(project, name);
    mkdirSync(folder);
    writeFileSync(join(folder, "app.ts"), text);
    writeFileSync(join(folder, "tsconfig.json"), JSON.stringify({ compilerOptions, files: ["app.ts"] }));
    const check = [];
    const total = [];
    let counts = "";
    for (let run = 0; run < runs; run++) {
      let output;
      try {
        output = execFileSync(process.execPath, [tsc, "-p", folder, "--extendedDiagnostics"], {
          encoding: "utf8",
        });
      } catch (error) {
        // The baseline may report implicit-any errors; the timings are printed all the same.
        output = String(error.stdout);
        if (name === "typed" && packageRoot === root) {
          throw new Error(`the typed user file does not compile:\n${output}`);
        }
        if (name === "typed" && run === 0) {
          console.log(`typed: ${output.match(/error TS/g)?.length ?? 0} type errors against ${packageRoot}`);
        }
      }
      check.push(Number(/Check time:\s+([\d.]+)s/.exec(output)?.[1]));
      total.push(Number(/Total time:\s+([\d.]+)s/.exec(output)?.[1]));
      // Counts do not depend on the machine's load, unlike the times.
      counts = `${/Types:\s+(\d+)/.exec(output)?.[1]} types, ${/Instantiations:\s+(\d+)/.exec(output)?.[1]} instantiations`;
    }
    const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
    medians[name] = { check: median(check), total: median(total) };
    console.log(
      `${name.padEnd(8)} check ${medians[name].check.toFixed(2)} s, total ${medians[name].total.toFixed(2)} s (median of ${runs}); ${counts}`,
    );
  }
  console.log(
    `command types cost: check ${signed(medians.typed.check - medians.baseline.check)} s, ` +
      `total ${signed(medians.typed.total - medians.baseline.total)} s`,
  );
} finally {
  rmSync(project, { recursive: true, force: true });
}
