/**
 * The cluster layer (executor, discovery, topology parsing) against clusters of fake
 * nodes: redirections, retryable errors, odd endpoints, nodes that disagree, writes lost
 * with their connection, and refresh storms — cases a real cluster will not produce on
 * demand, made deterministic by scripting the fakes.
 */
import { afterEach, describe, expect, it } from "vitest";
import { keySlot } from "../../src/command/slot.js";
import {
  ClusterDownError,
  ConnectionError,
  MaxRedirectionsError,
  RedisCluster,
  type RedisClusterOptions,
} from "../../src/index.js";
import { describeError, isLeakedClusterReply, isTypedError } from "../helpers/client.js";
import { watchEscapes } from "../helpers/escapes.js";
import { waitFor } from "../helpers/wait.js";
import {
  type Action,
  close,
  closeAllFakes,
  clusterShardsReply,
  delayed,
  error,
  FakeCluster,
  type FakeServer,
  type FakeShard,
  OK,
  STALL,
  sequence,
  startFakeServer,
} from "./resp-server.js";

const unhandled = watchEscapes();

/**
 * Timers on a busy 2-core machine fire late: a deadline counts as kept when the typed error
 * comes within this of it (as in test/chaos). Missing it means another retry (up to 500 ms
 * of backoff) or no end at all.
 */
const TIMER_SLACK_MS = 300;

const clients: RedisCluster[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.disconnect();
  await closeAllFakes();
  expect(unhandled.splice(0), "unhandled rejections").toEqual([]);
});

function client(nodes: string[], options: Omit<RedisClusterOptions, "nodes"> = {}): RedisCluster {
  const cluster = new RedisCluster({ nodes, refreshInterval: 0, commandTimeout: 3000, ...options });
  clients.push(cluster);
  return cluster;
}

/** Resolves with the error a promise rejects with; fails the test if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    const value = await promise;
    throw new Error(`expected a rejection, got ${String(value)}`);
  } catch (error) {
    return error as Error;
  }
}

/** A key (`prefix:<n>`) whose slot `node` owns in `cluster`. */
function keyOn(cluster: FakeCluster, node: FakeServer, prefix = "key"): string {
  for (let i = 0; ; i++) {
    const key = `${prefix}:${i}`;
    if (cluster.ownerOf(keySlot(key)) === node) return key;
  }
}

function nodeInfo(cluster: FakeCluster, node: FakeServer) {
  return cluster.info.get(node)!;
}

/** What the client believed at one moment. */
interface TopologySnapshot {
  coveredSlots: number;
  fingerprint: string;
}

/**
 * Scripts the CLUSTER SHARDS answers of one refresh, the next one to ask any of `answers`'
 * nodes; later refreshes get `later()`. `judged()` is the client's topology as it stood
 * when a later refresh first asked (undefined until then): refreshes run one at a time,
 * so by then the scripted one has been judged, and the later one's answer is not even
 * sent yet — the moment to check that a refresh changed nothing.
 */
function scriptOneRefresh(
  redis: RedisCluster,
  answers: ReadonlyMap<FakeServer, Action>,
  later: () => Action,
): { judged: () => TopologySnapshot | undefined } {
  let scripted: number | undefined;
  let judged: TopologySnapshot | undefined;
  for (const [node, answer] of answers) {
    node.handle("CLUSTER SHARDS", () => {
      // Refreshes are counted when they start, before they send anything.
      const refresh = redis.stats().refreshes;
      scripted ??= refresh;
      if (refresh === scripted) return answer;
      const topology = redis.topology!;
      judged ??= { coveredSlots: topology.coveredSlots, fingerprint: topology.fingerprint() };
      return later();
    });
  }
  return { judged: () => judged };
}

// ── MOVED ───────────────────────────────────────────────────────────────────────────────

