/**
 * Puts a dev cluster back the way a destructive test found it, whatever that test did and
 * wherever it failed: paused nodes resumed, killed nodes restarted, then healthy again.
 * Meant for an `afterEach` of files that pause, kill or fail over nodes: one failed
 * assertion before a test's own restart must not leave the cluster broken for the rest of
 * the file.
 */
import { afterEach } from "vitest";
import type { DevCluster } from "../../src/dev/index.js";
import { isProcessAlive, isProcessStopped } from "../../src/dev/process.js";

/** Resumes paused nodes, restarts dead ones, and waits until the cluster is healthy. */
export async function restoreNodes(dev: DevCluster): Promise<void> {
  for (const node of dev.nodes) {
    if (node.pid !== undefined && isProcessAlive(node.pid)) {
      if (isProcessStopped(node.pid)) dev.resumeNode(node.port);
      continue;
    }
    await dev.restartNode(node.port);
  }
  await dev.waitForHealthy();
}

/**
 * Registers an `afterEach` that restores the cluster (see {@link restoreNodes}). Call it
 * after `useClients()`: after-hooks run last-registered first, so the nodes are back before
 * the test's clients are closed (a client closing against a paused node waits for it).
 *
 * @example
 * const cluster = withDevCluster({ primaries: 3, replicasPerPrimary: 1 });
 * const clients = useClients();
 * restoreNodesAfterEach(cluster);
 */
export function restoreNodesAfterEach(cluster: () => DevCluster): void {
  afterEach(async () => {
    await restoreNodes(cluster());
  });
}

/** A slot migration begun by a test; `finish()` completes it (once). */
export interface OpenMigration {
  finish(): Promise<void>;
}

/**
 * Slot migrations that are finished after each test if the test did not finish them (an
 * assertion failed half-way): a slot left half-migrated would answer ASK and TRYAGAIN to
 * the file's later tests.
 *
 * @example
 * const migrations = finishMigrationsAfterEach();
 * const migration = await migrations.begin(dev, source.port, target.port, slot, 5);
 * ...
 * await migration.finish();
 */
export function finishMigrationsAfterEach(): {
  begin(
    dev: DevCluster,
    fromPort: number,
    toPort: number,
    slot: number,
    keysToMove?: number,
  ): Promise<OpenMigration>;
} {
  const open = new Set<OpenMigration>();
  afterEach(async () => {
    const unfinished = [...open];
    open.clear();
    for (const migration of unfinished) await migration.finish();
  });
  return {
    async begin(dev, fromPort, toPort, slot, keysToMove) {
      await dev.beginSlotMigration(fromPort, toPort, slot, keysToMove);
      let finished: Promise<void> | undefined;
      const migration: OpenMigration = {
        finish() {
          open.delete(migration);
          finished ??= dev.finishMigration(fromPort, toPort, slot);
          return finished;
        },
      };
      open.add(migration);
      return migration;
    },
  };
}
