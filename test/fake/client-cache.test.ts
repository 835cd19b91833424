/**
 * Client-side caching against scripted fake nodes, for what a real server will not do on
 * demand: an invalidation that arrives while the value it concerns is still on its way (the
 * fetch/invalidate race), a flush push (`invalidate` with null), a connection the server
 * closes, a slot that moves away (MOVED), and the exact `CLIENT TRACKING` / `CLIENT CACHING`
 * commands each mode sends. The real cluster's behaviour is in
 * test/integration/client-cache.test.ts and test/integration/client-cache-moves.test.ts.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { ClientCacheOptions } from "../../src/cache/options.js";
import { keySlot } from "../../src/command/slot.js";
import { ConfigError, RedisCluster } from "../../src/index.js";
import { watchEscapes } from "../helpers/escapes.js";
import { PushFrame } from "../helpers/reply-encoder.js";
import { waitFor } from "../helpers/wait.js";
import { closeAllFakes, delayed, error, FakeCluster, type FakeConnection } from "./resp-server.js";

const unhandled = watchEscapes();

const clients: RedisCluster<3>[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.disconnect();
  await closeAllFakes();
  expect(unhandled.splice(0), "unhandled rejections").toEqual([]);
});

function cachedClient(seeds: string[], cache: ClientCacheOptions = { maxEntries: 100 }): RedisCluster<3> {
  const client = new RedisCluster<3>({
    nodes: seeds,
    protocol: 3,
    refreshInterval: 0,
    commandTimeout: 3000,
    clientCache: cache,
  });
  clients.push(client);
  return client;
}

function cacheStats(client: RedisCluster<3>) {
  const stats = client.stats().cache;
  if (stats === undefined) throw new Error("no cache stats");
  return stats;
}

const invalidate = (...keys: string[]) => new PushFrame(["invalidate", keys.map((key) => Buffer.from(key))]);

describe("the fetch/invalidate race", () => {
  it("an invalidation that arrives before the reply of a fetch under way: the reply is answered, not kept", async () => {
    const cluster = await FakeCluster.start(1);
    const node = cluster.nodes[0]!;
    let value = "old";
    node.handle("GET", (command) => {
      const reply = value;
      if (reply === "old") {
        // Another client's write lands while our old value is still on its way: the server
        // pushes the invalidation first, and the reply (read before the write) comes later.
        value = "new";
        command.connection.send(invalidate("k"));
        return delayed(50, reply);
      }
      return reply;
    });
    const client = cachedClient(cluster.seeds);
    expect(await client.get("k")).toBe("old");
    expect(cacheStats(client)).toMatchObject({ invalidations: 1, entries: 0 });
    // Not served from memory: the next read asks the server, and gets the new value.
    expect(await client.get("k")).toBe("new");
    expect(node.count("GET")).toBe(2);
    // That one is kept.
    expect(await client.get("k")).toBe("new");
    expect(node.count("GET")).toBe(2);
  });

  it("the same for MGET: only the invalidated key is left out, the others are kept", async () => {
    const cluster = await FakeCluster.start(1);
    const node = cluster.nodes[0]!;
    let round = 0;
    node.handle("MGET", (command) => {
      round++;
      if (round === 1) {
        command.connection.send(invalidate("{t}b"));
        return delayed(50, ["a1", "b1"]);
      }
      return command.argv.map((key) => `${key.slice(3)}2`);
    });
    const client = cachedClient(cluster.seeds);
    expect(await client.mget("{t}a", "{t}b")).toEqual(["a1", "b1"]);
    expect(cacheStats(client).entries).toBe(1);
    // a from memory, b fetched alone.
    expect(await client.mget("{t}a", "{t}b")).toEqual(["a1", "b2"]);
    expect(node.received("MGET").at(-1)!.argv).toEqual(["{t}b"]);
  });

  it("the client's own write while a read of its key is under way: the old reply is not kept", async () => {
    const cluster = await FakeCluster.start(1);
    const node = cluster.nodes[0]!;
    node.handle("GET", () => delayed(100, "old"));
    const client = cachedClient(cluster.seeds);
    const read = client.get("k");
    // The write goes out while the read's reply is delayed: the cache forgets k at once.
    await waitFor("the GET to reach the node", 3000, () => node.count("GET") === 1);
    await client.set("k", "new");
    expect(await read).toBe("old");
    expect(cacheStats(client).entries).toBe(0);
  });
});

describe("what drops entries", () => {
  it("a null invalidation (FLUSHALL, or the server's tracking table full) drops the connection's entries", async () => {
    const cluster = await FakeCluster.start(1);
    const node = cluster.nodes[0]!;
    let connection: FakeConnection | undefined;
    node.handle("GET", (command) => {
      connection = command.connection;
      return `v-${command.argv[0]}`;
    });
    const client = cachedClient(cluster.seeds);
    await client.get("a");
    await client.get("b");
    expect(cacheStats(client).entries).toBe(2);
    connection!.send(new PushFrame(["invalidate", null]));
    await waitFor("the flush push", 3000, () => cacheStats(client).flushes === 1);
    expect(cacheStats(client).entries).toBe(0);
    await client.get("a");
    expect(node.count("GET")).toBe(3);
  });

  it("a connection the server closes takes its entries; tracking is enabled again on the new one", async () => {
    const cluster = await FakeCluster.start(1);
    const node = cluster.nodes[0]!;
    let connection: FakeConnection | undefined;
    node.handle("GET", (command) => {
      connection = command.connection;
      return "v";
    });
    const client = cachedClient(cluster.seeds);
    await client.get("k");
    expect(cacheStats(client).entries).toBe(1);
    const trackingOn = () =>
      node.received("CLIENT").filter((command) => command.argv.join(" ") === "TRACKING ON").length;
    const before = trackingOn();
    expect(before).toBeGreaterThan(0);
    connection!.close();
    await waitFor("the entries of the closed socket to go", 3000, () => cacheStats(client).entries === 0);
    expect(await client.get("k")).toBe("v");
    expect(node.count("GET")).toBe(2);
    expect(trackingOn()).toBe(before + 1);
    // The new socket's read is kept.
    await client.get("k");
    expect(node.count("GET")).toBe(2);
  });

  it("a MOVED for a slot drops the entries of that slot (the new owner tracks nothing of ours)", async () => {
    const cluster = await FakeCluster.start(2);
    const [first, second] = cluster.nodes as [(typeof cluster.nodes)[0], (typeof cluster.nodes)[0]];
    for (const node of cluster.nodes) node.handle("GET", (command) => `${node.port}:${command.argv[0]}`);
    const k = "{moving}k";
    const slot = keySlot(k);
    const owner = cluster.ownerOf(slot)!;
    const other = owner === first ? second : first;
    const client = cachedClient(cluster.seeds);
    expect(await client.get(k)).toBe(`${owner.port}:${k}`);
    expect(await client.get(k)).toBe(`${owner.port}:${k}`);
    expect(cacheStats(client).hits).toBe(1);
    cluster.assign(slot, slot, cluster.nodes.indexOf(other));
    // Another key of the slot meets the MOVED.
    expect(await client.get("{moving}other")).toBe(`${other.port}:{moving}other`);
    expect(await client.get(k)).toBe(`${other.port}:${k}`);
  });

  it("close() drops everything and a fetch settling after it keeps nothing", async () => {
    const cluster = await FakeCluster.start(1);
    cluster.nodes[0]!.handle("GET", () => delayed(50, "v"));
    const client = cachedClient(cluster.seeds);
    await client.get("a");
    const late = client.get("b");
    const closing = client.close();
    expect(await late).toBe("v");
    await closing;
    expect(cacheStats(client)).toMatchObject({ entries: 0, bytes: 0 });
  });
});

describe("modes and refusals", () => {
  it("optin: CLIENT TRACKING ON OPTIN, and CLIENT CACHING YES right before each fetch", async () => {
    const cluster = await FakeCluster.start(1);
    const node = cluster.nodes[0]!;
    node.handle("GET", () => "v");
    const client = cachedClient(cluster.seeds, { maxEntries: 10, mode: "optin" });
    await client.get("k");
    await client.get("k");
    const commands = node.commands.map((command) => [command.name, ...command.argv].join(" "));
    expect(commands).toContain("CLIENT TRACKING ON OPTIN");
    const get = commands.indexOf("GET k");
    expect(commands[get - 1]).toBe("CLIENT CACHING YES");
    expect(commands.filter((command) => command === "GET k")).toHaveLength(1);
  });

  it("optin: a read whose CLIENT CACHING YES is refused is answered, not kept", async () => {
    const cluster = await FakeCluster.start(1);
    const node = cluster.nodes[0]!;
    node.handle("GET", () => "v");
    node.handle("CLIENT", (command) =>
      command.argv[0] === "CACHING" ? error("ERR CLIENT CACHING can be called only when...") : "OK",
    );
    const client = cachedClient(cluster.seeds, { maxEntries: 10, mode: "optin" });
    expect(await client.get("k")).toBe("v");
    expect(await client.get("k")).toBe("v");
    expect(node.count("GET")).toBe(2);
    expect(cacheStats(client).entries).toBe(0);
  });

  it("bcast with prefixes: CLIENT TRACKING ON BCAST PREFIX …; keys outside them are not cached", async () => {
    const cluster = await FakeCluster.start(1);
    const node = cluster.nodes[0]!;
    node.handle("GET", () => "v");
    const client = cachedClient(cluster.seeds, {
      maxEntries: 10,
      mode: "bcast",
      prefixes: ["user:", "cfg:"],
    });
    await client.get("user:1");
    await client.get("user:1");
    await client.get("other");
    await client.get("other");
    const commands = node.commands.map((command) => [command.name, ...command.argv].join(" "));
    expect(commands).toContain("CLIENT TRACKING ON BCAST PREFIX user: PREFIX cfg:");
    expect(node.received("GET").map((command) => command.argv[0])).toEqual(["user:1", "other", "other"]);
  });

  it("a node refusing CLIENT TRACKING fails its commands with a ConnectionError naming clientCache", async () => {
    const cluster = await FakeCluster.start(1);
    cluster.nodes[0]!.handle("CLIENT", (command) =>
      command.argv[0] === "TRACKING" ? error("ERR unknown subcommand 'TRACKING'") : "OK",
    );
    const client = cachedClient(cluster.seeds);
    client.on("error", () => {});
    client.on("nodeError", () => {});
    const failure = await client.get("k").catch((caught: unknown) => caught);
    expect(failure).toBeInstanceOf(Error);
    expect(String((failure as Error).message)).toMatch(
      /CLIENT TRACKING \(clientCache needs it\)|clientCache/,
    );
  });

  it("protocol: 2 with clientCache is a ConfigError saying the cache needs RESP3", () => {
    expect(
      () =>
        new RedisCluster({
          nodes: ["127.0.0.1:1"],
          protocol: 2,
          // @ts-expect-error the type allows clientCache only with protocol 3
          clientCache: { maxEntries: 10 },
        }),
    ).toThrow(ConfigError);
  });
});
