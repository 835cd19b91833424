/**
 * Cluster-wide SCAN on a cluster of this file's own, holding exactly 100,000 keys: every key
 * yielded at least once and nothing else — with the cluster still, with 1,000 slots moving
 * between primaries during the scan, with a primary killed during its walk (the walk starts
 * over on the promoted replica: a cursor means nothing to another process). Also MATCH,
 * TYPE, keyPrefix, replica reads, the batch form, and key scans (HSCAN/SSCAN/ZSCAN), one
 * with its key's slot moving mid-walk.
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { keySlot } from "../../src/command/slot.js";
import type { DevCluster, DevNode } from "../../src/dev/index.js";
import { delay } from "../../src/dev/poll.js";
import type { RedisCluster } from "../../src/index.js";
import { useClients } from "../helpers/client.js";
import { withDevCluster } from "../helpers/cluster.js";
import { slotsOfRanges } from "../helpers/keys.js";

const KEY_COUNT = 100_000;
const cluster = withDevCluster({ primaries: 3, replicasPerPrimary: 1 });
const clients = useClients();

/** What a test broke: repaired after it, whatever happened. */
const undo: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const step of undo.splice(0).reverse()) await step();
});

const keyName = (i: number) => `scan:${i}`;

beforeAll(async () => {
  const dev = cluster();
  const loader = clients.create({ nodes: dev.seeds });
  try {
    for (let start = 0; start < KEY_COUNT; start += 10_000) {
      const pipeline = loader.pipeline();
      for (let i = start; i < start + 10_000; i++) pipeline.set(keyName(i), "v");
      const replies = await pipeline.exec();
      expect(replies.every((reply) => reply === "OK")).toBe(true);
    }
    expect(await loader.dbsize()).toBe(KEY_COUNT);
  } finally {
    await loader.close();
  }
}, 60_000);

async function primaries(dev: DevCluster): Promise<DevNode[]> {
  return (await dev.refresh()).filter((node) => node.role === "primary").sort((a, b) => a.port - b.port);
}

/** How often each key was yielded; throws on a key that is not one of ours. */
function tally(seen: Map<string, number>, key: string): void {
  if (!/^scan:\d+$/.test(key) || Number(key.slice(5)) >= KEY_COUNT) throw new Error(`unexpected key ${key}`);
  seen.set(key, (seen.get(key) ?? 0) + 1);
}

function missing(seen: Map<string, number>): string[] {
  const absent: string[] = [];
  for (let i = 0; i < KEY_COUNT; i++) if (!seen.has(keyName(i))) absent.push(keyName(i));
  return absent;
}

async function scanAll(
  client: RedisCluster,
  onBatch?: (batches: number) => Promise<void>,
): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  let batches = 0;
  for await (const batch of client.scanBatches({ count: 500 })) {
    for (const key of batch) tally(seen, key);
    await onBatch?.(++batches);
  }
  return seen;
}

