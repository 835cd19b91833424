/**
 * Hostnames in the topology replies (`cluster-announce-hostname`), against fake nodes.
 *
 * Redis 7 adds a `hostname` field to each node of `CLUSTER SHARDS` (and a metadata map to
 * each node of `CLUSTER SLOTS`). Which name clients connect to is the `endpoint`, chosen by
 * `cluster-preferred-endpoint-type`: the IP by default — then the hostname is information
 * only — or the hostname itself, which MOVED and ASK then name too. The client connects to
 * the endpoint and keeps the hostname on the node (`cluster.topology`).
 */
import { afterEach, describe, expect, it } from "vitest";
import { keySlot } from "../../src/command/slot.js";
import { RedisCluster, type RedisClusterOptions } from "../../src/index.js";
import { closeAllFakes, error, FakeCluster, type FakeServer } from "./resp-server.js";

const clients: RedisCluster[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.disconnect();
  await closeAllFakes();
});

function client(nodes: string[], options: Omit<RedisClusterOptions, "nodes"> = {}): RedisCluster {
  const redis = new RedisCluster({ nodes, refreshInterval: 0, commandTimeout: 2000, ...options });
  clients.push(redis);
  return redis;
}

function keyOn(cluster: FakeCluster, node: FakeServer, prefix = "key"): string {
  for (let i = 0; ; i++) {
    const key = `${prefix}:${i}`;
    if (cluster.ownerOf(keySlot(key)) === node) return key;
  }
}

/** Each node of the fake cluster announces `name(index)` as its hostname. */
function announceHostnames(cluster: FakeCluster, name: (index: number) => string): void {
  cluster.nodes.forEach((node, index) => {
    cluster.info.get(node)!.hostname = name(index);
  });
}

describe("hostnames in CLUSTER SHARDS", () => {
  it("endpoint type ip (the default): connects to the IP endpoint; the hostname is kept on the node", async () => {
    const cluster = await FakeCluster.start(2);
    const [a, b] = cluster.nodes as [FakeServer, FakeServer];
    // Names that resolve nowhere (.invalid): connecting by them would fail.
    announceHostnames(cluster, (index) => `node-${index}.cluster.invalid`);
    const redis = client([a.address]);
    await redis.connect();
    const nodes = redis.topology!.nodes;
    expect([...nodes.keys()].sort()).toEqual([a.address, b.address].sort());
    expect(nodes.get(a.address)!.hostname).toBe("node-0.cluster.invalid");
    expect(nodes.get(b.address)!.hostname).toBe("node-1.cluster.invalid");
    const key = keyOn(cluster, b);
    b.store.set(key, Buffer.from("on b"));
    expect(await redis.get(key)).toBe("on b");
  });

  it("endpoint type hostname: connects to the hostname; a MOVED naming hostname:port reaches the same node", async () => {
    const cluster = await FakeCluster.start(2);
    const [a, b] = cluster.nodes as [FakeServer, FakeServer];
    for (const node of cluster.nodes) {
      const info = cluster.info.get(node)!;
      info.hostname = "localhost";
      info.endpoint = "localhost"; // what cluster-preferred-endpoint-type hostname announces
    }
    const redis = client([a.address], { minRefreshInterval: 0 });
    await redis.connect();
    const expected = [`localhost:${a.port}`, `localhost:${b.port}`].sort();
    expect([...redis.topology!.nodes.keys()].sort()).toEqual(expected);
    expect(redis.topology!.nodes.get(`localhost:${b.port}`)!.hostname).toBe("localhost");

    // a's slot moves to b: a answers "MOVED <slot> localhost:<b's port>".
    const key = keyOn(cluster, a, "moving");
    const slot = keySlot(key);
    cluster.assign(slot, slot, 1);
    b.store.set(key, Buffer.from("moved to b"));
    const moves: string[] = [];
    redis.on("moved", (move) => moves.push(move.to));
    expect(await redis.get(key)).toBe("moved to b");
    expect(moves).toEqual([`localhost:${b.port}`]);
    expect(redis.topology!.shardOf(slot)!.primary.address).toBe(`localhost:${b.port}`);
  });

  it("an ASK naming hostname:port goes to that node", async () => {
    const cluster = await FakeCluster.start(2);
    const [a, b] = cluster.nodes as [FakeServer, FakeServer];
    for (const node of cluster.nodes) {
      cluster.info.get(node)!.hostname = "localhost";
      cluster.info.get(node)!.endpoint = "localhost";
    }
    const redis = client([a.address]);
    await redis.connect();
    const key = keyOn(cluster, a, "asked");
    a.handle("GET", error(`ASK ${keySlot(key)} localhost:${b.port}`));
    b.store.set(key, Buffer.from("asked b"));
    expect(await redis.get(key)).toBe("asked b");
    expect(b.received("GET")[0]!.previous?.name).toBe("ASKING");
  });

  it("an empty hostname field is no hostname", async () => {
    const cluster = await FakeCluster.start(1);
    const [a] = cluster.nodes as [FakeServer];
    announceHostnames(cluster, () => "");
    const redis = client([a.address]);
    await redis.connect();
    expect(redis.topology!.nodes.get(a.address)!.hostname).toBeUndefined();
  });
});

describe("hostnames in CLUSTER SLOTS (servers without CLUSTER SHARDS)", () => {
  it("the hostname of each node's metadata map is kept; the endpoint is connected to", async () => {
    const cluster = await FakeCluster.start(2);
    const [a, b] = cluster.nodes as [FakeServer, FakeServer];
    for (const node of cluster.nodes) node.handle("CLUSTER SHARDS", error("ERR unknown subcommand 'SHARDS'"));
    announceHostnames(cluster, (index) => `node-${index}.cluster.invalid`);
    const redis = client([a.address]);
    await redis.connect();
    expect(cluster.count("CLUSTER SLOTS")).toBeGreaterThan(0);
    expect(redis.topology!.nodes.get(b.address)!.hostname).toBe("node-1.cluster.invalid");
    const key = keyOn(cluster, b);
    b.store.set(key, Buffer.from("on b"));
    expect(await redis.get(key)).toBe("on b");
  });
});