describe("MOVED", () => {
  it("to the node that sent it: that node's connection is reset and the command retried there, no loop", async () => {
    const cluster = await FakeCluster.start(2);
    const [a] = cluster.nodes as [FakeServer, FakeServer];
    const key = keyOn(cluster, a);
    a.handle("GET", sequence(error(`MOVED ${keySlot(key)} ${a.address}`), "v"));
    const redis = client(cluster.seeds);
    await redis.connect();
    const connectionsBefore = a.connections.length;
    expect(await redis.get(key)).toBe("v");
    expect(a.count("GET")).toBe(2);
    const gets = a.received("GET");
    expect(gets[0]!.connection).not.toBe(gets[1]!.connection); // a fresh connection
    expect(gets[0]!.connection.closed).toBe(true);
    expect(a.connections.length).toBeGreaterThan(connectionsBefore);
  });

  it("to itself forever: a typed error within commandTimeout, not the raw MOVED reply (was E-8)", async () => {
    const cluster = await FakeCluster.start(1);
    const [a] = cluster.nodes as [FakeServer];
    const key = "self-loop";
    a.handle("GET", error(`MOVED ${keySlot(key)} ${a.address}`));
    const redis = client(cluster.seeds, { commandTimeout: 1500 });
    await redis.connect();
    const startedAt = performance.now();
    const failure = await rejection(redis.get(key));
    expect(performance.now() - startedAt).toBeLessThan(1500 + TIMER_SLACK_MS);
    expect(isTypedError(failure), describeError(failure)).toBe(true);
    // A MOVED is the client's to handle: out of time, the user gets a client error, not it.
    expect(isLeakedClusterReply(failure), describeError(failure)).toBe(false);
  });

  it("ping-pong between two nodes: MaxRedirectionsError after maxRedirections (16), 17 sends in all", async () => {
    const cluster = await FakeCluster.start(2);
    const [a, b] = cluster.nodes as [FakeServer, FakeServer];
    cluster.routing = false;
    const key = keyOn(cluster, a);
    const slot = keySlot(key);
    a.handle("GET", error(`MOVED ${slot} ${b.address}`));
    b.handle("GET", error(`MOVED ${slot} ${a.address}`));
    const redis = client(cluster.seeds);
    await redis.connect();
    const failure = await rejection(redis.get(key));
    expect(failure, describeError(failure)).toBeInstanceOf(MaxRedirectionsError);
    expect(a.count("GET") + b.count("GET")).toBe(17);
    const last = a.count("GET") > b.count("GET") ? a : b;
    expect((failure as MaxRedirectionsError).address).toBe(last.address);
  });

  it("maxRedirections: 3 gives up after 3 redirections (4 sends)", async () => {
    const cluster = await FakeCluster.start(2);
    const [a, b] = cluster.nodes as [FakeServer, FakeServer];
    cluster.routing = false;
    const key = keyOn(cluster, a);
    a.handle("GET", error(`MOVED ${keySlot(key)} ${b.address}`));
    b.handle("GET", error(`MOVED ${keySlot(key)} ${a.address}`));
    const redis = client(cluster.seeds, { maxRedirections: 3 });
    await redis.connect();
    expect(await rejection(redis.get(key))).toBeInstanceOf(MaxRedirectionsError);
    expect(a.count("GET") + b.count("GET")).toBe(4);
  });

  it("MOVED slot :port (empty host) goes to the host of the connection that answered", async () => {
    const cluster = await FakeCluster.start(2);
    const [a, b] = cluster.nodes as [FakeServer, FakeServer];
    const redis = client(cluster.seeds);
    await redis.connect();
    const key = keyOn(cluster, a);
    // b takes the slot over and announces no endpoint: a's MOVED says ":<port>".
    nodeInfo(cluster, b).endpoint = "";
    cluster.assign(keySlot(key), keySlot(key), 1);
    b.store.set(key, Buffer.from("on b"));
    const moves: Array<{ slot: number; from: string; to: string }> = [];
    redis.on("moved", (move) => moves.push(move));
    expect(await redis.get(key)).toBe("on b");
    expect(a.received("GET")[0]!.toString()).toBe(`GET ${key}`);
    expect(moves).toEqual([{ slot: keySlot(key), from: a.address, to: b.address }]);
  });

  it("MOVED to itself does not fail the other commands in flight on that connection (was E-4)", async () => {
    const cluster = await FakeCluster.start(1);
    const [a] = cluster.nodes as [FakeServer];
    a.handle("GET", sequence(error(`MOVED ${keySlot("going")} ${a.address}`), "v"));
    a.handle("INCR", delayed(30, 1));
    const redis = client(cluster.seeds);
    await redis.connect();
    // The INCR is written right behind the GET; the server executes it and answers.
    const get = redis.get("going");
    const incr = redis.incr("counter");
    const [getResult, incrResult] = await Promise.allSettled([get, incr]);
    expect(getResult).toEqual({ status: "fulfilled", value: "v" });
    expect(a.count("INCR")).toBe(1);
    // The server ran it and answered: renewing the connection must not throw that reply away.
    expect(incrResult.status === "fulfilled" ? incrResult.value : describeError(incrResult.reason)).toBe(1);
  });
});

// ── ASK ─────────────────────────────────────────────────────────────────────────────────

