/**
 * rate-limiter-flexible's RateLimiterRedis on `rediscluster/ioredis`, on the shared cluster:
 * it defines its Lua script with `defineCommand` and calls it with one array, reads with
 * `multi().get().pttl().exec()` ([error, result] pairs) and blocks with `multi().set(EX)`.
 * Limits must hold exactly when several clients consume the same key at once.
 */
import { once } from "node:events";
import { RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import { describe, expect, it } from "vitest";
import { tagFor, useFacades } from "./facades.js";

const facades = useFacades();

/** Consumes one point; true when allowed, false when the limiter refused it. Errors are rethrown. */
async function consumeOne(limiter: RateLimiterRedis, key: string): Promise<boolean> {
  try {
    await limiter.consume(key, 1);
    return true;
  } catch (outcome) {
    if (outcome instanceof RateLimiterRes) return false;
    throw outcome;
  }
}

describe("rate-limiter-flexible on rediscluster/ioredis", () => {
  it("lets exactly `points` consumptions through when three clients consume one key concurrently", async () => {
    const prefix = tagFor("rl");
    const clients = await Promise.all([facades.ioredis(), facades.ioredis(), facades.ioredis()]);
    await Promise.all(clients.map((client) => once(client, "ready")));
    const limiters = clients.map(
      (storeClient) => new RateLimiterRedis({ storeClient, keyPrefix: prefix, points: 37, duration: 60 }),
    );
    const outcomes = await Promise.all(
      Array.from({ length: 120 }, (_, i) => consumeOne(limiters[i % limiters.length]!, "user-1")),
    );
    expect(outcomes.filter(Boolean)).toHaveLength(37);
    expect(outcomes.filter((allowed) => !allowed)).toHaveLength(83);
    // Every limiter reads the same state back (multi().get().pttl().exec()).
    const state = await limiters[1]!.get("user-1");
    expect(state?.consumedPoints).toBe(120);
    expect(state?.remainingPoints).toBe(0);
    expect(state?.msBeforeNext).toBeGreaterThan(0);
    expect(state?.msBeforeNext).toBeLessThanOrEqual(60_000);
    // Another key is counted on its own.
    expect(await consumeOne(limiters[2]!, "user-2")).toBe(true);
    expect((await limiters[0]!.get("user-2"))?.consumedPoints).toBe(1);
  });

  it("blocks, rewards and deletes a key", async () => {
    const storeClient = await facades.ioredis();
    const limiter = new RateLimiterRedis({
      storeClient,
      keyPrefix: tagFor("rl-block"),
      points: 5,
      duration: 30,
    });
    await limiter.block("ip-9", 20); // multi().set(key, points, "EX", 20).pttl(key).exec(true)
    expect(await consumeOne(limiter, "ip-9")).toBe(false);
    const blocked = await limiter.get("ip-9");
    expect(blocked?.msBeforeNext).toBeGreaterThan(15_000);
    expect(await limiter.delete("ip-9")).toBe(true);
    expect(await limiter.get("ip-9")).toBeNull();
    expect(await consumeOne(limiter, "ip-9")).toBe(true);
    await limiter.reward("ip-9", 1);
    expect((await limiter.get("ip-9"))?.consumedPoints).toBe(0);
  });

  it("reports the client ready through `status` when asked to refuse while not ready", async () => {
    const storeClient = await facades.ioredis({ lazyConnect: true });
    const limiter = new RateLimiterRedis({
      storeClient,
      keyPrefix: tagFor("rl-ready"),
      points: 2,
      duration: 10,
      rejectIfRedisNotReady: true,
    });
    // Not connected yet: the limiter refuses without sending anything.
    await expect(limiter.consume("k")).rejects.toThrow(/not ready/);
    await storeClient.connect();
    expect(await consumeOne(limiter, "k")).toBe(true);
  });
});
