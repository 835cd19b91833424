/**
 * Slots moving under the client, on a cluster of this file's own: a slot left
 * half-migrated (ASK), a wave of commands on slots that just moved (refresh storm), and
 * live resharding of hundreds of slots with their keys under a bounded load loop.
 */
import { describe, expect, it } from "vitest";
import type { DevCluster, DevNode } from "../../src/dev/index.js";
import { delay, pollUntil } from "../../src/dev/poll.js";
import type { RedisCluster, TopologyChange } from "../../src/index.js";
import { describeError, isLeakedClusterReply, isTypedError, useClients } from "../helpers/client.js";
import { withDevCluster } from "../helpers/cluster.js";
import { keyInSlot, slotsOfRanges } from "../helpers/keys.js";
import { LoadLoop } from "../helpers/load.js";
import { finishMigrationsAfterEach } from "../helpers/restore.js";

const cluster = withDevCluster({ primaries: 3, replicasPerPrimary: 1 });
const clients = useClients();
// A test that fails half-way does not leave its slot half-migrated for the next ones.
const migrations = finishMigrationsAfterEach();

async function primaries(dev: DevCluster): Promise<DevNode[]> {
  const nodes = await dev.refresh();
  return nodes.filter((node) => node.role === "primary").sort((a, b) => a.port - b.port);
}

/** Total calls of `command` (as INFO commandstats names it, e.g. `cluster|shards`) on every node. */
async function commandCalls(dev: DevCluster, command: string): Promise<number> {
  let total = 0;
  for (const node of dev.nodes) {
    const info = String(await dev.command(node.port, "INFO", "commandstats"));
    const match = new RegExp(`cmdstat_${command.replace("|", "\\|")}:calls=(\\d+)`).exec(info);
    total += match ? Number(match[1]) : 0;
  }
  return total;
}

/** Reads every key back in chunks and returns those whose value differs from `expected`. */
async function mismatches(client: RedisCluster, expected: Map<string, string>): Promise<string[]> {
  const keys = [...expected.keys()];
  const wrong: string[] = [];
  for (let at = 0; at < keys.length; at += 500) {
    const chunk = keys.slice(at, at + 500);
    const values = await client.mget(...chunk);
    chunk.forEach((key, i) => {
      if (values[i] !== expected.get(key)) wrong.push(`${key}: ${String(values[i])} != ${expected.get(key)}`);
    });
  }
  return wrong;
}

describe("a slot left half-migrated (ASK)", () => {
  it("serves every key of the slot, moved or not, for reads and writes, without touching the table", async () => {
    const dev = cluster();
    const [source, target] = await primaries(dev);
    const slot = source!.slots[0]![0] + 100;
    const keys = Array.from({ length: 20 }, (_, i) => keyInSlot(slot, `ask-${i}`));
    for (const [i, key] of keys.entries()) await dev.command(source!.port, "SET", key, `old-${i}`);

    const client = clients.create({ nodes: dev.seeds, refreshInterval: 0 });
    await client.connect();
    const migration = await migrations.begin(dev, source!.port, target!.port, slot, 10);
    expect(await dev.command(source!.port, "CLUSTER", "COUNTKEYSINSLOT", slot)).toBe(10);
    expect(await dev.command(target!.port, "CLUSTER", "COUNTKEYSINSLOT", slot)).toBe(10);
    const movedKeys = (await dev.command(target!.port, "CLUSTER", "GETKEYSINSLOT", slot, 100)) as string[];
    expect(movedKeys).toHaveLength(10);

    // Reads of keys on either side.
    expect(await Promise.all(keys.map((key) => client.get(key)))).toEqual(keys.map((_, i) => `old-${i}`));
    expect(client.stats().ask).toBeGreaterThan(0);
    // Writes of keys on either side, and of keys new to the slot (created on the target).
    const newKeys = Array.from({ length: 5 }, (_, i) => keyInSlot(slot, `ask-new-${i}`));
    await Promise.all(keys.map((key, i) => client.set(key, `new-${i}`)));
    await Promise.all(newKeys.map((key, i) => client.set(key, `fresh-${i}`)));
    expect(await Promise.all(keys.map((key) => client.get(key)))).toEqual(keys.map((_, i) => `new-${i}`));
    expect(await Promise.all(newKeys.map((key) => client.get(key)))).toEqual(
      newKeys.map((_, i) => `fresh-${i}`),
    );
    // The new keys were created on the target, the old ones stayed where they were.
    expect(await dev.command(target!.port, "CLUSTER", "COUNTKEYSINSLOT", slot)).toBe(10 + newKeys.length);
    expect(await dev.command(source!.port, "CLUSTER", "COUNTKEYSINSLOT", slot)).toBe(10);
    // A multi-key command whose keys all moved goes to the target with ASKING too.
    expect(await client.mget(...movedKeys)).toHaveLength(10);
    expect(await client.exists(...movedKeys)).toBe(10);
    // ASK never changes the slot table: the slot still routes to the source.
    expect(client.topology!.shardOf(slot)!.primary.address).toBe(source!.address);
    expect(client.stats().moved).toBe(0);

    await migration.finish();
    expect(await Promise.all(keys.map((key) => client.get(key)))).toEqual(keys.map((_, i) => `new-${i}`));
    expect(await Promise.all(newKeys.map((key) => client.get(key)))).toEqual(
      newKeys.map((_, i) => `fresh-${i}`),
    );
    expect(client.stats().moved).toBeGreaterThan(0);
    expect(client.topology!.shardOf(slot)!.primary.address).toBe(target!.address);
    expect(await client.del(...[...keys, ...newKeys])).toBe(keys.length + newKeys.length);
  });
});