describe("ASK", () => {
  it("ASKING + the command on the target, the slot table untouched: the next command goes to the source again", async () => {
    const cluster = await FakeCluster.start(2);
    const [a, b] = cluster.nodes as [FakeServer, FakeServer];
    const redis = client(cluster.seeds);
    await redis.connect();
    const key = keyOn(cluster, a);
    const slot = keySlot(key);
    a.handle("GET", sequence(error(`ASK ${slot} ${b.address}`), "from the source"));
    b.store.set(key, Buffer.from("from the target"));
    const asks: Array<{ slot: number; from: string; to: string }> = [];
    redis.on("ask", (ask) => asks.push(ask));
    expect(await redis.get(key)).toBe("from the target");
    const atTarget = b.commands.map(String);
    expect(atTarget.slice(-2)).toEqual(["ASKING", `GET ${key}`]);
    expect(b.received("GET")[0]!.previous?.name).toBe("ASKING");
    expect(asks).toEqual([{ slot, from: a.address, to: b.address }]);
    expect(redis.topology!.shardOf(slot)!.primary.address).toBe(a.address);
    expect(await redis.get(key)).toBe("from the source");
    expect(a.count("GET")).toBe(2);
    expect(b.count("ASKING")).toBe(1);
  });

  it("ASK slot :port (empty host) goes to the host of the connection that answered", async () => {
    const cluster = await FakeCluster.start(2);
    const [a, b] = cluster.nodes as [FakeServer, FakeServer];
    const redis = client(cluster.seeds);
    await redis.connect();
    const key = keyOn(cluster, a);
    a.handle("GET", sequence(error(`ASK ${keySlot(key)} :${b.port}`), "source"));
    b.store.set(key, Buffer.from("target"));
    expect(await redis.get(key)).toBe("target");
  });
});

// ── retryable errors ────────────────────────────────────────────────────────────────────

describe("TRYAGAIN, LOADING, CLUSTERDOWN, MASTERDOWN", () => {
  it.each([
    ["TRYAGAIN", "TRYAGAIN Multiple keys request during rehashing of slot"],
    ["LOADING", "LOADING Redis is loading the dataset in memory"],
    ["CLUSTERDOWN", "CLUSTERDOWN The cluster is down"],
    ["MASTERDOWN", "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'"],
    ["READONLY", "READONLY You can't write against a read only replica."],
  ])("%s a few times, then OK: succeeds", async (_code, message) => {
    const cluster = await FakeCluster.start(1);
    const [a] = cluster.nodes as [FakeServer];
    a.handle("GET", sequence(error(message), error(message), error(message), "finally"));
    const redis = client(cluster.seeds);
    expect(await redis.get("k")).toBe("finally");
    expect(a.count("GET")).toBe(4);
  });

  it.each([
    ["CLUSTERDOWN", "CLUSTERDOWN The cluster is down"],
    ["MASTERDOWN", "MASTERDOWN Link with MASTER is down"],
  ])("%s forever: ClusterDownError within commandTimeout", async (_code, message) => {
    const cluster = await FakeCluster.start(1);
    const [a] = cluster.nodes as [FakeServer];
    a.handle("GET", error(message));
    const redis = client(cluster.seeds, { commandTimeout: 400 });
    await redis.connect();
    const startedAt = performance.now();
    const failure = await rejection(redis.get("k"));
    const elapsed = performance.now() - startedAt;
    expect(failure, describeError(failure)).toBeInstanceOf(ClusterDownError);
    expect((failure as ClusterDownError).slot).toBe(keySlot("k"));
    expect(elapsed).toBeLessThan(400 + TIMER_SLACK_MS);
    expect(a.count("GET")).toBeGreaterThan(2); // it did retry
  });

  it.each([
    ["TRYAGAIN", "TRYAGAIN Multiple keys request during rehashing of slot"],
    ["LOADING", "LOADING Redis is loading the dataset in memory"],
  ])(
    "%s forever: a typed error within commandTimeout, not the raw server reply (was E-9)",
    async (_code, message) => {
      const cluster = await FakeCluster.start(1);
      const [a] = cluster.nodes as [FakeServer];
      a.handle("GET", error(message));
      const redis = client(cluster.seeds, { commandTimeout: 300 });
      await redis.connect();
      const startedAt = performance.now();
      const failure = await rejection(redis.get("k"));
      expect(performance.now() - startedAt).toBeLessThan(300 + TIMER_SLACK_MS);
      expect(isTypedError(failure), describeError(failure)).toBe(true);
      expect(isLeakedClusterReply(failure), describeError(failure)).toBe(false);
    },
  );
});

// ── endpoints ───────────────────────────────────────────────────────────────────────────

