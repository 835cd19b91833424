/**
 * Client-side caching (`clientCache`, issue 12) on the shared cluster: reads answered from
 * memory, a second client's write seen once its invalidation push has been processed, own
 * writes, MGET key by key, the per-call opt-out, memory bounded by `maxBytes`, a reconnect
 * (tracking enabled again on the new socket), replica reads (tracked on the replica's
 * connection), close(). Every key is deleted afterwards; the cluster is left as found.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DevCluster } from "../../src/dev/index.js";
import { RedisCluster } from "../../src/index.js";
import { useClients } from "../helpers/client.js";
import { sharedDevCluster } from "../helpers/cluster.js";
import { type ProxiedCluster, proxyCluster } from "../helpers/fault-proxy.js";
import { waitFor } from "../helpers/wait.js";

let dev: DevCluster;
const clients = useClients();
const keysToDelete = new Set<string>();
let serial = 0;

beforeAll(async () => {
  dev = await sharedDevCluster();
  await dev.refresh();
});

afterAll(async () => {
  if (dev === undefined || keysToDelete.size === 0) return;
  const client = new RedisCluster({ nodes: dev.seeds });
  try {
    for (const key of keysToDelete) await client.del(key);
  } finally {
    await client.close();
  }
});

/** A fresh key name, remembered for deletion. */
function key(label: string): string {
  const name = `cache:${label}:${process.pid}:${serial++}`;
  keysToDelete.add(name);
  return name;
}

function cached(maxEntries = 1000, more: { maxBytes?: number; ttl?: number } = {}) {
  return clients.create<3>({ nodes: dev.seeds, protocol: 3, clientCache: { maxEntries, ...more } });
}

function plain() {
  return clients.create({ nodes: dev.seeds });
}

function cacheStats(client: RedisCluster<3>) {
  const stats = client.stats().cache;
  if (stats === undefined) throw new Error("no cache stats");
  return stats;
}

/** The primary (its port) that serves `name`, as the cluster says. */
async function ownerPort(client: RedisCluster, name: string): Promise<number> {
  const slot = Number(await client.call("CLUSTER", "KEYSLOT", name));
  const owner = dev.nodes.find(
    (node) => node.role === "primary" && node.slots.some(([from, to]) => slot >= from && slot <= to),
  );
  if (owner === undefined) throw new Error(`no primary serves slot ${slot}`);
  return owner.port;
}

describe("the fetch/invalidate race on the real cluster (replies held back by a proxy)", () => {
  let proxied: ProxiedCluster | undefined;
  afterAll(async () => {
    await proxied?.close();
  });

  /** A cached client whose every connection goes through a fault proxy. */
  async function proxiedReader(): Promise<{ reader: RedisCluster<3>; proxied: ProxiedCluster }> {
    proxied ??= await proxyCluster(dev);
    proxied.healAll();
    const reader = clients.create<3>({
      nodes: proxied.seeds,
      natMap: proxied.natMap,
      protocol: 3,
      clientCache: { maxEntries: 100 },
    });
    await reader.connect();
    return { reader, proxied };
  }

  /**
   * A cached reader of `k` (value "old") whose GET the server has answered, the reply held
   * in the proxy in front of the key's node: `heal` the proxy to deliver it.
   */
  async function heldRead(k: string) {
    const writer = plain();
    await writer.set(k, "old");
    const { reader, proxied } = await proxiedReader();
    const proxy = proxied.proxyOf(await ownerPort(writer, k));
    // The node's connection is open and tracking before anything is held back.
    expect(await reader.withOptions({ cache: false }).get(k)).toBe("old");
    proxy.stall("toClient");
    const heldBefore = proxy.counters.received.toClient;
    const read = reader.get(k);
    try {
      await waitFor(
        "the GET's reply to reach the proxy",
        10_000,
        () => proxy.counters.received.toClient > heldBefore,
      );
    } catch (error) {
      proxy.heal();
      throw error;
    }
    return { writer, reader, proxy, read };
  }

  it("a value read before another client's write, delivered after it: replaced once the push is processed", async () => {
    const k = key("race-other");
    // The server answered (the reply waits in the proxy) before the write is made.
    const { writer, reader, proxy, read } = await heldRead(k);
    try {
      const heldAfterReply = proxy.counters.received.toClient;
      await writer.set(k, "new");
      // The invalidation push for the reader's connection is queued behind that reply.
      await waitFor(
        "the push to reach the proxy",
        10_000,
        () => proxy.counters.received.toClient > heldAfterReply,
      );
      proxy.heal();
      expect(await read).toBe("old"); // it was read before the write
      await waitFor("the push to be processed", 10_000, () => cacheStats(reader).invalidations >= 1);
      // From now on, never the old value.
      for (let i = 0; i < 5; i++) expect(await reader.get(k)).toBe("new");
    } finally {
      proxy.heal();
    }
  });

  it("a read under way when the client's own write of its key is sent: its old value is never served after the write", async () => {
    const k = key("race-own");
    const { reader, proxy, read } = await heldRead(k);
    try {
      const write = reader.set(k, "new");
      proxy.heal();
      expect(await read).toBe("old");
      await write;
      const missesBefore = cacheStats(reader).misses;
      expect(await reader.get(k)).toBe("new");
      expect(cacheStats(reader).misses).toBe(missesBefore + 1); // the old reply is not in memory
      expect(await reader.get(k)).toBe("new");
    } finally {
      proxy.heal();
    }
  });
});

