/**
 * Named clusters started by the CLI. `rediscluster dev start --name <name>` writes
 * os.tmpdir()/rediscluster-dev/<name>.json = `{ "stateFile": ... }`; `status`, `stop`, and
 * any script that wants the running cluster read it back.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The name used when none is given. */
export const DEFAULT_CLUSTER_NAME = "current";

/** The registry entry of the CLI's dev cluster `name` (in the OS temporary folder). */
export function registryFile(name: string): string {
  return join(tmpdir(), "rediscluster-dev", `${name}.json`);
}

/**
 * The state file of the cluster the CLI started under `name`, if there is an entry for it
 * (the cluster may have died since: attach and look).
 *
 * @example
 * const stateFile = findDevClusterStateFile();
 * const cluster = stateFile ? await attachDevCluster(stateFile) : await startDevCluster();
 */
export function findDevClusterStateFile(name = DEFAULT_CLUSTER_NAME): string | undefined {
  try {
    const entry: unknown = JSON.parse(readFileSync(registryFile(name), "utf8"));
    const stateFile = (entry as { stateFile?: unknown }).stateFile;
    return typeof stateFile === "string" ? stateFile : undefined;
  } catch {
    return undefined;
  }
}

/** Records that the CLI's dev cluster `name` has its state in `stateFile`. */
export function registerDevCluster(name: string, stateFile: string): void {
  mkdirSync(join(tmpdir(), "rediscluster-dev"), { recursive: true });
  writeFileSync(registryFile(name), JSON.stringify({ stateFile }) + "\n");
}

/** Removes the registry entry of `name` (the cluster was stopped). */
export function unregisterDevCluster(name: string): void {
  rmSync(registryFile(name), { force: true });
}