describe("unknown endpoints", () => {
  /** Seeds spelt "localhost:<port>": the replier's host is then told apart from 127.0.0.1. */
  function localhostSeed(node: FakeServer): string {
    return `localhost:${node.port}`;
  }

  it('CLUSTER SHARDS endpoint "": the host the reply came from, with the port given', async () => {
    const cluster = await FakeCluster.start(2);
    const [a, b] = cluster.nodes as [FakeServer, FakeServer];
    nodeInfo(cluster, b).endpoint = "";
    const redis = client([localhostSeed(a)]);
    await redis.connect();
    expect([...redis.topology!.nodes.keys()].sort()).toEqual([a.address, `localhost:${b.port}`].sort());
    const key = keyOn(cluster, b);
    b.store.set(key, Buffer.from("via the replier's host"));
    expect(await redis.get(key)).toBe("via the replier's host");
  });

  it("CLUSTER SHARDS endpoint null: the host the reply came from (not the ip field) (was E-6)", async () => {
    const cluster = await FakeCluster.start(2);
    const [a, b] = cluster.nodes as [FakeServer, FakeServer];
    nodeInfo(cluster, b).endpoint = null;
    const redis = client([localhostSeed(a)]);
    await redis.connect();
    expect([...redis.topology!.nodes.keys()].sort()).toEqual([a.address, `localhost:${b.port}`].sort());
  });

  it('"?": the node is skipped — a replica is left out, a primary\'s slots are unserved', async () => {
    const cluster = await FakeCluster.start(2);
    const [a, b] = cluster.nodes as [FakeServer, FakeServer];
    const replica = await startFakeServer();
    const [shardOfA, shardOfB] = cluster.shards() as [FakeShard, FakeShard];
    const shards: FakeShard[] = [
      {
        ranges: shardOfA.ranges,
        nodes: [
          nodeInfo(cluster, a),
          { id: "r".repeat(40), port: replica.port, endpoint: "?", ip: "127.0.0.1", role: "replica" },
        ],
      },
      { ranges: shardOfB.ranges, nodes: [{ ...nodeInfo(cluster, b), endpoint: "?" }] },
    ];
    for (const node of cluster.nodes) node.handle("CLUSTER SHARDS", clusterShardsReply(shards));
    const redis = client([a.address], { commandTimeout: 300 });
    await redis.connect();
    expect([...redis.topology!.nodes.keys()]).toEqual([a.address]);
    expect(redis.topology!.shards).toHaveLength(1);
    const failure = await rejection(redis.get(keyOn(cluster, b)));
    expect(failure, describeError(failure)).toBeInstanceOf(ClusterDownError);
    expect(b.commands).toHaveLength(0);
    expect(replica.connections).toHaveLength(0);
  });

  it("CLUSTER SLOTS when CLUSTER SHARDS is unknown (Redis 6): same topology, null endpoint = the replier's host", async () => {
    const cluster = await FakeCluster.start(3);
    const [a, b] = cluster.nodes as [FakeServer, FakeServer, FakeServer];
    for (const node of cluster.nodes) {
      node.handle("CLUSTER SHARDS", error("ERR unknown subcommand 'SHARDS'. Try CLUSTER HELP."));
    }
    nodeInfo(cluster, b).endpoint = null;
    const redis = client([localhostSeed(a)]);
    await redis.connect();
    expect(cluster.count("CLUSTER SLOTS")).toBe(1);
    expect(redis.topology!.shards).toHaveLength(3);
    expect(redis.topology!.nodes.has(`localhost:${b.port}`)).toBe(true);
    for (const node of cluster.nodes) {
      const key = keyOn(cluster, node, "slots");
      node.store.set(key, Buffer.from(`on ${node.port}`));
      expect(await redis.get(key)).toBe(`on ${node.port}`);
    }
    // Later refreshes go straight to CLUSTER SLOTS.
    const shardsAsked = cluster.count("CLUSTER SHARDS");
    const slotsAsked = cluster.count("CLUSTER SLOTS");
    const movedKey = keyOn(cluster, a, "after");
    cluster.assign(0, 16383, 2);
    const before = redis.topology;
    expect(await redis.get(movedKey)).toBeNull(); // MOVED: triggers a refresh
    // Its view can only come from the answers to its requests: once it is installed, a
    // CLUSTER SHARDS asked first (before falling back to SLOTS) would have been received.
    await waitFor("the refresh to install the new table", 2000, () => redis.topology !== before);
    expect(redis.topology!.shards).toHaveLength(1);
    expect(cluster.count("CLUSTER SLOTS")).toBeGreaterThan(slotsAsked);
    expect(cluster.count("CLUSTER SHARDS")).toBe(shardsAsked);
  });

  it('CLUSTER SLOTS endpoint "?": the node is skipped', async () => {
    const cluster = await FakeCluster.start(2);
    const [a, b] = cluster.nodes as [FakeServer, FakeServer];
    for (const node of cluster.nodes) {
      node.handle("CLUSTER SHARDS", error("ERR unknown subcommand 'SHARDS'. Try CLUSTER HELP."));
    }
    nodeInfo(cluster, b).endpoint = "?";
    const redis = client([a.address]);
    await redis.connect();
    expect([...redis.topology!.nodes.keys()]).toEqual([a.address]);
  });
});

