/**
 * redlock on `rediscluster/ioredis`, on the shared cluster: its scripts go as EVALSHA with
 * the arguments in one array, and as EVAL after the server's NOSCRIPT. Several workers, each
 * with its own client, take the same lock: never two inside at once, no update lost.
 */
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import type { Cluster } from "../../src/compat/ioredis/index.js";
import { tagFor, useFacades } from "./facades.js";

/** What the tests use of redlock 5 (its package's `exports` hide its own .d.ts from TypeScript). */
interface Lock {
  extend(duration: number): Promise<Lock>;
  release(): Promise<unknown>;
}
interface RedlockInstance {
  acquire(resources: string[], duration: number): Promise<Lock>;
  using<T>(resources: string[], duration: number, routine: () => Promise<T>): Promise<T>;
}
type RedlockClass = new (
  clients: Cluster[],
  settings?: { retryCount?: number; retryDelay?: number; retryJitter?: number },
) => RedlockInstance;
const Redlock = (createRequire(import.meta.url)("redlock") as { default: RedlockClass }).default;

const facades = useFacades();

describe("redlock on rediscluster/ioredis", () => {
  it("holds mutual exclusion for four workers with their own clients, and loses no update", async () => {
    const tag = tagFor("lock");
    const resource = `${tag}:resource`;
    const counterKey = `${tag}:counter`;
    const workers = 4;
    const rounds = 12;
    let inside = 0;
    let mostInside = 0;
    const run = async () => {
      const client = await facades.ioredis();
      const redlock = new Redlock([client], { retryCount: 500, retryDelay: 15, retryJitter: 15 });
      for (let round = 0; round < rounds; round++) {
        await redlock.using([resource], 5_000, async () => {
          inside++;
          mostInside = Math.max(mostInside, inside);
          // Read, yield to the other workers, write: an update is lost if two are inside.
          const value = Number(await client.get(counterKey));
          await client.ping();
          await client.set(counterKey, String(value + 1));
          inside--;
        });
      }
    };
    await Promise.all(Array.from({ length: workers }, run));
    expect(mostInside).toBe(1);
    const reader = await facades.ioredis();
    expect(await reader.get(counterKey)).toBe(String(workers * rounds));
    expect(await reader.exists(resource)).toBe(0); // released
  });

  it("refuses a held lock, extends and releases it", async () => {
    const client = await facades.ioredis();
    const redlock = new Redlock([client], { retryCount: 0 });
    const resource = `${tagFor("lock2")}:r`;
    const lock = await redlock.acquire([resource], 10_000);
    await expect(redlock.acquire([resource], 10_000)).rejects.toThrow();
    const extended = await lock.extend(20_000);
    expect(await client.pttl(resource)).toBeGreaterThan(10_000);
    await extended.release();
    expect(await client.exists(resource)).toBe(0);
    const again = await redlock.acquire([resource], 1_000);
    await again.release();
  });
});