describe("scanIterator() over 100,000 keys", () => {
  it("yields each key at least once and nothing else; the batch form gives the same keys", async () => {
    const dev = cluster();
    const client = clients.create({ nodes: dev.seeds });
    const seen = new Map<string, number>();
    for await (const key of client.scanIterator({ count: 1000 })) tally(seen, key);
    expect(missing(seen)).toEqual([]);
    // A still cluster is walked once: no key twice.
    expect(seen.size).toBe(KEY_COUNT);
    expect([...seen.values()].every((count) => count === 1)).toBe(true);
    const batched: string[] = [];
    for await (const batch of client.scanBatches({ match: "scan:1*", count: 1000 })) batched.push(...batch);
    expect(batched.sort()).toEqual([...seen.keys()].filter((key) => key.startsWith("scan:1")).sort());
  });

  it("MATCH, TYPE and keyPrefix narrow it; a prefixed client yields keys without its prefix", async () => {
    const dev = cluster();
    const client = clients.create({ nodes: dev.seeds });
    const matched: string[] = [];
    for await (const key of client.scanIterator({ match: "scan:1234*", count: 1000 })) matched.push(key);
    expect(matched.sort()).toEqual(
      ["scan:1234", ...Array.from({ length: 10 }, (_, i) => `scan:1234${i}`)].sort(),
    );
    await client.hset("scan-typed:{h}", "f", "v");
    undo.push(async () => void (await client.del("scan-typed:{h}")));
    const hashes: string[] = [];
    for await (const key of client.scanIterator({ type: "hash", count: 1000 })) hashes.push(key);
    expect(hashes).toEqual(["scan-typed:{h}"]);
    const prefixed = clients.create({ nodes: dev.seeds, keyPrefix: "scan:9999" });
    const relative: string[] = [];
    for await (const key of prefixed.scanIterator({ count: 1000 })) relative.push(key);
    expect(relative.sort()).toEqual(["", ...Array.from({ length: 10 }, (_, i) => `${i}`)].sort());
    const buffers: Buffer[] = [];
    for await (const key of client.scanBufferIterator({ match: "scan:4242*", count: 1000 }))
      buffers.push(key);
    expect(buffers.every(Buffer.isBuffer)).toBe(true);
    expect(buffers.map(String).sort()).toEqual(
      ["scan:4242", ...Array.from({ length: 10 }, (_, i) => `scan:4242${i}`)].sort(),
    );
  });

  it("with readFrom replicas, the walks run on replicas and still see every key", async () => {
    const dev = cluster();
    const client = clients.create({ nodes: dev.seeds, readFrom: "replica" });
    await client.connect();
    const nodes = await dev.refresh();
    const scans = async (node: DevNode) => {
      const info = String(await dev.command(node.port, "INFO", "commandstats"));
      return Number(/cmdstat_scan:calls=(\d+)/.exec(info)?.[1] ?? 0);
    };
    const before = await Promise.all(nodes.map(scans));
    const seen = new Map<string, number>();
    for await (const key of client.scanIterator({ count: 1000 })) tally(seen, key);
    expect(missing(seen)).toEqual([]);
    const after = await Promise.all(nodes.map(scans));
    nodes.forEach((node, i) => {
      if (node.role === "primary") expect(after[i], `SCANs on primary ${node.port}`).toBe(before[i]);
      else expect(after[i]!, `SCANs on replica ${node.port}`).toBeGreaterThan(before[i]!);
    });
  });

  it("with 1,000 slots moving between primaries during the scan: still every key, at least once", async () => {
    const dev = cluster();
    const client = clients.create({ nodes: dev.seeds });
    await client.connect();
    // Keys move from the shard walked last to the one walked first: without walking again
    // the nodes that received keys, the moved keys would be missed (left before their old
    // node's walk, arrived behind their new node's cursor, or after its walk).
    const order = client.topology!.shards.map((shard) => shard.primary.port);
    const nodes = await primaries(dev);
    const source = nodes.find((node) => node.port === order[order.length - 1]);
    const target = nodes.find((node) => node.port === order[0]);
    const slots = slotsOfRanges(source!.slots).slice(0, 1000);
    let migration: Promise<void> | undefined;
    let migrationDone = false;
    const seen = await scanAll(client, async (batches) => {
      // The reshard starts once the walk is under way and runs alongside it: a slow
      // consumer (1 ms per batch of ~500 keys) keeps the scan going for a while.
      if (batches === 5) {
        migration = dev.migrateSlots(source!.port, target!.port, slots).then(() => {
          migrationDone = true;
        });
        undo.push(() => dev.migrateSlots(target!.port, source!.port, slots));
      }
      await delay(1);
    });
    await migration;
    expect(migrationDone).toBe(true);
    const targetNow = (await primaries(dev)).find((node) => node.port === target!.port)!;
    expect(slotsOfRanges(targetNow.slots).length).toBe(slotsOfRanges(target!.slots).length + 1000);
    expect(missing(seen)).toEqual([]);
    expect(seen.size).toBe(KEY_COUNT);
  });

  it("with the primary being walked killed mid-walk: the walk starts over on its promoted replica, every key seen", async () => {
    const dev = cluster();
    const client = clients.create({ nodes: dev.seeds, commandTimeout: 1500 });
    await client.connect();
    // The first shard walked is the topology's first; kill its primary after a few batches.
    const victim = client.topology!.shards[0]!.primary;
    const seen = await scanAll(client, async (batches) => {
      if (batches === 3) {
        await dev.killNode(victim.port);
        undo.push(async () => {
          await dev.restartNode(victim.port);
          await dev.waitForHealthy();
        });
      }
    });
    expect(missing(seen)).toEqual([]);
    const repeated = [...seen.values()].filter((count) => count > 1).length;
    // The keys of the first batches of the killed node's walk were seen again after the restart.
    expect(repeated).toBeGreaterThan(0);
    const nodes = await dev.refresh();
    expect(nodes.find((node) => node.port === victim.port)?.pid).toBeUndefined();
  });
});