describe("a multi-key command on a half-migrated slot", () => {
  it("is retried on TRYAGAIN and succeeds once the migration finishes inside its deadline", async () => {
    const dev = cluster();
    const [source, target] = await primaries(dev);
    const slot = source!.slots[0]![0] + 200;
    const keys = Array.from({ length: 10 }, (_, i) => keyInSlot(slot, `tryagain-${i}`));
    const client = clients.create({ nodes: dev.seeds, commandTimeout: 5000 });
    await client.mset(...keys.flatMap((key) => [key, key]));
    const migration = await migrations.begin(dev, source!.port, target!.port, slot, 5);
    const retriesBefore = client.stats().retries;

    // Keys on both sides: the source answers TRYAGAIN until the slot has moved whole.
    const reading = client.mget(...keys);
    const counting = client.exists(...keys);
    await migration.finish();
    expect(await reading).toEqual(keys);
    expect(await counting).toBe(keys.length);
    expect(client.stats().retries).toBeGreaterThan(retriesBefore);
    expect(await client.del(...keys)).toBe(keys.length);
  });
  it("fails with a typed error, not a raw TRYAGAIN, when the migration outlasts its deadline", async () => {
    const dev = cluster();
    const [source, target] = await primaries(dev);
    const slot = source!.slots[0]![0] + 300;
    const keys = Array.from({ length: 6 }, (_, i) => keyInSlot(slot, `stuck-${i}`));
    const client = clients.create({ nodes: dev.seeds, commandTimeout: 500 });
    await client.mset(...keys.flatMap((key) => [key, key]));
    await dev.beginSlotMigration(source!.port, target!.port, slot, 3);
    try {
      const startedAt = performance.now();
      const error = await client.mget(...keys).catch((e: unknown) => e);
      expect(performance.now() - startedAt).toBeLessThan(500 + 300);
      expect(isTypedError(error) && !isLeakedClusterReply(error), describeError(error)).toBe(true);
    } finally {
      await dev.finishMigration(source!.port, target!.port, slot);
    }
    expect(await client.mget(...keys)).toEqual(keys);
    await client.del(...keys);
  });
  // A command retrying TRYAGAIN holds its slot: it is resent alone until the slot answers,
  // and the slot's later commands go only after it (was D-5/D-7). Commands already on the
  // wire when the first TRYAGAIN comes back have run by then: no client can keep those
  // behind it, so the RPUSH is issued only once the DEL is known to be waiting for its retry.
  it("keeps a later command on the slot behind a command retrying TRYAGAIN", async () => {
    const dev = cluster();
    const [source, target] = await primaries(dev);
    const slot = source!.slots[0]![0] + 400;
    const list = keyInSlot(slot, "order-list");
    const moved = keyInSlot(slot, "order-moved");
    const client = clients.create({ nodes: dev.seeds, commandTimeout: 5000 });
    await client.rpush(list, "old");
    await client.set(moved, "x");
    const migration = await migrations.begin(dev, source!.port, target!.port, slot, 0);
    await dev.command(source!.port, "MIGRATE", "127.0.0.1", target!.port, "", 0, 5000, "KEYS", moved);

    // In this order: the DEL spans both sides of the migration, the RPUSH only the source.
    const retriesBefore = client.stats().retries;
    const deleted = client.del(list, moved);
    await pollUntil("the DEL to get TRYAGAIN", 2000, async () =>
      client.stats().retries > retriesBefore ? undefined : "no retry yet",
    );
    const pushed = client.rpush(list, "new");
    // The DEL is resent (and refused again) at least once more while the RPUSH waits.
    const retriesWithPush = client.stats().retries;
    await pollUntil("the DEL to be retried again", 2000, async () =>
      client.stats().retries > retriesWithPush + 1 ? undefined : "not retried again yet",
    );
    await migration.finish();
    const pushedLength = await pushed;
    expect({ deleted: await deleted, pushedLength, list: await client.lrange(list, 0, -1) }).toEqual({
      deleted: 2,
      pushedLength: 1,
      list: ["new"],
    });
    await client.del(list);
  });
});