describe("client-side caching on the real cluster", () => {
  it("answers a repeated GET from memory; stats count hits, misses and entries", async () => {
    const k = key("hit");
    const writer = plain();
    await writer.set(k, "v1");
    const reader = cached();
    expect(await reader.get(k)).toBe("v1");
    const commandsAfterMiss = reader.stats().commands;
    expect(await reader.get(k)).toBe("v1");
    expect(await reader.get(k)).toBe("v1");
    const stats = cacheStats(reader);
    expect(stats.misses).toBe(1);
    expect(stats.hits).toBe(2);
    expect(stats.entries).toBe(1);
    expect(stats.bytes).toBeGreaterThan(0);
    // Nothing was sent for the two hits.
    expect(reader.stats().commands).toBe(commandsAfterMiss);
  });

  it("a second client's write is seen after its invalidation push; no stale read once it was processed", async () => {
    const k = key("other-writer");
    const writer = plain();
    await writer.set(k, "old");
    const reader = cached();
    expect(await reader.get(k)).toBe("old");
    expect(await reader.get(k)).toBe("old"); // from memory
    const invalidationsBefore = cacheStats(reader).invalidations;
    await writer.set(k, "new");
    // The push comes on the reader's own connection, some time after the write's reply.
    await waitFor("the reader to see the new value", 10_000, async () => (await reader.get(k)) === "new");
    expect(cacheStats(reader).invalidations).toBeGreaterThan(invalidationsBefore);
    // Once the push was processed, every read is the new value (from memory again).
    for (let i = 0; i < 5; i++) expect(await reader.get(k)).toBe("new");
    expect(cacheStats(reader).entries).toBe(1);
  });

  it("every reply of an invalidated key goes at once (GET, STRLEN, EXISTS of one key)", async () => {
    const k = key("all-replies");
    const writer = plain();
    await writer.set(k, "abc");
    const reader = cached();
    expect(await reader.get(k)).toBe("abc");
    expect(await reader.strlen(k)).toBe(3);
    expect(await reader.exists(k)).toBe(1);
    expect(cacheStats(reader).entries).toBe(3);
    await writer.set(k, "abcdef");
    await waitFor("the key's replies to be dropped", 10_000, () => cacheStats(reader).entries === 0);
    expect(await reader.get(k)).toBe("abcdef");
    expect(await reader.strlen(k)).toBe(6);
  });

  it("the client's own write is never followed by a read of the value before it", async () => {
    const k = key("own-write");
    const client = cached();
    await client.set(k, "1");
    expect(await client.get(k)).toBe("1");
    for (let i = 2; i < 50; i++) {
      await client.set(k, String(i));
      expect(await client.get(k)).toBe(String(i));
      expect(await client.get(k)).toBe(String(i));
    }
    // Reads issued right behind a write, without awaiting it, see it too.
    const write = client.set(k, "last");
    const read = client.get(k);
    await write;
    expect(await read).toBe("last");
  });

  it("MGET is served key by key: cached keys from memory, the others fetched, in the caller's order", async () => {
    const tag = `{cache-mget-${serial++}}`;
    const [a, b, c] = [`${tag}a`, `${tag}b`, `${tag}c`];
    for (const name of [a, b, c]) keysToDelete.add(name);
    const writer = plain();
    await writer.set(a, "A");
    await writer.set(c, "C");
    const reader = cached();
    expect(await reader.get(a)).toBe("A");
    const before = cacheStats(reader);
    expect(await reader.mget(a, b, c)).toEqual(["A", null, "C"]);
    const after = cacheStats(reader);
    expect(after.hits - before.hits).toBe(1);
    expect(after.misses - before.misses).toBe(2);
    // Now every key is in memory: GET of a key MGET fetched is a hit.
    expect(await reader.mget(c, b, a)).toEqual(["C", null, "A"]);
    expect(await reader.get(c)).toBe("C");
    expect(cacheStats(reader).misses).toBe(after.misses);
    await writer.set(b, "B");
    await waitFor("b's null to be invalidated", 10_000, async () => (await reader.mget(a, b, c))[1] === "B");
  });

  it("MGET across slots: each slot's part is served key by key; values in the caller's order", async () => {
    const keys = Array.from({ length: 20 }, () => key("mget-cross"));
    const writer = plain();
    for (const [i, name] of keys.entries()) if (i % 3 !== 0) await writer.set(name, `v${i}`);
    const expected = keys.map((_, i) => (i % 3 !== 0 ? `v${i}` : null));
    const reader = cached();
    for (const name of keys.slice(0, 10)) await reader.get(name);
    const before = cacheStats(reader);
    expect(await reader.mget(...keys)).toEqual(expected);
    const after = cacheStats(reader);
    expect(after.hits - before.hits).toBe(10);
    expect(after.misses - before.misses).toBe(10);
    expect(await reader.mget(...keys)).toEqual(expected);
    expect(cacheStats(reader).hits - after.hits).toBe(20);
  });

  it("pipeline reads are served from memory in their place; the pipeline's writes are seen", async () => {
    const [a, b] = [key("pipe"), key("pipe")];
    const writer = plain();
    await writer.set(a, "A");
    await writer.set(b, "B");
    const reader = cached();
    expect(await reader.get(a)).toBe("A");
    const replies = await reader.pipeline().get(b).get(a).set(a, "A2").get(a).exec();
    expect(replies).toEqual(["B", "A", "OK", "A2"]);
    expect(cacheStats(reader).hits).toBe(1); // the first GET a of the pipeline; the second follows the SET
    expect(await reader.get(a)).toBe("A2");
  });

  it("withOptions({ cache: false }) reads from the server and keeps nothing", async () => {
    const k = key("opt-out");
    const writer = plain();
    await writer.set(k, "v");
    const reader = cached();
    const direct = reader.withOptions({ cache: false });
    expect(await direct.get(k)).toBe("v");
    expect(await direct.get(k)).toBe("v");
    expect(cacheStats(reader)).toMatchObject({ hits: 0, misses: 0, entries: 0 });
    expect(await reader.get(k)).toBe("v");
    expect(await reader.get(k)).toBe("v");
    expect(cacheStats(reader)).toMatchObject({ hits: 1, misses: 1, entries: 1 });
    // And an opted-out read does not get the cached reply either.
    const commands = reader.stats().commands;
    expect(await direct.get(k)).toBe("v");
    expect(reader.stats().commands).toBe(commands + 1);
  });

  it("a mutable reply is handed out as a copy: changing it does not change what is cached", async () => {
    const k = key("copy");
    const writer = plain();
    await writer.hset(k, { a: "1", b: "2" });
    const reader = cached();
    const first = await reader.hgetall(k);
    expect(first).toEqual({ a: "1", b: "2" });
    (first as Record<string, string>).a = "changed";
    expect(await reader.hgetall(k)).toEqual({ a: "1", b: "2" });
    expect(cacheStats(reader).hits).toBe(1);
  });

  it("memory stays within maxBytes under a scan of more keys than the cache holds", async () => {
    const writer = plain();
    const keys: string[] = [];
    const value = "x".repeat(200);
    for (let i = 0; i < 2000; i++) keys.push(key("scan"));
    await Promise.all(keys.map((name) => writer.set(name, value)));
    const maxBytes = 64 * 1024;
    const reader = cached(1_000_000, { maxBytes });
    let highest = 0;
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(keys.slice(i, i + 50).map((name) => reader.get(name)));
      highest = Math.max(highest, cacheStats(reader).bytes);
    }
    const stats = cacheStats(reader);
    expect(highest).toBeLessThanOrEqual(maxBytes);
    expect(stats.evictions).toBeGreaterThan(0);
    // Each entry costs at least its 200-byte value: far fewer than 2000 fit.
    expect(stats.entries).toBeLessThan(maxBytes / 200);
    expect(stats.entries + stats.evictions).toBe(keys.length);
  });

  it("maxEntries bounds the count; the least recently used goes first", async () => {
    const writer = plain();
    const [a, b, c] = [key("lru"), key("lru"), key("lru")];
    await Promise.all([writer.set(a, "a"), writer.set(b, "b"), writer.set(c, "c")]);
    const reader = cached(2);
    await reader.get(a);
    await reader.get(b);
    await reader.get(a); // a is now the most recent
    await reader.get(c); // b goes
    expect(cacheStats(reader)).toMatchObject({ entries: 2, evictions: 1, hits: 1 });
    await reader.get(a);
    expect(cacheStats(reader).hits).toBe(2);
    await reader.get(b);
    expect(cacheStats(reader).misses).toBe(4);
  });

  it("ttl: a reply older than it is fetched again", async () => {
    const k = key("ttl");
    const writer = plain();
    await writer.set(k, "v");
    const reader = cached(100, { ttl: 50 });
    await reader.get(k);
    await reader.get(k);
    expect(cacheStats(reader).hits).toBe(1);
    const sawAt = performance.now();
    await waitFor("the ttl to pass", 5_000, () => performance.now() - sawAt > 60);
    await reader.get(k);
    expect(cacheStats(reader)).toMatchObject({ hits: 1, misses: 2, expirations: 1 });
  });

  it("a reconnect drops the entries of the old socket and tracks again on the new one", async () => {
    const k = key("reconnect");
    const writer = plain();
    await writer.set(k, "before");
    const name = `cache-reconnect-${process.pid}-${serial++}`;
    const reader = clients.create<3>({
      nodes: dev.seeds,
      protocol: 3,
      clientName: name,
      clientCache: { maxEntries: 100 },
    });
    expect(await reader.get(k)).toBe("before");
    expect(cacheStats(reader).entries).toBe(1);
    // Kill the reader's connections from the server side (every node: one of them holds the key).
    let killed = 0;
    for (const node of writer.nodes("all")) {
      const list = String(await node.call("CLIENT", "LIST"));
      for (const line of list.split("\n")) {
        const id = line.includes(` name=${name} `) ? /^id=(\d+)/.exec(line)?.[1] : undefined;
        if (id !== undefined) killed += Number(await node.call("CLIENT", "KILL", "ID", id));
      }
    }
    expect(killed).toBeGreaterThan(0);
    await waitFor("the entry of the closed socket to go", 10_000, async () => {
      await reader.get(k); // reconnects; a read through the new socket is kept again
      return cacheStats(reader).misses >= 2;
    });
    expect(await reader.get(k)).toBe("before");
    // Tracking is on again: a write elsewhere is pushed on the new socket.
    await writer.set(k, "after");
    await waitFor("the new socket's invalidation", 10_000, async () => (await reader.get(k)) === "after");
  });

  it("replica reads are tracked on the replica's connection: a write on the primary reaches them", async () => {
    const k = key("replica");
    const writer = plain();
    await writer.set(k, "old");
    const reader = clients.create<3>({
      nodes: dev.seeds,
      protocol: 3,
      readFrom: "replica",
      clientCache: { maxEntries: 100 },
    });
    await waitFor("the replica to have the key", 10_000, async () => (await reader.get(k)) === "old");
    expect(await reader.get(k)).toBe("old");
    expect(cacheStats(reader).hits).toBeGreaterThan(0);
    await writer.set(k, "new");
    await waitFor("the replica's invalidation", 10_000, async () => (await reader.get(k)) === "new");
    expect(cacheStats(reader).invalidations).toBeGreaterThan(0);
  });

  it("close() drops every entry", async () => {
    const k = key("close");
    const writer = plain();
    await writer.set(k, "v");
    const reader = clients.create<3>({ nodes: dev.seeds, protocol: 3, clientCache: { maxEntries: 10 } });
    await reader.get(k);
    expect(cacheStats(reader).entries).toBe(1);
    await reader.close();
    expect(cacheStats(reader)).toMatchObject({ entries: 0, bytes: 0 });
  });

  it("off by default: no cache stats, no tracking", async () => {
    const client = plain();
    await client.get(key("off"));
    expect(client.stats().cache).toBeUndefined();
  });
});
