/**
 * Reads from replicas (issue 5), measured from the servers' own INFO commandstats: who got
 * the GETs and the SETs, through kills, broken replication links and a replica added live.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { DevCluster, DevNode } from "../../src/dev/index.js";
import { RedisCluster, RedisClusterError, type RedisClusterOptions } from "../../src/index.js";
import { withDevCluster } from "../helpers/cluster.js";
import { type DelayProxy, startDelayProxy } from "../helpers/delay-proxy.js";
import { restoreNodesAfterEach } from "../helpers/restore.js";
import { waitFor } from "../helpers/wait.js";

const dev = withDevCluster({ primaries: 3, replicasPerPrimary: 1 });

const clients: RedisCluster[] = [];
const proxies: DelayProxy[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});
// A node a test killed is back before the next test (this runs before the clients close).
restoreNodesAfterEach(dev);

function client(options: Omit<RedisClusterOptions, "nodes"> = {}): RedisCluster {
  const cluster = new RedisCluster({ nodes: dev().seeds, ...options });
  clients.push(cluster);
  return cluster;
}

/** `cmdstat_<name>` calls per node port, from INFO commandstats. */
async function calls(cluster: DevCluster, command: string): Promise<Map<number, number>> {
  const counts = new Map<number, number>();
  for (const node of cluster.nodes) {
    if (node.pid === undefined) continue;
    const info = String(await cluster.command(node.port, "INFO", "commandstats"));
    const match = new RegExp(`^cmdstat_${command}:calls=(\\d+)`, "m").exec(info);
    counts.set(node.port, match ? Number(match[1]) : 0);
  }
  return counts;
}

/** Node id → `health` as `CLUSTER SHARDS` on `port` reports it. */
async function shardsHealth(cluster: DevCluster, port: number): Promise<Map<string, string>> {
  const fields = (entry: unknown) => {
    const list = entry as unknown[];
    const map = new Map<string, unknown>();
    for (let i = 0; i + 1 < list.length; i += 2) map.set(String(list[i]), list[i + 1]);
    return map;
  };
  const health = new Map<string, string>();
  for (const shard of (await cluster.command(port, "CLUSTER", "SHARDS")) as unknown[]) {
    for (const node of fields(shard).get("nodes") as unknown[]) {
      const entry = fields(node);
      health.set(String(entry.get("id")), String(entry.get("health")));
    }
  }
  return health;
}

async function resetStats(cluster: DevCluster): Promise<void> {
  for (const node of cluster.nodes)
    if (node.pid !== undefined) await cluster.command(node.port, "CONFIG", "RESETSTAT");
}

function byRole(cluster: DevCluster, role: "primary" | "replica"): DevNode[] {
  return cluster.nodes.filter((node) => node.role === role && node.pid !== undefined);
}

/**
 * Sets a config parameter on `nodes`; resolves with a function that sets each node's
 * previous value back.
 */
async function setConfig(
  cluster: DevCluster,
  nodes: readonly DevNode[],
  parameter: string,
  value: string,
): Promise<() => Promise<void>> {
  const previous = new Map<number, string>();
  for (const node of nodes) {
    const [, was] = (await cluster.command(node.port, "CONFIG", "GET", parameter)) as [string, string];
    previous.set(node.port, was);
    await cluster.command(node.port, "CONFIG", "SET", parameter, value);
  }
  return async () => {
    for (const [port, was] of previous) await cluster.command(port, "CONFIG", "SET", parameter, was);
  };
}

const KEYS = Array.from({ length: 300 }, (_, i) => `replica-test:${i}`);