describe("refresh storm", () => {
  it("2,000 commands on slots that just moved cost the servers one refresh (≤ 3 topology calls)", async () => {
    const dev = cluster();
    const [, from, to] = await primaries(dev);
    const slots = slotsOfRanges(from!.slots).slice(0, 200);
    const keys = Array.from({ length: 2000 }, (_, i) => keyInSlot(slots[i % slots.length]!, `storm-${i}`));
    // The periodic refresh is off so that only the wave can cause a refresh.
    const client = clients.create({ nodes: dev.seeds, refreshInterval: 0 });
    await client.mset(...keys.flatMap((key) => [key, key]));
    expect(await client.get(keys[0]!)).toBe(keys[0]);

    await dev.migrateSlots(from!.port, to!.port, slots);
    await Promise.all(dev.nodes.map((node) => dev.command(node.port, "CONFIG", "RESETSTAT")));
    const refreshesBefore = client.stats().refreshes;

    const values = await Promise.all(keys.map((key) => client.get(key)));
    expect(values).toEqual(keys);
    expect(client.stats().moved).toBeGreaterThan(0);
    // A refresh deferred by the minimum interval (at most 1 s) would run after the wave;
    // there is no event for "nothing more will happen", so wait that interval out.
    await delay(1200);

    const shardsCalls = await commandCalls(dev, "cluster|shards");
    const slotsCalls = await commandCalls(dev, "cluster|slots");
    const observed = {
      topologyCalls: shardsCalls + slotsCalls,
      refreshes: client.stats().refreshes - refreshesBefore,
    };
    // The MOVED wave triggers a refresh (at least one call), and only one (k ≤ 3 nodes asked).
    expect(observed.topologyCalls, JSON.stringify(observed)).toBeGreaterThanOrEqual(1);
    expect(observed.topologyCalls, JSON.stringify(observed)).toBeLessThanOrEqual(3);
    expect(observed.refreshes, JSON.stringify(observed)).toBe(1);
    expect(client.topology!.shardOf(slots[0]!)!.primary.address).toBe(to!.address);
    await client.del(...keys);
  });
});

