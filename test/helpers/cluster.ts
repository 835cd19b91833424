/**
 * Dev clusters for integration tests.
 *
 * - sharedDevCluster(): the one 3 + 3 cluster of the run, for tests that leave it as they
 *   found it (healthy, same roles, same slots). Started on first use; see global-setup.ts.
 * - withDevCluster(options): a cluster of the file's own, for tests that break things
 *   (kill, failover, reshard). Started in beforeAll, stopped in afterAll, whatever happens.
 */
import { existsSync, linkSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { afterAll, beforeAll, inject } from "vitest";
import {
  attachDevCluster,
  type DevCluster,
  type DevClusterOptions,
  startDevCluster,
} from "../../src/dev/index.js";
import { delay } from "../../src/dev/poll.js";
import { isProcessAlive } from "../../src/dev/process.js";

let shared: Promise<DevCluster> | undefined;

/**
 * The run's shared 3 + 3 cluster, healthy. The first call in the run starts it (a few
 * seconds); later calls, in this worker or others, attach to it.
 *
 * @example
 * let cluster: DevCluster;
 * beforeAll(async () => { cluster = await sharedDevCluster(); });
 */
export function sharedDevCluster(): Promise<DevCluster> {
  shared ??= openShared().catch((error: unknown) => {
    shared = undefined;
    throw error;
  });
  return shared;
}

async function openShared(): Promise<DevCluster> {
  const { stateFile } = inject("devCluster");
  const dir = dirname(stateFile);
  // The lock lives next to the cluster's folder: a failed start removes that folder.
  const lockFile = `${dir}.lock`;
  await mkdir(dirname(dir), { recursive: true });
  await acquireLock(lockFile);
  try {
    // No state file yet: this is the first test of the run that needs the cluster.
    if (!existsSync(stateFile)) return await startDevCluster({ dir, detached: true });
    const cluster = await attachDevCluster(stateFile);
    // A test before us may have restarted or failed over a node; let things settle.
    await cluster.waitForHealthy();
    return cluster;
  } finally {
    rmSync(lockFile, { force: true });
  }
}

/**
 * An exclusive lock file holding our PID; one left by a dead process is taken over. The
 * file is created whole (written aside, then hard-linked into place), so a reader never
 * sees it empty.
 */
async function acquireLock(path: string): Promise<void> {
  const deadlineAt = Date.now() + 120_000;
  const mine = `${path}.${process.pid}`;
  writeFileSync(mine, String(process.pid));
  try {
    for (;;) {
      try {
        linkSync(mine, path);
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
      let holder = 0;
      try {
        holder = Number(readFileSync(path, "utf8"));
      } catch {
        continue; // released meanwhile
      }
      if (!isProcessAlive(holder)) rmSync(path, { force: true });
      else if (Date.now() > deadlineAt)
        throw new Error(`the shared dev cluster lock ${path} is held by pid ${holder}`);
      else await delay(50);
    }
  } finally {
    rmSync(mine, { force: true });
  }
}

/**
 * A cluster for this test file only: started before its tests, stopped after them (also
 * when they fail). Returns a getter, as the cluster exists only once beforeAll has run.
 *
 * @example
 * const cluster = withDevCluster({ primaries: 3, replicasPerPrimary: 1 });
 * it("fails over", async () => { await cluster().failover(replicaPort); });
 */
export function withDevCluster(options: DevClusterOptions = {}): () => DevCluster {
  let cluster: DevCluster | undefined;
  beforeAll(async () => {
    cluster = await startDevCluster(options);
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  return () => {
    if (!cluster) throw new Error("the dev cluster is not started (use it inside tests or hooks)");
    return cluster;
  };
}
