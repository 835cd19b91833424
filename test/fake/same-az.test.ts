/**
 * `readFrom: "sameAz"` against fake nodes that report their availability zone the way
 * Valkey 8 does (`INFO server`'s `availability_zone`, set by `CONFIG SET availability-zone`):
 * no local Redis 7 reports one. One shard: a primary in az-a, replicas in az-b and az-c; each
 * node holds `k` with its own name as the value, so a reply says who served it.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ArgumentError, ConfigError, RedisCluster } from "../../src/index.js";
import { watchEscapes } from "../helpers/escapes.js";
import { waitFor } from "../helpers/wait.js";
import {
  closeAllFakes,
  clusterShardsReply,
  delayed,
  type FakeNodeInfo,
  type FakeServer,
  startFakeServer,
} from "./resp-server.js";

const unhandled = watchEscapes();
const clients: RedisCluster[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.disconnect();
  await closeAllFakes();
  expect(unhandled.splice(0), "unhandled rejections").toEqual([]);
});

/** What a slow node adds to a PING: far more than a loopback round trip, far below any timeout. */
const SLOW_PING_MS = 150;

interface Shard {
  nodes: Map<string, FakeServer>;
  /** Each node's zone, as its INFO reports it (edit: `CONFIG SET availability-zone`). */
  zones: Map<string, string | undefined>;
}

async function startShard(): Promise<Shard> {
  const nodes = new Map<string, FakeServer>();
  for (const name of ["primary", "replica-b", "replica-c"]) nodes.set(name, await startFakeServer());
  const zones = new Map<string, string | undefined>([
    ["primary", "az-a"],
    ["replica-b", "az-b"],
    ["replica-c", "az-c"],
  ]);
  const info: FakeNodeInfo[] = [...nodes].map(([name, node], i) => ({
    id: (i + 1).toString(16).padStart(40, "0"),
    port: node.port,
    endpoint: node.host,
    ip: node.host,
    role: name === "primary" ? "master" : "replica",
    health: "online",
  }));
  for (const [name, node] of nodes) {
    node.handle("CLUSTER SHARDS", () => clusterShardsReply([{ ranges: [[0, 16383]], nodes: info }]));
    // Both sections in one reply, whichever is asked for: the client reads the fields it needs.
    node.handle("INFO", () => {
      const zone = zones.get(name);
      return [
        "# Server",
        "redis_version:7.2.4",
        "server_name:valkey",
        `availability_zone:${zone ?? ""}`,
        "# Replication",
        name === "primary" ? "role:master" : "role:slave",
        "master_link_status:up",
        "master_sync_in_progress:0",
        "",
      ].join("\r\n");
    });
    node.store.set("k", Buffer.from(name));
  }
  return { nodes, zones };
}

function client(shard: Shard, availabilityZone: string): RedisCluster {
  const redis = new RedisCluster({
    nodes: [shard.nodes.get("primary")!.address],
    readFrom: "sameAz",
    availabilityZone,
    refreshInterval: 50,
    minRefreshInterval: 0,
    commandTimeout: 2000,
  });
  clients.push(redis);
  return redis;
}

async function servedBy(redis: RedisCluster, reads: number): Promise<Set<string | null>> {
  return new Set(await Promise.all(Array.from({ length: reads }, () => redis.get("k"))));
}

describe('readFrom: "sameAz"', () => {
  it("reads go to the replica in the client's zone", async () => {
    const shard = await startShard();
    const redis = client(shard, "az-c");
    await redis.connect();
    expect(await servedBy(redis, 100)).toEqual(new Set(["replica-c"]));
    expect(shard.nodes.get("replica-b")!.count("GET")).toBe(0);
    // Writes still go to the primary.
    expect(await redis.set("w", "1")).toBe("OK");
    expect(shard.nodes.get("primary")!.count("SET")).toBe(1);
  });

  it("no replica in the zone but the primary is: reads go to the primary", async () => {
    const shard = await startShard();
    const redis = client(shard, "az-a");
    await redis.connect();
    expect(await servedBy(redis, 50)).toEqual(new Set(["primary"]));
  });

  it('no node in the zone: falls back to "nearest" (the node with the lowest round trip)', async () => {
    const shard = await startShard();
    // replica-b answers PING at once; the others late: it is the nearest.
    shard.nodes.get("primary")!.handle("PING", delayed(SLOW_PING_MS, "PONG"));
    shard.nodes.get("replica-c")!.handle("PING", delayed(SLOW_PING_MS, "PONG"));
    const redis = client(shard, "az-z");
    await redis.connect();
    // Until every node's round trip is measured (the slow PINGs), reads go to the primary.
    await waitFor("the round trips to be measured", 5000, async () => (await redis.get("k")) === "replica-b");
    expect(await servedBy(redis, 50)).toEqual(new Set(["replica-b"]));
  });

  it("a zone changed on the server (CONFIG SET availability-zone) moves the reads after a refresh", async () => {
    const shard = await startShard();
    const redis = client(shard, "az-b");
    await redis.connect();
    expect(await servedBy(redis, 20)).toEqual(new Set(["replica-b"]));
    shard.zones.set("replica-b", "az-x");
    shard.zones.set("replica-c", "az-b");
    await waitFor("reads to move to replica-c", 5000, async () => (await redis.get("k")) === "replica-c");
    expect(await servedBy(redis, 20)).toEqual(new Set(["replica-c"]));
  });

  it("a zone the topology reports (CLUSTER SHARDS availability-zone) is used without asking INFO server", async () => {
    const shard = await startShard();
    // The nodes' INFO says nothing of zones; CLUSTER SHARDS does.
    for (const name of shard.zones.keys()) shard.zones.set(name, undefined);
    const zones: Record<string, string> = { primary: "az-a", "replica-b": "az-b", "replica-c": "az-c" };
    const names = [...shard.nodes.keys()];
    for (const node of shard.nodes.values()) {
      node.handle("CLUSTER SHARDS", () =>
        clusterShardsReply([
          {
            ranges: [[0, 16383]],
            nodes: [...shard.nodes.values()].map((each, i) => ({
              id: (i + 1).toString(16).padStart(40, "0"),
              port: each.port,
              endpoint: each.host,
              ip: each.host,
              role: i === 0 ? "master" : "replica",
              availabilityZone: zones[names[i]!],
            })),
          },
        ]),
      );
    }
    const redis = client(shard, "az-b");
    await redis.connect();
    expect(await servedBy(redis, 50)).toEqual(new Set(["replica-b"]));
    for (const node of shard.nodes.values()) {
      expect(node.received("INFO").map(String)).not.toContain("INFO server");
    }
  });

  it("needs the client's zone: a typed error naming the option, at construction and in withOptions", async () => {
    expect(() => new RedisCluster({ nodes: ["127.0.0.1:1"], readFrom: "sameAz" })).toThrow(ConfigError);
    expect(() => new RedisCluster({ nodes: ["127.0.0.1:1"], readFrom: "sameAz" })).toThrow(
      /availabilityZone/,
    );
    const redis = new RedisCluster({ nodes: ["127.0.0.1:1"] }); // connects at its first command
    clients.push(redis);
    expect(() => redis.withOptions({ readFrom: "sameAz" })).toThrow(ArgumentError);
    expect(() => new RedisCluster({ nodes: ["127.0.0.1:1"], availabilityZone: " " })).toThrow(ConfigError);
  });
});