describe("live resharding under load", () => {
  it("moves 800 slots with their keys (3 moves) while 200 commands are in flight: no error, no lost write", async () => {
    const dev = cluster();
    const [a, b, c] = await primaries(dev);
    const firstMove = slotsOfRanges(a!.slots).slice(0, 300);
    const secondMove = slotsOfRanges(c!.slots).slice(-200);
    const moving = [...firstMove, ...secondMove];

    const client = clients.create({ nodes: dev.seeds });
    await client.connect();
    // Keys already in the moving slots, so that MIGRATE has real work under the load.
    const prefilled = new Map<string, string>();
    for (let i = 0; i < 5000; i++) prefilled.set(keyInSlot(moving[i % moving.length]!, `pre-${i}`), `p${i}`);
    await client.mset(prefilled);

    const load = new LoadLoop(client, {
      concurrency: 200,
      maxCommands: 400_000,
      // Four writes in five go to the moving slots, the rest anywhere.
      keyFor: (i) =>
        i % 5 === 4 ? `reshard-any-${i}` : keyInSlot(moving[(i * 7919) % moving.length]!, `reshard-${i}`),
      verifyReads: true,
    });
    load.start();
    await load.settledMore(2000);
    await dev.migrateSlots(a!.port, b!.port, firstMove);
    await dev.migrateSlots(c!.port, a!.port, secondMove);
    await load.settledMore(2000);
    // And back again: slots return to a shard the client already knows.
    await dev.migrateSlots(b!.port, a!.port, firstMove);
    await load.settledMore(2000);
    const unsettled = await load.finish(10_000);

    expect(unsettled).toEqual([]);
    expect(
      load.failures.map((outcome) => `${outcome.kind} ${outcome.key}: ${describeError(outcome.error)}`),
    ).toEqual([]);
    expect(load.staleReads).toEqual([]);
    expect(load.issued).toBeGreaterThan(5000);
    const stats = client.stats();
    expect(stats.moved + stats.ask).toBeGreaterThan(0);

    // Every acknowledged write, and every key that was there before, is readable.
    expect(await mismatches(client, load.acked)).toEqual([]);
    expect(await mismatches(client, prefilled)).toEqual([]);
    // And the slots really moved.
    const after = await primaries(dev);
    const owner = (slot: number) =>
      after.find((node) => node.slots.some(([start, end]) => slot >= start && slot <= end))?.port;
    expect(new Set(firstMove.map(owner))).toEqual(new Set([a!.port]));
    expect(new Set(secondMove.map(owner))).toEqual(new Set([a!.port]));
  });
});

describe("scale-out and scale-in", () => {
  it("follows a new primary, and keeps working once its only seed has left the cluster", async () => {
    const dev = cluster();
    const seed = (await dev.refresh()).find((node) => node.role === "replica")!;
    const client = clients.create({ nodes: [seed.address], refreshInterval: 300 });
    const changes: TopologyChange[] = [];
    client.on("topology", (change: TopologyChange) => changes.push(change));
    await client.connect();

    // Scale-out: a new, empty primary takes 100 slots with their keys.
    const added = await dev.addNode();
    const [donor] = await primaries(dev);
    const slots = slotsOfRanges(donor!.slots).slice(0, 100);
    const keys = slots.map((slot) => keyInSlot(slot, "scale"));
    await client.mset(...keys.flatMap((key) => [key, key]));
    await dev.migrateSlots(donor!.port, added.port, slots);
    expect(await client.mget(...keys)).toEqual(keys);
    await pollUntil("the client to see the new primary", 5000, async () =>
      changes.some((change) => change.nodesAdded.includes(added.address))
        ? undefined
        : "no topology event yet",
    );
    expect(client.topology!.shardOf(slots[0]!)!.primary.address).toBe(added.address);

    // Scale-in: the client's only seed leaves; refreshes ask the nodes it knows instead.
    await dev.removeNode(seed.port);
    await pollUntil("the client to drop the removed node", 5000, async () =>
      client.topology!.nodes.has(seed.address) ? "still listed" : undefined,
    );
    expect(changes.some((change) => change.nodesRemoved.includes(seed.address))).toBe(true);
    // A later move is still followed (MOVED, then a refresh that cannot use the seed).
    const refreshesBefore = client.stats().refreshes;
    await dev.migrateSlots(added.port, donor!.port, slots);
    expect(await client.mget(...keys)).toEqual(keys);
    await pollUntil("a refresh after the move", 5000, async () =>
      client.stats().refreshes > refreshesBefore &&
      client.topology!.shardOf(slots[0]!)!.primary.address === donor!.address
        ? undefined
        : "not refreshed yet",
    );
    expect(await client.del(...keys)).toBe(keys.length);
    // A node added, 200 slots moved, a node removed: on a loaded machine the dev cluster's own
    // steps alone may take most of the default 30 s.
  }, 90_000);
});
