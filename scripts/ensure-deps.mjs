// Installs the project's dependencies when they are missing (a fresh clone), so that
// `npm run demo` and `npm test` work as the first commands on a new machine.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
if (!existsSync(join(root, "node_modules", ".bin", "tsc"))) {
  process.stderr.write("ensure-deps: node_modules is missing; running npm ci\n");
  const result = spawnSync("npm", ["ci"], {
    cwd: root,
    stdio: "inherit",
    shell: process.platform === "win32",
  });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