describe("readFrom", () => {
  it('"replica": ≥ 99% of GETs on replicas, spread over all of them; SETs on primaries only', async () => {
    const cluster = client({ readFrom: "replica" });
    await cluster.connect();
    await Promise.all(KEYS.map((key) => cluster.set(key, "v")));
    await resetStats(dev());
    const values = await Promise.all(
      Array.from({ length: 10_000 }, (_, i) => cluster.get(KEYS[i % KEYS.length]!)),
    );
    expect(values.every((value) => value === "v")).toBe(true);
    await Promise.all(KEYS.map((key) => cluster.set(key, "w")));

    const gets = await calls(dev(), "get");
    const replicaGets = byRole(dev(), "replica").map((node) => gets.get(node.port) ?? 0);
    const primaryGets = byRole(dev(), "primary").map((node) => gets.get(node.port) ?? 0);
    const onReplicas = replicaGets.reduce((a, b) => a + b, 0);
    expect(onReplicas + primaryGets.reduce((a, b) => a + b, 0)).toBe(10_000);
    expect(onReplicas).toBeGreaterThanOrEqual(9_900);
    for (const share of replicaGets) expect(share).toBeGreaterThan(1_000);

    // A replica counts the SETs it replicates; the client's own SETs all went to primaries:
    // the primaries together saw exactly the 300 we sent.
    const sets = await calls(dev(), "set");
    const primarySets = byRole(dev(), "primary").reduce((sum, node) => sum + (sets.get(node.port) ?? 0), 0);
    expect(primarySets).toBe(KEYS.length);
  });

  it('"preferReplica": reads on the replicas while they are healthy; a shard left without one reads from its primary', async () => {
    const cluster = client({ readFrom: "preferReplica", refreshInterval: 200 });
    await cluster.connect();
    await Promise.all(KEYS.map((key) => cluster.set(key, "v")));
    await resetStats(dev());
    await Promise.all(Array.from({ length: 3_000 }, (_, i) => cluster.get(KEYS[i % KEYS.length]!)));
    let gets = await calls(dev(), "get");
    for (const primary of byRole(dev(), "primary")) expect(gets.get(primary.port), "a primary").toBe(0);
    for (const replica of byRole(dev(), "replica")) expect(gets.get(replica.port)).toBeGreaterThan(0);

    // One shard loses its only replica (the afterEach restarts it).
    const victim = byRole(dev(), "replica")[0]!;
    const orphan = dev().nodes.find((node) => node.id === victim.primaryId)!;
    await dev().killNode(victim.port);
    // Once every node reports it failed, a refresh that starts then reads it as such: wait
    // for two refreshes to start (so the first of them has completed).
    await waitFor("every node to report the replica failed", 15_000, async () => {
      for (const { port } of byRole(dev(), "primary").concat(byRole(dev(), "replica"))) {
        if (!/^fail(ed)?$/.test((await shardsHealth(dev(), port)).get(victim.id) ?? "")) return false;
      }
      return true;
    });
    const refreshesBefore = cluster.stats().refreshes;
    await waitFor("two periodic refreshes", 5_000, () => cluster.stats().refreshes >= refreshesBefore + 2);
    await resetStats(dev());
    const retriesBefore = cluster.stats().retries;
    const values = await Promise.all(
      Array.from({ length: 3_000 }, (_, i) => cluster.get(KEYS[i % KEYS.length]!)),
    );
    expect(values.every((value) => value === "v")).toBe(true);
    // Routed there, not retried there after failing on the dead replica.
    expect(cluster.stats().retries - retriesBefore).toBe(0);
    gets = await calls(dev(), "get");
    expect(gets.get(orphan.port)).toBeGreaterThan(0);
    for (const primary of byRole(dev(), "primary")) {
      if (primary.port !== orphan.port) expect(gets.get(primary.port), "a primary with a replica").toBe(0);
    }
    for (const replica of byRole(dev(), "replica")) expect(gets.get(replica.port)).toBeGreaterThan(0);
  });

  it('"any": reads land on primaries and replicas both (resty enableSlaveRead)', async () => {
    const cluster = client({ enableSlaveRead: true });
    await cluster.connect();
    await Promise.all(KEYS.map((key) => cluster.set(key, "v")));
    await resetStats(dev());
    await Promise.all(Array.from({ length: 3_000 }, (_, i) => cluster.get(KEYS[i % KEYS.length]!)));
    const gets = await calls(dev(), "get");
    for (const node of [...byRole(dev(), "primary"), ...byRole(dev(), "replica")]) {
      expect(gets.get(node.port)).toBeGreaterThan(100);
    }
  });

  it('"nearest": reads move away from a node made slower, after the next RTT sample', async () => {
    // Every node is reached through a proxy, so that one can be slowed down.
    const proxyByPort = new Map<number, DelayProxy>();
    for (const node of dev().nodes) {
      const proxy = await startDelayProxy(node.port);
      proxies.push(proxy);
      proxyByPort.set(node.port, proxy);
    }
    const cluster = client({
      readFrom: "nearest",
      refreshInterval: 200,
      natMap: (host, port) => ({ host, port: proxyByPort.get(port)?.port ?? port }),
    });
    await cluster.connect();
    await Promise.all(KEYS.map((key) => cluster.set(key, "v")));

    const replica = byRole(dev(), "replica")[0]!;
    const primary = dev().nodes.find((node) => node.id === replica.primaryId)!;
    const readsAfterTwoSamples = async (): Promise<Map<number, number>> => {
      // The periodic refresh is 200 ms; a refresh that began after the change has completed,
      // and its RTT sample with it, once two more have begun.
      const refreshesBefore = cluster.stats().refreshes;
      await waitFor("RTT samples", 5_000, () => cluster.stats().refreshes >= refreshesBefore + 3);
      await resetStats(dev());
      await Promise.all(Array.from({ length: 2_000 }, (_, i) => cluster.get(KEYS[i % KEYS.length]!)));
      return calls(dev(), "get");
    };

    // First the primary is far: its shard's reads go to the replica.
    proxyByPort.get(primary.port)!.setDelay(40);
    let gets = await readsAfterTwoSamples();
    expect(gets.get(primary.port)).toBe(0);
    expect(gets.get(replica.port)).toBeGreaterThan(0);

    // Then the replica is far: they move to the primary.
    proxyByPort.get(primary.port)!.setDelay(0);
    proxyByPort.get(replica.port)!.setDelay(40);
    gets = await readsAfterTwoSamples();
    expect(gets.get(replica.port)).toBe(0);
    expect(gets.get(primary.port)).toBeGreaterThan(0);
    expect([...gets.values()].reduce((a, b) => a + b, 0)).toBe(2_000);
  });
});

