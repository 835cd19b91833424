/**
 * Which replicas get reads, against fake nodes: the states a real cluster will not hold
 * still long enough to test (a replica loading its dataset answers `-LOADING` for as long
 * as the load takes; a full sync in progress; a link that is down while the cluster still
 * calls the node online). A real replica that died and is reported failed is tested on the
 * dev cluster (test/integration/replicas.test.ts, "preferReplica").
 *
 * One shard: a primary and five replicas, each in another state. Every node holds the same
 * key with its own name as the value, so a reply says who served it.
 */
import { afterEach, describe, expect, it } from "vitest";
import { RedisCluster } from "../../src/index.js";
import { watchEscapes } from "../helpers/escapes.js";
import { waitFor } from "../helpers/wait.js";
import {
  closeAllFakes,
  clusterShardsReply,
  error,
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

/** `INFO replication` of a replica: its link to the primary, and whether a sync runs. */
function replicationInfo(linkUp: boolean, syncing: boolean): string {
  return [
    "# Replication",
    "role:slave",
    "master_host:127.0.0.1",
    `master_link_status:${linkUp ? "up" : "down"}`,
    `master_sync_in_progress:${syncing ? 1 : 0}`,
    "",
  ].join("\r\n");
}

type ReplicaState = "online" | "loading" | "failed" | "syncing" | "link down";

interface Shard {
  primary: FakeServer;
  replicas: Map<ReplicaState, FakeServer>;
  /** What CLUSTER SHARDS says of each node (edit, then wait for a refresh). */
  info: Map<FakeServer, FakeNodeInfo>;
  nameOf(node: FakeServer): string;
}

async function startShard(): Promise<Shard> {
  const primary = await startFakeServer();
  const states: ReplicaState[] = ["online", "loading", "failed", "syncing", "link down"];
  const replicas = new Map<ReplicaState, FakeServer>();
  for (const state of states) replicas.set(state, await startFakeServer());
  const names = new Map<FakeServer, string>([[primary, "primary"]]);
  for (const [state, node] of replicas) names.set(node, state);
  const info = new Map<FakeServer, FakeNodeInfo>();
  let id = 1;
  for (const [node, name] of names) {
    info.set(node, {
      id: (id++).toString(16).padStart(40, "0"),
      port: node.port,
      endpoint: node.host,
      ip: node.host,
      role: node === primary ? "master" : "replica",
      // CLUSTER SHARDS knows a node is loading or failed; it still calls a syncing replica,
      // or one whose link is down, online.
      health: name === "loading" ? "loading" : name === "failed" ? "failed" : "online",
    });
    node.store.set("k", Buffer.from(name));
  }
  const nodes = [...names.keys()];
  for (const node of nodes) {
    node.handle("CLUSTER SHARDS", () =>
      clusterShardsReply([{ ranges: [[0, 16383]], nodes: [...info.values()] }]),
    );
  }
  const replication: Record<ReplicaState, string> = {
    online: replicationInfo(true, false),
    // A replica loading its dataset has no working link yet.
    loading: replicationInfo(false, false),
    failed: replicationInfo(false, false),
    syncing: replicationInfo(false, true),
    "link down": replicationInfo(false, false),
  };
  for (const [state, node] of replicas) node.handle("INFO", replication[state]);
  replicas.get("loading")!.handle("GET", error("LOADING Redis is loading the dataset in memory"));
  return { primary, replicas, info, nameOf: (node) => names.get(node)! };
}

function client(shard: Shard): RedisCluster {
  const redis = new RedisCluster({
    nodes: [shard.primary.address],
    readFrom: "replica",
    refreshInterval: 50,
    minRefreshInterval: 0,
    commandTimeout: 2000,
  });
  clients.push(redis);
  return redis;
}

/** GETs of `k` received by each node, by name. */
function getsByName(shard: Shard): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const node of [shard.primary, ...shard.replicas.values()])
    counts[shard.nameOf(node)] = node.count("GET");
  return counts;
}

describe("replicas that cannot serve get no reads", () => {
  it("loading, failed, syncing, or with the link down: skipped; the one online replica gets every read", async () => {
    const shard = await startShard();
    const redis = client(shard);
    await redis.connect();
    const values = await Promise.all(Array.from({ length: 200 }, () => redis.get("k")));
    expect(new Set(values)).toEqual(new Set(["online"]));
    expect(getsByName(shard)).toEqual({
      primary: 0,
      online: 200,
      loading: 0,
      failed: 0,
      syncing: 0,
      "link down": 0,
    });
  });

  it("a replica that starts loading: its reads go to the primary at once, and after the next refresh it gets none", async () => {
    const shard = await startShard();
    const online = shard.replicas.get("online")!;
    const redis = client(shard);
    await redis.connect();
    expect(await redis.get("k")).toBe("online");

    // It restarted and loads its dataset; CLUSTER SHARDS has not said so yet.
    online.handle("GET", error("LOADING Redis is loading the dataset in memory"));
    const retriesBefore = redis.stats().retries;
    const values = await Promise.all(Array.from({ length: 50 }, () => redis.get("k")));
    expect(new Set(values)).toEqual(new Set(["primary"]));
    expect(redis.stats().retries - retriesBefore).toBe(50); // each tried the replica once

    // Now the cluster reports it loading: once a refresh that read that has been installed
    // (two started after the change), no read tries it any more.
    shard.info.get(online)!.health = "loading";
    const refreshesBefore = redis.stats().refreshes;
    await waitFor("two refreshes", 5000, () => redis.stats().refreshes >= refreshesBefore + 2);
    const triedBefore = online.count("GET");
    const retriesAfter = redis.stats().retries;
    const later = await Promise.all(Array.from({ length: 50 }, () => redis.get("k")));
    expect(new Set(later)).toEqual(new Set(["primary"]));
    expect(online.count("GET")).toBe(triedBefore);
    expect(redis.stats().retries).toBe(retriesAfter);
  });
});