// ── natMap ──────────────────────────────────────────────────────────────────────────────

describe("natMap (nodes announcing addresses the client cannot reach as such)", () => {
  /**
   * b announces 127.0.0.1:<a port where nothing listens>; the natMap turns that into b's
   * real address. Unmapped, a connection to the announced address is refused (loopback).
   */
  async function announcedBehindNat() {
    const cluster = await FakeCluster.start(2);
    const [a, b] = cluster.nodes as [FakeServer, FakeServer];
    const hidden = await startFakeServer();
    const announcedPort = hidden.port;
    await hidden.close();
    nodeInfo(cluster, b).port = announcedPort;
    const natMap = { [`127.0.0.1:${announcedPort}`]: { host: "127.0.0.1", port: b.port } };
    return { cluster, a, b, natMap };
  }

  it("the topology's addresses go through natMap", async () => {
    const { cluster, a, b, natMap } = await announcedBehindNat();
    const redis = client(cluster.seeds, { natMap });
    await redis.connect();
    expect([...redis.topology!.nodes.keys()].sort()).toEqual([a.address, b.address].sort());
    const key = keyOn(cluster, b);
    b.store.set(key, Buffer.from("behind nat"));
    expect(await redis.get(key)).toBe("behind nat");
  });

  it("a MOVED target goes through natMap (was E-10)", async () => {
    const { cluster, a, b, natMap } = await announcedBehindNat();
    const redis = client(cluster.seeds, { natMap });
    await redis.connect();
    const key = keyOn(cluster, a);
    cluster.assign(keySlot(key), keySlot(key), 1); // a now answers MOVED <slot> 127.0.0.1:<announced>
    b.store.set(key, Buffer.from("moved behind nat"));
    const moves: string[] = [];
    redis.on("moved", (move) => moves.push(move.to));
    expect(await redis.get(key)).toBe("moved behind nat");
    expect(moves).toEqual([b.address]);
  });

  it("an ASK target goes through natMap (was E-10)", async () => {
    const { cluster, a, b, natMap } = await announcedBehindNat();
    const redis = client(cluster.seeds, { natMap, commandTimeout: 1000 });
    await redis.connect();
    const key = keyOn(cluster, a);
    a.handle("GET", error(`ASK ${keySlot(key)} 127.0.0.1:${nodeInfo(cluster, b).port}`));
    b.store.set(key, Buffer.from("asked behind nat"));
    expect(await redis.get(key).catch(describeError)).toBe("asked behind nat");
  });
});

// ── topology consensus ──────────────────────────────────────────────────────────────────

