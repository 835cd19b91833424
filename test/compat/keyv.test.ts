/**
 * @keyv/redis (and cache-manager over it) on `rediscluster/node-redis`, on the shared
 * cluster. @keyv/redis takes a node-redis cluster: it tells one by `slots`, groups keys by
 * slot itself and sends each group's MULTI/MGET through `nodeClient(slots[slot].master)`,
 * and scans each of `masters` with `scan(cursor, { MATCH, TYPE })`. TTLs go as SET's `{ PX }`.
 */
import KeyvRedis, { Keyv } from "@keyv/redis";
import { createCache } from "cache-manager";
import { afterEach, describe, expect, it } from "vitest";
import { createCluster, type NodeRedisCluster } from "../../src/compat/node-redis/index.js";
import { sharedDevCluster } from "../helpers/cluster.js";
import { waitFor } from "../helpers/wait.js";
import { tagFor } from "./facades.js";

const open: NodeRedisCluster[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((client) => client.close()));
});

async function keyvOn(namespace: string): Promise<{ keyv: Keyv; client: NodeRedisCluster }> {
  const dev = await sharedDevCluster();
  const client = createCluster({ rootNodes: dev.seeds.map((seed) => ({ url: `redis://${seed}` })) });
  open.push(client);
  // @keyv/redis is typed for node-redis's own classes; the facade has the members it uses.
  // throwOnErrors: a failure fails the test instead of reading as a miss.
  const store = new KeyvRedis(client as unknown as ConstructorParameters<typeof KeyvRedis>[0], {
    throwOnErrors: true,
    throwOnConnectError: true,
  });
  return { keyv: new Keyv({ store, namespace, useKeyPrefix: false }), client };
}

describe("@keyv/redis on rediscluster/node-redis", () => {
  it("gets, sets, deletes, and lets a TTL expire", async () => {
    const namespace = tagFor("keyv");
    const { keyv, client } = await keyvOn(namespace);
    expect(await keyv.get("missing")).toBeUndefined();
    expect(await keyv.set("user", { name: "ann", visits: 3 })).toBe(true);
    expect(await keyv.get("user")).toEqual({ name: "ann", visits: 3 });
    expect(await keyv.has("user")).toBe(true);
    expect(await keyv.delete("user")).toBe(true);
    expect(await keyv.get("user")).toBeUndefined();

    await keyv.set("short", "lived", 400);
    const ttl = Number(await client.native.pttl(`${namespace}::short`));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(400);
    expect(await keyv.get("short")).toBe("lived");
    await waitFor("the key to expire", 10_000, async () => (await keyv.get("short")) === undefined);
  });

  it("sets, gets, checks and deletes many keys across slots, iterates and clears the namespace", async () => {
    const namespace = tagFor("keyv-many").replace(/[{}]/g, ""); // keys spread over slots
    const { keyv } = await keyvOn(namespace);
    const entries = Array.from({ length: 40 }, (_, i) => ({ key: `k${i}`, value: `v${i}` }));
    await keyv.setMany(entries);
    expect(await keyv.getMany(entries.map((entry) => entry.key))).toEqual(
      entries.map((entry) => entry.value),
    );
    expect(await keyv.hasMany(["k0", "k39", "nope"])).toEqual([true, true, false]);
    const seen = new Map<string, unknown>();
    for await (const [key, value] of keyv.iterator!(undefined)) seen.set(key as string, value);
    expect(seen.size).toBe(40);
    expect(seen.get("k7")).toBe("v7");
    expect(await keyv.deleteMany(["k0", "k1"])).toBe(true);
    expect(await keyv.get("k0")).toBeUndefined();
    await keyv.clear();
    expect(await keyv.getMany(["k2", "k39"])).toEqual([undefined, undefined]);
  });

  it("serves cache-manager: set with TTL, get, ttl, del", async () => {
    const { keyv } = await keyvOn(tagFor("cache"));
    const cache = createCache({ stores: [keyv] });
    await cache.set("page", "<html>", 5_000);
    expect(await cache.get("page")).toBe("<html>");
    const expiresAt = await cache.ttl("page");
    expect(expiresAt).toBeGreaterThan(Date.now());
    expect(await cache.del("page")).toBe(true);
    expect(await cache.get("page")).toBeUndefined();
  });
});