describe("why a walk starts over on another node", () => {
  it("a primary and its replica hold the same keys in a different order: a cursor of one means nothing to the other", async () => {
    const dev = cluster();
    const nodes = await dev.refresh();
    const replica = nodes.find((node) => node.role === "replica" && node.pid !== undefined)!;
    const primary = nodes.find((node) => node.id === replica.primaryId)!;
    expect(await dev.command(replica.port, "DBSIZE")).toBe(await dev.command(primary.port, "DBSIZE"));
    // Each process seeds its hash function at random: the same keys, other buckets.
    const [, onPrimary] = (await dev.command(primary.port, "SCAN", 0, "COUNT", 50)) as [string, string[]];
    const [, onReplica] = (await dev.command(replica.port, "SCAN", 0, "COUNT", 50)) as [string, string[]];
    expect(onReplica).not.toEqual(onPrimary);
  });
});

describe("key scans", () => {
  it("hscanIterator, sscanIterator, zscanIterator: every field, member and score, once on a still key", async () => {
    const dev = cluster();
    const client = clients.create({ nodes: dev.seeds });
    const hash = "scan-h:{k}";
    const set = "scan-s:{k}";
    const zset = "scan-z:{k}";
    undo.push(async () => void (await client.del(hash, set, zset)));
    const pipeline = client.pipeline();
    for (let i = 0; i < 1000; i++)
      pipeline.hset(hash, `f${i}`, `v${i}`).sadd(set, `m${i}`).zadd(zset, i, `z${i}`);
    await pipeline.exec();
    const fields = new Map<string, string>();
    for await (const [field, value] of client.hscanIterator(hash, { count: 50 })) fields.set(field, value);
    expect(fields.size).toBe(1000);
    expect(fields.get("f7")).toBe("v7");
    const members = new Set<string>();
    for await (const member of client.sscanIterator(set, { count: 50 })) members.add(member);
    expect(members.size).toBe(1000);
    const scores = new Map<string, string>();
    for await (const [member, score] of client.zscanIterator(zset, { count: 50 })) scores.set(member, score);
    expect(scores.size).toBe(1000);
    expect(scores.get("z42")).toBe("42");
    const matched: string[] = [];
    for await (const [field] of client.hscanIterator(hash, { match: "f99*" })) matched.push(field);
    expect(matched.sort()).toEqual(["f99", ...Array.from({ length: 10 }, (_, i) => `f99${i}`)].sort());
  });

  it("an HSCAN whose key moves to another node mid-walk starts over there: every field at least once", async () => {
    const dev = cluster();
    const [source, target] = await primaries(dev);
    const slot = source!.slots[0]![0] + 3;
    let tagged = "";
    for (let i = 0; tagged === ""; i++) if (keySlot(`scan-move:${i}`) === slot) tagged = `scan-move:${i}`;
    const client = clients.create({ nodes: dev.seeds });
    const pipeline = client.pipeline();
    for (let i = 0; i < 2000; i++) pipeline.hset(tagged, `f${i}`, "v");
    await pipeline.exec();
    undo.push(async () => void (await client.del(tagged)));
    const fields = new Map<string, number>();
    let steps = 0;
    for await (const [field] of client.hscanIterator(tagged, { count: 20 })) {
      fields.set(field, (fields.get(field) ?? 0) + 1);
      if (++steps === 200) {
        await dev.migrateSlots(source!.port, target!.port, [slot]);
        undo.push(() => dev.migrateSlots(target!.port, source!.port, [slot]));
      }
    }
    expect(fields.size).toBe(2000);
    expect(client.stats().moved).toBeGreaterThan(0); // the walk did meet the move
  });
});
