/**
 * Vitest global setup: reserves a folder for the one dev cluster that integration tests
 * share, and stops that cluster when the run ends.
 *
 * The cluster is started lazily, by the first test that asks for it (sharedDevCluster() in
 * test/helpers/cluster.ts), so a run of unit tests only never starts redis-server. That
 * test runs in a worker process which may exit before the run ends, so the cluster is
 * started detached, and this process, which lives for the whole run, owns its end: the
 * teardown stops it, and if the run dies (Ctrl-C, a crash) the exit guard kills it.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { guardOnExit, unguard } from "../src/dev/exit-guard.js";
import { attachDevCluster } from "../src/dev/index.js";
import { isProcessAlive } from "../src/dev/process.js";
import { readStateFile, stateFileOf } from "../src/dev/state.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** Where the shared dev cluster's state file is (or will be, once a test starts it). */
    devCluster: { stateFile: string };
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const root = await mkdtemp(join(tmpdir(), "rediscluster-test-"));
  const clusterDir = join(root, "cluster");
  const stateFile = stateFileOf(clusterDir);
  project.provide("devCluster", { stateFile });
  guardOnExit({ stateFile, dir: root, redisServer: "redis-server", pids: () => [] });
  return async () => {
    try {
      if (hasLiveNodes(stateFile)) await (await attachDevCluster(stateFile)).stop();
    } finally {
      unguard(stateFile);
      await rm(root, { recursive: true, force: true, maxRetries: 3 });
    }
  };
}

function hasLiveNodes(stateFile: string): boolean {
  try {
    return readStateFile(stateFile).nodes.some((node) => node.pid !== null && isProcessAlive(node.pid));
  } catch {
    return false;
  }
}
