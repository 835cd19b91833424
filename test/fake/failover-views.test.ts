/**
 * CLUSTER SHARDS around a failover on Redis 7.2+ (issue 9 item 12): a shard lists its old
 * primary next to the new one, both `master` — for a moment both healthy, then the failed old
 * one with the shard's slots reported empty, for as long as it stays down. The client must not
 * route by such a view (it would find the slots unserved, or send them to the dead node): it
 * reads that node's CLUSTER SLOTS instead.
 */
import { afterEach, describe, expect, it } from "vitest";
import { RedisCluster } from "../../src/index.js";
import {
  closeAllFakes,
  clusterShardsReply,
  clusterSlotsReply,
  FakeCluster,
  type FakeNodeInfo,
  type FakeServer,
} from "./resp-server.js";

const clients: RedisCluster[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.disconnect();
  await closeAllFakes();
});

describe("a shard that lists two primaries", () => {
  for (const moment of ["during a graceful failover", "after a primary died"] as const) {
    it(`${moment}: the slots are routed by CLUSTER SLOTS, to the new primary`, async () => {
      const cluster = await FakeCluster.start(3);
      const [a, b, promoted] = cluster.nodes as [FakeServer, FakeServer, FakeServer];
      // Slots 0-5460 now belong to `promoted`; their shard still lists the old primary (port 1,
      // nothing listens there) next to it.
      const old: FakeNodeInfo = {
        id: "dead".padStart(40, "0"),
        port: 1,
        endpoint: "127.0.0.1",
        ip: "127.0.0.1",
        role: "master",
        health: moment === "after a primary died" ? "failed" : "online",
      };
      const aInfo = cluster.info.get(a)!;
      const bInfo = cluster.info.get(b)!;
      const newInfo = cluster.info.get(promoted)!;
      cluster.assign(0, 5460, 2); // the truth, as CLUSTER SLOTS tells it
      cluster.assign(5461, 10922, 0);
      cluster.assign(10923, 16383, 1);
      const shards = clusterShardsReply([
        { ranges: [[5461, 10922]], nodes: [aInfo] },
        { ranges: [[10923, 16383]], nodes: [bInfo] },
        // Redis 7.2 reports this shard's slots empty once the old primary has failed.
        { ranges: moment === "after a primary died" ? [] : [[0, 5460]], nodes: [old, newInfo] },
      ]);
      for (const node of cluster.nodes) {
        node.handle("CLUSTER SHARDS", shards);
        node.handle("CLUSTER SLOTS", clusterSlotsReply(cluster.shards()));
      }
      const redis = new RedisCluster({ nodes: cluster.seeds, refreshInterval: 0 });
      clients.push(redis);
      await redis.connect();
      expect(redis.topology!.coveredSlots).toBe(16384);
      expect(redis.topology!.shardOf(0)!.primary.port).toBe(promoted.port);
      expect(cluster.count("CLUSTER SLOTS")).toBeGreaterThanOrEqual(1);
    });
  }
});