describe("topology consensus", () => {
  it("a view as the table has it is taken from one node: one CLUSTER SHARDS per refresh", async () => {
    const cluster = await FakeCluster.start(3);
    const redis = client(cluster.seeds, { minRefreshInterval: 0 });
    await redis.connect();
    expect(cluster.count("CLUSTER SHARDS")).toBe(1);
    for (let round = 1; round <= 3; round++) {
      const asked = cluster.count("CLUSTER SHARDS");
      await redis.nodes("primary")[0]!.ping(); // nothing changes the topology...
      await redis.refreshTopology();
      expect(cluster.count("CLUSTER SHARDS")).toBe(asked + 1); // ...so one node is enough
    }
  });

  it("a view that moves slots without a MOVED saying so is checked with two more nodes: the view two of them share wins", async () => {
    const cluster = await FakeCluster.start(3);
    const [a, b, c] = cluster.nodes as [FakeServer, FakeServer, FakeServer];
    const expected = cluster.shards().map((shard) => shard.nodes[0]!.port);
    for (let round = 0; round < 6; round++) {
      c.unhandle("CLUSTER SHARDS");
      const redis = client([a.address, b.address, c.address], { minRefreshInterval: 0 });
      await redis.connect();
      // c now believes it owns everything; a and b describe the real, three-way split.
      c.handle(
        "CLUSTER SHARDS",
        clusterShardsReply([{ ranges: [[0, 16383]], nodes: [nodeInfo(cluster, c)] }]),
      );
      const refreshed = redis.stats().refreshes;
      await redis.refreshTopology();
      expect(redis.stats().refreshes).toBe(refreshed + 1);
      expect(redis.topology!.primaries.map((node) => node.port)).toEqual(expected);
    }
  });

  it("a first view that does not serve every slot is checked with two more nodes", async () => {
    const cluster = await FakeCluster.start(3);
    const [a, b, c] = cluster.nodes as [FakeServer, FakeServer, FakeServer];
    // a just joined and knows only itself.
    a.handle("CLUSTER SHARDS", clusterShardsReply([cluster.shards()[0]!]));
    const redis = client([a.address, b.address, c.address]);
    await redis.connect();
    expect(redis.topology!.coveredSlots).toBe(16384);
  });

  it("a node that never answers CLUSTER SHARDS does not hold the refresh: the others are asked a moment later", async () => {
    const cluster = await FakeCluster.start(3);
    const [a, b, c] = cluster.nodes as [FakeServer, FakeServer, FakeServer];
    c.handle("CLUSTER SHARDS", STALL);
    const commandTimeout = 5000;
    for (let round = 0; round < 4; round++) {
      const redis = client([a.address, b.address, c.address], { commandTimeout });
      const startedAt = performance.now();
      await redis.connect();
      // Held by c, the refresh would end at c's query timeout (the commandTimeout).
      expect(performance.now() - startedAt).toBeLessThan(commandTimeout);
      expect(redis.topology!.shards).toHaveLength(3);
    }
  });

  it("a tie between views that both differ from the table: the view of the node with the highest cluster_current_epoch wins", async () => {
    const cluster = await FakeCluster.start(2);
    const [a, b] = cluster.nodes as [FakeServer, FakeServer];
    a.handle("CLUSTER INFO", "cluster_state:ok\r\ncluster_current_epoch:5\r\n");
    b.handle("CLUSTER INFO", "cluster_state:ok\r\ncluster_current_epoch:9\r\n");
    for (let round = 0; round < 4; round++) {
      a.unhandle("CLUSTER SHARDS");
      b.unhandle("CLUSTER SHARDS");
      const redis = client([a.address, b.address], { minRefreshInterval: 0 });
      await redis.connect();
      // Each node now claims every slot for itself.
      a.handle(
        "CLUSTER SHARDS",
        clusterShardsReply([{ ranges: [[0, 16383]], nodes: [nodeInfo(cluster, a)] }]),
      );
      b.handle(
        "CLUSTER SHARDS",
        clusterShardsReply([{ ranges: [[0, 16383]], nodes: [nodeInfo(cluster, b)] }]),
      );
      await redis.refreshTopology();
      expect(redis.topology!.primaries.map((node) => node.address)).toEqual([b.address]);
    }
  });

  it("a view covering fewer slots, from one node only, does not replace the table; the same view from every node asked does", async () => {
    const cluster = await FakeCluster.start(2);
    const [a, b] = cluster.nodes as [FakeServer, FakeServer];
    // Periodic refreshes: the one after the scripted refresh says that it has been judged.
    const redis = client([a.address], { minRefreshInterval: 0, refreshInterval: 50 });
    await redis.connect();
    expect(redis.topology!.coveredSlots).toBe(16384);
    // In one refresh, a alone says b's slots are unserved (a node that lost track of b, a
    // cut reply) while b is loading; the refreshes after it see the real table again.
    const partial: FakeShard[] = [cluster.shards()[0]!];
    const refresh = scriptOneRefresh(
      redis,
      new Map<FakeServer, Action>([
        [a, clusterShardsReply(partial)],
        [b, error("LOADING Redis is loading the dataset in memory")],
      ]),
      () => clusterShardsReply(cluster.shards()),
    );
    await waitFor("the refresh after the scripted one", 5000, () => refresh.judged() !== undefined);
    expect(refresh.judged()!.coveredSlots).toBe(16384);
    const key = keyOn(cluster, b);
    b.store.set(key, Buffer.from("b still serves"));
    expect(await redis.get(key)).toBe("b still serves");

    // Both agree on the smaller view: believed.
    for (const node of cluster.nodes) node.handle("CLUSTER SHARDS", clusterShardsReply(partial));
    await waitFor("the smaller view to be installed", 2000, () => redis.topology!.coveredSlots < 16384);
    expect(redis.topology!.coveredSlots).toBe(
      cluster.shards()[0]!.ranges.reduce((n, [s, e]) => n + e - s + 1, 0),
    );
  });

  it("an inconsistent view (two primaries claiming the same slots) does not replace a good table", async () => {
    const cluster = await FakeCluster.start(2);
    const [a, b] = cluster.nodes as [FakeServer, FakeServer];
    const redis = client([a.address], { minRefreshInterval: 0, refreshInterval: 50 });
    await redis.connect();
    const good = redis.topology!.fingerprint();
    // b keeps its half while a (listed last, so a naive table build lets it win) claims
    // every slot: b's slots are claimed twice. Every node says so, in one refresh.
    const overlapping: FakeShard[] = [
      { ranges: cluster.shards()[1]!.ranges, nodes: [nodeInfo(cluster, b)] },
      { ranges: [[0, 16383]], nodes: [nodeInfo(cluster, a)] },
    ];
    const refresh = scriptOneRefresh(
      redis,
      new Map(cluster.nodes.map((node) => [node, clusterShardsReply(overlapping)] as const)),
      () => clusterShardsReply(cluster.shards()),
    );
    await waitFor("the refresh after the scripted one", 5000, () => refresh.judged() !== undefined);
    expect(refresh.judged()!.fingerprint).toBe(good);
  });

  it("after a smaller view was refused, the next refresh is not held back by minRefreshInterval ('look again soon', was E-7)", async () => {
    const cluster = await FakeCluster.start(1);
    const [a] = cluster.nodes as [FakeServer];
    // Periodic refreshes are due every 50 ms, but each waits out the minimum interval since
    // the last refresh (jittered by ±25%: at least 1500 ms) — unless that one refused a view.
    const minRefreshIntervalMs = 2000;
    const redis = client([a.address], { minRefreshInterval: minRefreshIntervalMs, refreshInterval: 50 });
    await redis.connect(); // refresh 1
    const asked: Array<{ refresh: number; atMs: number; coveredSlots: number }> = [];
    a.handle("CLUSTER SHARDS", () => {
      // At this moment the refresh asking has not read anything yet: coveredSlots is what
      // the refreshes before it decided.
      asked.push({
        refresh: redis.stats().refreshes,
        atMs: performance.now(),
        coveredSlots: redis.topology!.coveredSlots,
      });
      return clusterShardsReply([{ ranges: [[0, 99]], nodes: [nodeInfo(cluster, a)] }]);
    });
    // Refresh 2 sees the smaller view and refuses it; refresh 3 sees it again and takes it
    // (twice in a row is the truth).
    await waitFor("the smaller view to be installed", 10_000, () => redis.topology!.coveredSlots === 100);
    const [second, third] = asked;
    expect([second?.refresh, third?.refresh]).toEqual([2, 3]);
    expect(third!.coveredSlots).toBe(16384); // refused by refresh 2
    // Held back, refresh 3 would have started at least 1500 ms after refresh 2 ended.
    expect(third!.atMs - second!.atMs).toBeLessThan(minRefreshIntervalMs * 0.75);
  });
});

