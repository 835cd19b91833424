/**
 * Where the executor sends a command and what it does when the answer is odd — against
 * fake nodes, for the cases a real cluster will not produce on demand: a blocking call that
 * gets CLUSTERDOWN or ASK, a WAIT longer than commandTimeout, keyless commands and their
 * plans, a close() in the middle of a refresh, a topology with a thousand nodes.
 * Each case was a defect of issue 9 or 17 (named in the test).
 */
import { afterEach, describe, expect, it } from "vitest";
import { keySlot } from "../../src/command/slot.js";
import {
  ArgumentError,
  ClusterDownError,
  RedisCluster,
  RedisClusterError,
  type RedisClusterOptions,
  TimeoutError,
} from "../../src/index.js";
import { moduleCommandInfo } from "../helpers/command-info.js";
import { watchEscapes } from "../helpers/escapes.js";
import { waitFor } from "../helpers/wait.js";
import {
  closeAllFakes,
  clusterShardsReply,
  delayed,
  error,
  FakeCluster,
  type FakeNodeInfo,
  FakeServer,
  STALL,
  sequence,
} from "./resp-server.js";

const unhandled = watchEscapes();
const clients: RedisCluster[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.disconnect();
  await closeAllFakes();
  expect(unhandled.splice(0), "unhandled rejections").toEqual([]);
});

function client(nodes: string[], options: Omit<RedisClusterOptions, "nodes"> = {}): RedisCluster {
  const cluster = new RedisCluster({ nodes, refreshInterval: 0, commandTimeout: 2000, ...options });
  clients.push(cluster);
  return cluster;
}

function keyOn(cluster: FakeCluster, node: FakeServer, prefix = "key"): string {
  for (let i = 0; ; i++) {
    const key = `${prefix}:${i}`;
    if (cluster.ownerOf(keySlot(key)) === node) return key;
  }
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    const value = await promise;
    throw new Error(`expected a rejection, got ${String(value)}`);
  } catch (error) {
    return error as Error;
  }
}

/** One event-loop turn: what replies already received triggered has run. */
const turn = () => new Promise((resolve) => setImmediate(resolve));

describe("blocking calls", () => {
  it("a BLPOP that got CLUSTERDOWN does not hold its slot: the LPUSH that would wake it goes through (9.1)", async () => {
    const cluster = await FakeCluster.start(1);
    const [a] = cluster.nodes as [FakeServer];
    // First answer CLUSTERDOWN (a failover under way); resent, it blocks as BLPOP q 0 does.
    a.handle("BLPOP", sequence(error("CLUSTERDOWN The cluster is down"), STALL));
    a.handle("LPUSH", 1);
    const redis = client(cluster.seeds);
    await redis.connect();
    const blocked = redis.blpop("q", 0).catch((e: unknown) => e);
    await waitFor("the BLPOP to be refused once", 2000, () => a.count("BLPOP") >= 1);
    await turn();
    expect(await redis.lpush("q", "job")).toBe(1);
    await waitFor("the BLPOP to be resent", 2000, () => a.count("BLPOP") === 2);
    redis.disconnect();
    expect(await blocked).toBeInstanceOf(RedisClusterError);
  });

  it("a BLPOP redirected by ASK blocks on a dedicated connection of the target, not on its shared one (9.2)", async () => {
    const cluster = await FakeCluster.start(2);
    const [a, b] = cluster.nodes as [FakeServer, FakeServer];
    const queue = keyOn(cluster, a, "queue");
    a.handle("BLPOP", error(`ASK ${keySlot(queue)} ${b.address}`));
    b.handle("BLPOP", STALL); // blocks for as long as the test lasts
    const redis = client(cluster.seeds);
    await redis.connect();
    const blocked = redis.blpop(queue, 0).catch((e: unknown) => e);
    await waitFor("the BLPOP to reach the ASK target", 2000, () => b.count("BLPOP") === 1);
    const onB = keyOn(cluster, b, "plain");
    b.store.set(onB, Buffer.from("answered"));
    expect(await redis.get(onB)).toBe("answered");
    // The blocked call and the GET came over different connections.
    expect(b.received("BLPOP")[0]!.connection).not.toBe(b.received("GET")[0]!.connection);
    expect(b.received("ASKING")[0]!.connection).toBe(b.received("BLPOP")[0]!.connection);
    redis.disconnect();
    await blocked;
  });

  it("a BLPOP through a node handle runs on a dedicated connection too (9.2)", async () => {
    const cluster = await FakeCluster.start(1);
    const [a] = cluster.nodes as [FakeServer];
    a.handle("BLPOP", STALL);
    const redis = client(cluster.seeds);
    await redis.connect();
    const node = redis.nodes("primary")[0]!;
    const blocked = node.blpop("q", 0).catch((e: unknown) => e);
    await waitFor("the BLPOP to arrive", 2000, () => a.count("BLPOP") === 1);
    a.store.set("k", Buffer.from("v"));
    expect(await node.get("k")).toBe("v");
    expect(a.received("BLPOP")[0]!.connection).not.toBe(a.received("GET")[0]!.connection);
    redis.disconnect();
    await blocked;
  });

  it("dedicated connections are reused and bounded by maxBlockingConnections (9.10)", async () => {
    const cluster = await FakeCluster.start(1);
    const [a] = cluster.nodes as [FakeServer];
    a.handle("BLPOP", delayed(30, null));
    const redis = client(cluster.seeds, { maxBlockingConnections: 3 });
    await redis.connect();
    const before = a.connections.length;
    const replies = await Promise.all(Array.from({ length: 12 }, (_, i) => redis.blpop(`q${i}`, 1)));
    expect(replies).toEqual(Array(12).fill(null));
    // Twelve calls, three at a time, over three connections that served four calls each.
    expect(a.connections.length - before).toBe(3);
    for (let i = 0; i < 5; i++) expect(await redis.blpop("loop", 1)).toBeNull();
    expect(a.connections.length - before).toBe(3);
  });
});