describe("replica failures", () => {
  it("a replica killed under read load costs no client-visible error", async () => {
    const cluster = client({ readFrom: "replica", refreshInterval: 500 });
    await cluster.connect();
    await Promise.all(KEYS.map((key) => cluster.set(key, "v")));
    const victim = byRole(dev(), "replica")[0]!;
    const errors: unknown[] = [];
    let reads = 0;
    let stop = false;
    const reader = async () => {
      for (let i = 0; !stop && i < 100_000; i++) {
        try {
          expect(await cluster.get(KEYS[i % KEYS.length]!)).toBe("v");
          reads++;
        } catch (error) {
          errors.push(error);
        }
      }
    };
    const readers = Array.from({ length: 32 }, reader);
    await waitFor("reads under way", 5_000, async () => reads > 2_000);
    await dev().killNode(victim.port);
    const readsAtKill = reads;
    await waitFor("reads after the kill", 10_000, async () => reads > readsAtKill + 5_000);
    stop = true;
    await Promise.all(readers);
    expect(errors).toEqual([]);
    await dev().restartNode(victim.port);
    await dev().waitForHealthy();
  });

  it("a replica whose link to its primary is down gets no reads", async () => {
    const replica = byRole(dev(), "replica")[1]!;
    const primary = dev().nodes.find((node) => node.id === replica.primaryId)!;
    // Keep the rest of the cluster serving and this replica from taking over: its link just stays down.
    const restorers: Array<() => Promise<void>> = [];
    try {
      restorers.push(await setConfig(dev(), dev().nodes, "cluster-require-full-coverage", "no"));
      restorers.push(await setConfig(dev(), [replica], "cluster-replica-no-failover", "yes"));
      const cluster = client({ readFrom: "replica", refreshInterval: 200, commandTimeout: 300 });
      await cluster.connect();
      await Promise.all(KEYS.map((key) => cluster.set(key, "v")));
      await dev().killNode(primary.port);
      await waitFor("the replica to see its link down", 10_000, async () =>
        /master_link_status:down/.test(String(await dev().command(replica.port, "INFO", "replication"))),
      );
      // The client checks replication links after each periodic refresh: wait for a refresh
      // that started after the link went down to complete, and its check with it.
      const refreshesBefore = cluster.stats().refreshes;
      await waitFor(
        "three periodic refreshes",
        5_000,
        () => cluster.stats().refreshes >= refreshesBefore + 3,
      );
      await resetStats(dev());
      const outcomes = await Promise.allSettled(KEYS.map((key) => cluster.get(key)));
      const gets = await calls(dev(), "get");
      expect(gets.get(replica.port)).toBe(0);
      // Reads of the other shards went on; those of the dead primary's shard failed, typed.
      const failures = outcomes.filter((outcome) => outcome.status === "rejected");
      expect(failures.length).toBeGreaterThan(0);
      expect(failures.length).toBeLessThan(KEYS.length);
      for (const failure of failures) {
        expect((failure as PromiseRejectedResult).reason).toBeInstanceOf(RedisClusterError);
      }
    } finally {
      if (dev().nodes.find((node) => node.port === primary.port)?.pid === undefined)
        await dev().restartNode(primary.port);
      for (const restore of restorers.reverse()) await restore();
      await dev().waitForHealthy();
    }
  });
});

describe("replica discovery", () => {
  it("a replica added to the running cluster gets reads within a refresh interval", async () => {
    const cluster = client({ readFrom: "replica", refreshInterval: 300 });
    await cluster.connect();
    await Promise.all(KEYS.map((key) => cluster.set(key, "v")));
    const primary = byRole(dev(), "primary")[0]!;
    const added = await dev().addNode({ replicaOf: primary.port });
    await waitFor("the client to know the new replica", 5_000, async () =>
      cluster.nodes("replica").some((node) => node.address === added.address),
    );
    // One more refresh for its health check to pass, then it shares the reads.
    const refreshesBefore = cluster.stats().refreshes;
    await waitFor("a periodic refresh", 5_000, async () => cluster.stats().refreshes > refreshesBefore);
    await resetStats(dev());
    await Promise.all(Array.from({ length: 3_000 }, (_, i) => cluster.get(KEYS[i % KEYS.length]!)));
    const gets = await calls(dev(), "get");
    expect(gets.get(added.port)).toBeGreaterThan(0);

    // Removed again: it stops getting reads and the client forgets it.
    await dev().removeNode(added.port);
    await waitFor("the client to forget the replica", 5_000, async () =>
      cluster.nodes("replica").every((node) => node.address !== added.address),
    );
    const values = await Promise.all(
      Array.from({ length: 1_000 }, (_, i) => cluster.get(KEYS[i % KEYS.length]!)),
    );
    expect(values.every((value) => value === "v")).toBe(true);
  });
});
