/**
 * Clusters die with the process that owns them. When that process ends without calling
 * stop() (an uncaught exception, process.exit(), Ctrl-C), the 'exit' handler kills the
 * remaining redis-server processes synchronously (nothing asynchronous runs after 'exit')
 * and removes their folder. The PIDs come from the state file as well as from memory: a
 * node restarted by another process (a test worker) is only known there.
 *
 * A terminating signal (SIGINT, SIGTERM, SIGHUP) skips 'exit' when nobody listens for it,
 * so while a cluster is guarded we listen too: if ours is the only listener, we clean up
 * and re-raise the signal, so the process still dies of it as it would have. If someone
 * else listens, they decide whether the process ends, and 'exit' covers us if it does.
 */
import { existsSync, rmSync } from "node:fs";
import { isRedisServerProcess } from "./process.js";
import { readStateFile } from "./state.js";

/** What the exit guard needs to kill a cluster's processes and remove its folder. */
export interface GuardedCluster {
  /** The cluster's state file (its PIDs, for nodes started by an earlier process). */
  stateFile: string;
  /** The cluster's folder, removed on exit. */
  dir: string;
  /** The redis-server binary, to check a PID is still one of its processes before killing it. */
  redisServer: string;
  /** PIDs known in memory (may include nodes not yet written to the state file). */
  pids(): Iterable<number>;
}

const guarded = new Map<string, GuardedCluster>();
const SIGNALS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/** Kills the cluster's processes and removes its folder if this process ends first. */
export function guardOnExit(cluster: GuardedCluster): void {
  if (guarded.size === 0) {
    process.on("exit", destroyAllGuarded);
    for (const signal of SIGNALS) process.on(signal, onSignal);
  }
  guarded.set(cluster.stateFile, cluster);
}

/** Stops guarding (the cluster was stopped, or handed over to someone else). */
export function unguard(stateFile: string): void {
  if (!guarded.delete(stateFile) || guarded.size > 0) return;
  process.off("exit", destroyAllGuarded);
  for (const signal of SIGNALS) process.off(signal, onSignal);
}

/**
 * SIGKILLs every redis-server of a cluster (PIDs from its state file and `extraPids`) and
 * removes its folder, synchronously. For exit paths only; stop() is the polite way.
 */
export function destroyClusterSync(
  cluster: Pick<GuardedCluster, "stateFile" | "dir" | "redisServer">,
  extraPids: Iterable<number> = [],
): void {
  const pids = new Set(extraPids);
  if (existsSync(cluster.stateFile)) {
    try {
      for (const node of readStateFile(cluster.stateFile).nodes) if (node.pid !== null) pids.add(node.pid);
    } catch {
      // A torn or foreign file: the PIDs we know in memory are all we can kill.
    }
  }
  for (const pid of pids) {
    if (!isRedisServerProcess(pid, cluster.redisServer)) continue;
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Gone in between: that is what we wanted.
    }
  }
  rmSync(cluster.dir, { recursive: true, force: true, maxRetries: 3 });
}

function destroyAllGuarded(): void {
  for (const cluster of guarded.values()) destroyClusterSync(cluster, cluster.pids());
  guarded.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return;
  destroyAllGuarded();
  for (const other of SIGNALS) process.off(other, onSignal);
  process.off("exit", destroyAllGuarded);
  process.kill(process.pid, signal);
}