describe("WAIT", () => {
  it("may take its own timeout beyond commandTimeout, and waits on the shared connection without resetting it (9.3)", async () => {
    const cluster = await FakeCluster.start(1);
    const [a] = cluster.nodes as [FakeServer];
    a.handle("WAIT", delayed(900, 1));
    const redis = client(cluster.seeds, { commandTimeout: 300 });
    await redis.connect();
    const waited = redis.wait(1, 1500);
    // Queued behind the WAIT on the same connection: it can only time out, and the
    // connection must not be taken for dead because of it.
    const behind = rejection(redis.get("k"));
    expect(await behind).toBeInstanceOf(TimeoutError);
    expect(await waited).toBe(1);
    expect(a.received("WAIT")[0]!.connection).toBe(a.received("GET")[0]!.connection);
    expect(redis.stats().connectionErrors).toBe(0);
  });

  it("a zero timeout is refused: it would hold the connection every caller shares (9.3)", async () => {
    const cluster = await FakeCluster.start(1);
    const redis = client(cluster.seeds);
    const refused = await rejection(redis.wait(1, 0));
    expect(refused).toBeInstanceOf(ArgumentError);
    expect(cluster.count("WAIT")).toBe(0);
  });
});

describe("keyless commands (9.4)", () => {
  it("RANDOMKEY answers a key when any primary has one", async () => {
    const cluster = await FakeCluster.start(3);
    const [a, b, c] = cluster.nodes as [FakeServer, FakeServer, FakeServer];
    a.handle("RANDOMKEY", null);
    b.handle("RANDOMKEY", null);
    c.handle("RANDOMKEY", "only-here");
    const redis = client(cluster.seeds);
    for (let i = 0; i < 12; i++) expect(await redis.randomkey()).toBe("only-here");
    a.handle("RANDOMKEY", null);
    c.handle("RANDOMKEY", null);
    expect(await redis.randomkey()).toBeNull();
  });

  it("PING and INFO go to one node each", async () => {
    const cluster = await FakeCluster.start(3);
    for (const node of cluster.nodes) node.handle("INFO", "# Server\r\nredis_version:7.0.15\r\n");
    const redis = client(cluster.seeds);
    await redis.connect();
    for (let i = 0; i < 6; i++) {
      expect(await redis.ping()).toBe("PONG");
      expect(await redis.info()).toContain("redis_version");
    }
    expect(cluster.count("PING")).toBe(6);
    expect(cluster.count("INFO")).toBe(6);
  });

  it("SCAN without a node, and per-node reports (MEMORY STATS), are refused with what to use instead", async () => {
    const cluster = await FakeCluster.start(2);
    const redis = client(cluster.seeds);
    await redis.connect();
    const scan = await rejection(redis.scan(0));
    expect(scan).toBeInstanceOf(ArgumentError);
    expect(scan.message).toMatch(/scanIterator/);
    const memory = await rejection(redis.memory("STATS"));
    expect(memory).toBeInstanceOf(ArgumentError);
    expect(memory.message).toMatch(/nodes\(/);
    expect(cluster.count("SCAN") + cluster.count("MEMORY")).toBe(0);
    // Through a node handle, both go where they are told.
    cluster.nodes[0]!.handle("SCAN", ["0", []]);
    expect(await redis.nodes("primary")[0]!.scan(0)).toEqual(["0", []]);
  });
});

describe("close()", () => {
  it("during a refresh with replica reads: no node is connected, nothing installed, no ready after it (9.6)", async () => {
    const primary = await FakeServer.start();
    const replica = await FakeServer.start();
    const node = (server: FakeServer, id: string, role: "master" | "replica"): FakeNodeInfo => ({
      id: id.padStart(40, "0"),
      port: server.port,
      endpoint: server.host,
      ip: server.host,
      role,
    });
    const shards = [
      {
        ranges: [[0, 16383]] as Array<[number, number]>,
        nodes: [node(primary, "1", "master"), node(replica, "2", "replica")],
      },
    ];
    primary.handle("CLUSTER SHARDS", delayed(200, clusterShardsReply(shards)));
    const redis = client([primary.address], { readFrom: "replica" });
    let ready = false;
    redis.on("ready", () => {
      ready = true;
    });
    const pending = redis.get("k").catch((e: unknown) => e);
    await waitFor("the refresh to start", 2000, () => primary.count("CLUSTER SHARDS") === 1);
    await redis.close(); // waits for the CLUSTER SHARDS reply in flight
    await pending;
    // The replica's health check would connect right after the reply: give it every chance.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(replica.connections.length).toBe(0);
    expect(ready).toBe(false);
    expect(redis.topology).toBeUndefined();
  });
});

describe("counters (9.9)", () => {
  it("a connection lost with 1,000 commands in flight is one connection error", async () => {
    const cluster = await FakeCluster.start(1);
    const [a] = cluster.nodes as [FakeServer];
    let dropped = false;
    // The first GET drops its connection, with everything queued behind it.
    a.handle("GET", (command) => {
      if (!dropped) {
        dropped = true;
        command.connection.close(true);
        return STALL;
      }
      return "v";
    });
    const redis = client(cluster.seeds, { commandTimeout: 5000 });
    await redis.connect();
    const replies = await Promise.all(Array.from({ length: 1000 }, (_, i) => redis.get(`k${i}`)));
    expect(replies.every((reply) => reply === "v")).toBe(true);
    expect(redis.stats().connectionErrors).toBe(1);
    expect(cluster.count("CLUSTER SHARDS")).toBeLessThanOrEqual(3);
  });
});

describe("held slots (9.10)", () => {
  it("the line behind a retry is bounded by maxOfflineQueue: the rest fails at once", async () => {
    const cluster = await FakeCluster.start(1);
    const [a] = cluster.nodes as [FakeServer];
    a.handle("GET", error("TRYAGAIN Multiple keys request during rehashing of slot"));
    const redis = client(cluster.seeds, { maxOfflineQueue: 5, commandTimeout: 1500 });
    await redis.connect();
    const first = rejection(redis.get("k"));
    await waitFor("the first TRYAGAIN", 2000, () => a.count("GET") >= 1);
    await turn();
    const later = Array.from({ length: 10 }, () => rejection(redis.get("k")));
    const settled = await Promise.all(later);
    // The line holds 5 (the first GET too, when it is back in line for its next retry).
    const full = settled.filter((e) => e instanceof ClusterDownError && /already wait/.test(e.message));
    expect(full.length).toBeGreaterThanOrEqual(5);
    for (const waited of settled.filter((e) => !full.includes(e))) {
      expect(waited.name).toMatch(/TimeoutError|ClusterDownError/);
    }
    expect((await first).name).toMatch(/TimeoutError|ClusterDownError/);
  });
});

describe("deadlines while a slot is not served", () => {
  it("a command whose retry is still unanswered at its deadline, and one waiting behind it, both end as ClusterDownError", async () => {
    const cluster = await FakeCluster.start(1);
    const [a] = cluster.nodes as [FakeServer];
    a.handle("GET", error("CLUSTERDOWN The cluster is down"));
    // The retry of the SET is answered only after its deadline.
    a.handle(
      "SET",
      sequence(error("CLUSTERDOWN The cluster is down"), delayed(500, error("CLUSTERDOWN again"))),
    );
    const redis = client(cluster.seeds, { commandTimeout: 300 });
    await redis.connect();
    const [set, get] = await Promise.all([rejection(redis.set("k", "v")), rejection(redis.get("k"))]);
    expect(set).toBeInstanceOf(ClusterDownError);
    expect(get).toBeInstanceOf(ClusterDownError);
  });
});

describe("discovery", () => {
  it("a group of nodes that serve no slots does not end the refresh: the next node is asked (9.11)", async () => {
    const cluster = await FakeCluster.start(4);
    const [a, b, c, d] = cluster.nodes as [FakeServer, FakeServer, FakeServer, FakeServer];
    for (const node of [a, b, c]) node.handle("CLUSTER SHARDS", []);
    for (let round = 0; round < 5; round++) {
      const redis = client([a.address, b.address, c.address, d.address]);
      await redis.connect();
      expect(redis.topology!.coveredSlots).toBe(16384);
    }
  });

  it("a topology of a thousand nodes: one refresh asks a dozen at most (17.7)", async () => {
    const cluster = await FakeCluster.start(3);
    // A thousand replicas nobody can reach (privileged ports on loopback, nothing listens).
    const ghosts: FakeNodeInfo[] = Array.from({ length: 1000 }, (_, i) => ({
      id: `g${i}`.padStart(40, "0"),
      port: i + 1,
      endpoint: "127.0.0.1",
      ip: "127.0.0.1",
      role: "replica",
    }));
    const shards = cluster.shards().map((shard, index) => ({
      ...shard,
      nodes: index === 0 ? [...shard.nodes, ...ghosts] : shard.nodes,
    }));
    for (const node of cluster.nodes) node.handle("CLUSTER SHARDS", clusterShardsReply(shards));
    const redis = client(cluster.seeds, { minRefreshInterval: 0, commandTimeout: 1000 });
    await redis.connect();
    expect(redis.topology!.nodes.size).toBe(1003);
    for (const node of cluster.nodes) node.handle("CLUSTER SHARDS", error("ERR not now"));
    const asked = redis.stats().topologyQueries;
    await rejection(redis.refreshTopology());
    expect(redis.stats().topologyQueries - asked).toBeLessThanOrEqual(12);
  });

  it("what one client learns about a module command does not change another client's routing (9.11)", async () => {
    const withModule = await FakeCluster.start(1);
    const without = await FakeCluster.start(1);
    withModule.nodes[0]!.handle("COMMAND INFO", [moduleCommandInfo("mod.k")]);
    withModule.nodes[0]!.handle("MOD.K", "ok");
    without.nodes[0]!.handle("COMMAND INFO", [null]);
    without.nodes[0]!.handle("MOD.K", error("ERR unknown command 'MOD.K'"));
    const first = client(withModule.seeds);
    expect(await first.call("MOD.K", "x")).toBe("ok");
    const second = client(without.seeds);
    await rejection(second.call("MOD.K", "x"));
    expect(without.count("COMMAND INFO")).toBe(1);
  });
});

describe("a send path that throws (17.2)", () => {
  it("a natMap pointing a node at port 70000: its commands settle with a typed error, the others work", async () => {
    const cluster = await FakeCluster.start(2);
    const [a, b] = cluster.nodes as [FakeServer, FakeServer];
    const redis = client([a.address], {
      natMap: (host, port) => (port === b.port ? { host, port: 70_000 } : { host, port }),
      commandTimeout: 1000,
    });
    const onB = keyOn(cluster, b);
    const onA = keyOn(cluster, a);
    a.store.set(onA, Buffer.from("fine"));
    const failed = await rejection(redis.get(onB));
    expect(failed).toBeInstanceOf(RedisClusterError);
    expect(await redis.get(onA)).toBe("fine");
  });
});
