/**
 * Client-side caching while slots change hands, on a cluster of this file's own: a reshard
 * and a failover drop the cached replies of the slots that moved, and another client's
 * writes on the new owner are seen. The hard case is a key that did not exist when it was
 * read (its cached reply is a null): moving its slot moves no key, so the old owner sends
 * no invalidation, and the new owner never heard of our read — only the client's own
 * knowledge of the move (a new topology) can drop that reply.
 */
import { describe, expect, it } from "vitest";
import type { DevCluster, DevNode } from "../../src/dev/index.js";
import type { RedisCluster } from "../../src/index.js";
import { useClients } from "../helpers/client.js";
import { withDevCluster } from "../helpers/cluster.js";
import { keyInSlot } from "../helpers/keys.js";
import { finishMigrationsAfterEach } from "../helpers/restore.js";
import { waitFor } from "../helpers/wait.js";

const cluster = withDevCluster({ primaries: 3, replicasPerPrimary: 1 });
const clients = useClients();
finishMigrationsAfterEach();

async function primaries(dev: DevCluster): Promise<DevNode[]> {
  const nodes = await dev.refresh();
  return nodes.filter((node) => node.role === "primary").sort((a, b) => a.port - b.port);
}

function cacheStats(client: RedisCluster<3>) {
  const stats = client.stats().cache;
  if (stats === undefined) throw new Error("no cache stats");
  return stats;
}

/** A cached client that refreshes its topology often (the move is learned from a refresh). */
function reader(dev: DevCluster): RedisCluster<3> {
  return clients.create<3>({
    nodes: dev.seeds,
    protocol: 3,
    refreshInterval: 300,
    clientCache: { maxEntries: 1000 },
  });
}

describe("client-side caching through slot moves", () => {
  it("a reshard drops the moved slot's replies: another client's writes on the new owner are seen", async () => {
    const dev = cluster();
    const [source, target] = await primaries(dev);
    const slot = source!.slots[0]![0] + 7;
    const existing = keyInSlot(slot, "cache-moves-existing");
    const missing = keyInSlot(slot, "cache-moves-missing");
    const writer = clients.create({ nodes: dev.seeds });
    await writer.set(existing, "before");
    const cached = reader(dev);
    expect(await cached.get(existing)).toBe("before");
    expect(await cached.get(missing)).toBeNull();
    expect(await cached.get(missing)).toBeNull();
    expect(cacheStats(cached)).toMatchObject({ entries: 2, hits: 1 });
    const topologyChanged = new Promise<void>((resolve) => cached.once("topology", () => resolve()));

    await dev.migrateSlots(source!.port, target!.port, [slot]);
    await topologyChanged;
    // Learned from the new topology: both replies of the slot are gone.
    expect(cacheStats(cached).entries).toBe(0);

    await writer.set(missing, "created on the new owner");
    await writer.set(existing, "after");
    await waitFor("the reader to see both writes", 10_000, async () => {
      const [a, b] = [await cached.get(existing), await cached.get(missing)];
      return a === "after" && b === "created on the new owner";
    });
    // And the new owner tracks them: a further write is pushed and seen.
    await writer.set(missing, "again");
    await waitFor(
      "the new owner's invalidation",
      10_000,
      async () => (await cached.get(missing)) === "again",
    );
    await writer.del(existing, missing);
  });

  it("a failover drops the shard's replies; writes on the promoted replica are seen", async () => {
    const dev = cluster();
    const [primary] = await primaries(dev);
    const replica = dev.nodes.find((node) => node.role === "replica" && node.primaryId === primary!.id);
    expect(replica).toBeDefined();
    const slot = primary!.slots[0]![0] + 11;
    const existing = keyInSlot(slot, "cache-failover-existing");
    const missing = keyInSlot(slot, "cache-failover-missing");
    const writer = clients.create({ nodes: dev.seeds });
    await writer.set(existing, "before");
    const cached = reader(dev);
    expect(await cached.get(existing)).toBe("before");
    expect(await cached.get(missing)).toBeNull();
    expect(cacheStats(cached).entries).toBe(2);
    const topologyChanged = new Promise<void>((resolve) => cached.once("topology", () => resolve()));
    try {
      await dev.failover(replica!.port);
      await topologyChanged;
      expect(cacheStats(cached).entries).toBe(0);
      await writer.set(existing, "after");
      await writer.set(missing, "created after the failover");
      await waitFor("the reader to see both writes", 10_000, async () => {
        const [a, b] = [await cached.get(existing), await cached.get(missing)];
        return a === "after" && b === "created after the failover";
      });
    } finally {
      // Leave the roles as found.
      await dev.failover(primary!.port);
    }
    await writer.del(existing, missing);
  });
});
