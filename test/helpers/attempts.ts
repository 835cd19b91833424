/**
 * Counting, on the server side, how often a client that cannot get in tries again: a client
 * refused by TLS or AUTH must back off, not hammer the node with handshakes.
 */
import { readFileSync } from "node:fs";
import type { DevCluster } from "../../src/dev/index.js";
import type { RedisCluster } from "../../src/index.js";

/**
 * The connection's reconnect delay (src/connection/connection.ts DEFAULTS): 50 ms after the
 * first failure, doubling up to 2000 ms, each delay jittered down to half at most.
 */
const RECONNECT_BASE_DELAY_MS = 50;
const RECONNECT_MAX_DELAY_MS = 2000;
const MIN_JITTER = 0.5;

/**
 * The most connection attempts one node connection may make in `windowMs` while every
 * attempt fails: the first at once, each next one after the shortest delay the backoff allows.
 */
export function maxAttemptsWithin(windowMs: number): number {
  let attempts = 1;
  let elapsedMs = 0;
  for (let failures = 1; ; failures++) {
    elapsedMs += MIN_JITTER * Math.min(RECONNECT_MAX_DELAY_MS, RECONNECT_BASE_DELAY_MS * 2 ** (failures - 1));
    if (elapsedMs > windowMs) return attempts;
    attempts++;
  }
}

/** Lines of every node's redis.log that match `pattern` (e.g. refused TLS handshakes). */
export function countLogLines(cluster: DevCluster, pattern: RegExp): Map<number, number> {
  const counts = new Map<number, number>();
  for (const node of cluster.nodes) {
    const lines = readFileSync(cluster.logFile(node.port), "utf8").split("\n");
    counts.set(node.port, lines.filter((line) => pattern.test(line)).length);
  }
  return counts;
}

/** A field of `INFO stats`, per node. */
export async function statsField(cluster: DevCluster, field: string): Promise<Map<number, number>> {
  const counts = new Map<number, number>();
  for (const node of cluster.nodes) {
    const info = String(await cluster.command(node.port, "INFO", "stats"));
    counts.set(node.port, Number(new RegExp(`^${field}:(\\d+)`, "m").exec(info)?.[1] ?? Number.NaN));
  }
  return counts;
}

/** `after - before`, per node. */
export function difference(before: Map<number, number>, after: Map<number, number>): Map<number, number> {
  return new Map([...after].map(([port, count]) => [port, count - (before.get(port) ?? 0)]));
}

/**
 * Keeps a refused client busy for `windowMs`: a command every 25 ms (none awaited before the
 * next is sent), as an application would. Resolves with the window's real length once every
 * command has settled and the client is destroyed, so that nothing more can connect.
 */
export async function pressFor(client: RedisCluster, windowMs: number): Promise<number> {
  const startedAt = performance.now();
  const settled: Array<Promise<unknown>> = [];
  while (performance.now() - startedAt < windowMs) {
    settled.push(client.get("rediscluster:test:refused").catch(() => undefined));
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  await Promise.all(settled);
  client.disconnect();
  return performance.now() - startedAt;
}