// ── writes and connection loss ──────────────────────────────────────────────────────────

describe("a connection lost after a command was written", () => {
  it("INCR (not idempotent): ConnectionError with outcomeUnknown, not retried — the server saw it once", async () => {
    const cluster = await FakeCluster.start(1);
    const [a] = cluster.nodes as [FakeServer];
    a.handle("INCR", close());
    const redis = client(cluster.seeds);
    await redis.connect();
    const failure = await rejection(redis.incr("counter"));
    expect(failure, describeError(failure)).toBeInstanceOf(ConnectionError);
    expect((failure as ConnectionError).outcomeUnknown).toBe(true);
    expect((failure as ConnectionError).address).toBe(a.address);
    expect(failure.message).not.toContain("counter");
    expect(a.count("INCR")).toBe(1);
    a.unhandle("INCR");
    expect(await redis.incr("counter")).toBe(1); // the client goes on
    expect(a.count("INCR")).toBe(2);
  });

  it("SET NX (not idempotent either): outcomeUnknown, not retried", async () => {
    const cluster = await FakeCluster.start(1);
    const [a] = cluster.nodes as [FakeServer];
    a.handle("SET", close());
    const redis = client(cluster.seeds);
    await redis.connect();
    const failure = await rejection(redis.set("k", "v", "NX"));
    expect((failure as ConnectionError).outcomeUnknown).toBe(true);
    expect(a.count("SET")).toBe(1);
  });

  it("GET: retried, succeeds", async () => {
    const cluster = await FakeCluster.start(1);
    const [a] = cluster.nodes as [FakeServer];
    a.handle("GET", sequence(close(), "v"));
    const redis = client(cluster.seeds);
    await redis.connect();
    expect(await redis.get("k")).toBe("v");
    expect(a.count("GET")).toBe(2);
  });

  it("plain SET (idempotent): retried, succeeds", async () => {
    const cluster = await FakeCluster.start(1);
    const [a] = cluster.nodes as [FakeServer];
    a.handle("SET", sequence(close(), OK));
    const redis = client(cluster.seeds);
    await redis.connect();
    expect(await redis.set("k", "v")).toBe("OK");
    expect(a.count("SET")).toBe(2);
  });

  it("retryUnsafeWrites: true: INCR retried", async () => {
    const cluster = await FakeCluster.start(1);
    const [a] = cluster.nodes as [FakeServer];
    a.handle("INCR", sequence(close(), 1));
    const redis = client(cluster.seeds, { retryUnsafeWrites: true });
    await redis.connect();
    expect(await redis.incr("counter")).toBe(1);
    expect(a.count("INCR")).toBe(2);
  });

  it("an INCR that never reached the socket (queued behind the broken one) is retried: it cannot have run", async () => {
    const cluster = await FakeCluster.start(1);
    const [a] = cluster.nodes as [FakeServer];
    a.handle("GET", sequence(close(), "v"));
    const redis = client(cluster.seeds, { maxInFlight: 1 });
    await redis.connect();
    const get = redis.get("k");
    const incr = redis.incr("counter"); // waits for room behind the GET
    expect(await incr).toBe(1);
    expect(await get).toBe("v");
    expect(a.count("INCR")).toBe(1);
  });
});

// ── nodes going away ────────────────────────────────────────────────────────────────────

describe("nodes going away", () => {
  it("a primary dies and another takes its slots: commands to those slots succeed without a new client", async () => {
    const cluster = await FakeCluster.start(2);
    const [a, b] = cluster.nodes as [FakeServer, FakeServer];
    const redis = client(cluster.seeds, { minRefreshInterval: 0 });
    await redis.connect();
    const key = keyOn(cluster, a);
    await a.close();
    cluster.assign(0, 16383, 1);
    b.store.set(key, Buffer.from("promoted"));
    expect(await redis.get(key)).toBe("promoted");
  });

  it("every node down: a typed error within commandTimeout", async () => {
    const cluster = await FakeCluster.start(2);
    const redis = client(cluster.seeds, { commandTimeout: 500 });
    await redis.connect();
    await cluster.close();
    const startedAt = performance.now();
    const failure = await rejection(redis.get("k"));
    expect(isTypedError(failure), describeError(failure)).toBe(true);
    expect(performance.now() - startedAt).toBeLessThan(500 + TIMER_SLACK_MS);
  });

  it("the seed is down when the first command is issued and back soon after: the command succeeds within its timeout (was E-5)", async () => {
    const seed = await startFakeServer();
    const port = seed.port;
    await seed.close();
    const redis = client([`127.0.0.1:${port}`], { commandTimeout: 2000, minRefreshInterval: 50 });
    const refused = new Promise((resolve) => redis.once("nodeError", resolve));
    const reply = redis.get("k");
    await refused;
    // The node comes back long before the command's deadline.
    const back = await startFakeServer(port);
    back.handle(
      "CLUSTER SHARDS",
      clusterShardsReply([
        {
          ranges: [[0, 16383]],
          nodes: [{ id: "a".repeat(40), port, endpoint: "127.0.0.1", ip: "127.0.0.1", role: "master" }],
        },
      ]),
    );
    back.store.set("k", Buffer.from("back"));
    // The failed refresh is tried again while a command waits for a topology.
    const outcome = await reply.catch(describeError);
    expect(outcome).toBe("back");
  });
});

// ── refresh storms ──────────────────────────────────────────────────────────────────────

describe("refresh single flight", () => {
  it("500 commands getting MOVED at once: one refresh, at most 3 CLUSTER SHARDS at the fakes", async () => {
    const cluster = await FakeCluster.start(3);
    const [a, b] = cluster.nodes as [FakeServer, FakeServer, FakeServer];
    const redis = client(cluster.seeds);
    await redis.connect();
    const keys: string[] = [];
    for (let i = 0; keys.length < 500; i++) {
      const key = `storm:${i}`;
      if (cluster.ownerOf(keySlot(key)) === a) keys.push(key);
    }
    // a's slots move to b; every one of the 500 GETs will get MOVED from a.
    for (let slot = 0; slot < 16384; slot++) if (cluster.owners[slot] === 0) cluster.owners[slot] = 1;
    for (const key of keys) b.store.set(key, Buffer.from(key));
    const topologyAsked = cluster.count("CLUSTER SHARDS");
    const refreshes = redis.stats().refreshes;
    const before = redis.topology;
    const values = await Promise.all(keys.map((key) => redis.get(key)));
    expect(values).toEqual(keys);
    expect(a.count("GET")).toBe(500);
    await waitFor("the refresh to install the new table", 2000, () => redis.topology !== before);
    const asked = cluster.count("CLUSTER SHARDS") - topologyAsked;
    expect(asked).toBeGreaterThanOrEqual(1);
    expect(asked).toBeLessThanOrEqual(3);
    expect(redis.stats().refreshes - refreshes).toBe(1);
  });
});
