/**
 * Transactions and WATCH sessions on slots that move, on a cluster of this file's own:
 * MOVED on the queued commands (resent whole to the new owner), ASK (ASKING + MULTI … EXEC
 * to the target: the server keeps ASKING's flag until EXEC), TRYAGAIN (keys split between
 * source and target: retried until the migration ends), and the guarantee under a slot
 * that migrates back and forth while transactions run: each applies once, on the node that
 * owns its keys, or not at all — never half, never twice.
 */
import { afterEach, describe, expect, it } from "vitest";
import { keySlot } from "../../src/command/slot.js";
import type { DevCluster, DevNode } from "../../src/dev/index.js";
import { delay } from "../../src/dev/poll.js";
import { ConnectionError } from "../../src/index.js";
import { describeError, isLeakedClusterReply, isTypedError, useClients } from "../helpers/client.js";
import { withDevCluster } from "../helpers/cluster.js";
import { keyInSlot } from "../helpers/keys.js";

const cluster = withDevCluster({ primaries: 3, replicasPerPrimary: 0 });
const clients = useClients();

/** Migrations a test left open or slots it moved: undone after it, whatever happened. */
const undo: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const step of undo.splice(0).reverse()) await step();
});

async function primaries(dev: DevCluster): Promise<DevNode[]> {
  const nodes = await dev.refresh();
  return nodes.filter((node) => node.role === "primary").sort((a, b) => a.port - b.port);
}

/** The owner of `slot` now. */
async function ownerOf(dev: DevCluster, slot: number): Promise<DevNode> {
  return (await primaries(dev)).find((node) => node.slots.some(([s, e]) => slot >= s && slot <= e))!;
}

/** A slot of `node` that no other test of this file uses. */
let nextOffset = 10;
function slotOf(node: DevNode): number {
  return node.slots[0]![0] + nextOffset++;
}

/**
 * Moves `slot` to the primary that does not own it now (of `a` and `b`). The dev cluster's
 * helper occasionally finds the source no longer claiming a slot it was just given, when
 * moves follow each other within milliseconds (gossip settling the config epochs): the owner
 * is read again and the move retried, a few times.
 */
async function moveSlot(dev: DevCluster, slot: number, a: DevNode, b: DevNode): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const owner = await ownerOf(dev, slot);
    const target = owner.port === a.port ? b : a;
    try {
      await dev.migrateSlots(owner.port, target.port, [slot]);
      return;
    } catch (error) {
      if (attempt >= 5 || !/not the owner/.test(String(error))) throw error;
      await dev.waitForHealthy();
    }
  }
}

/** What a key holds on one node, asked there with ASKING (for a slot mid-migration). */
async function onNode(dev: DevCluster, port: number, ...command: string[]): Promise<unknown> {
  await dev.command(port, "ASKING");
  return dev.command(port, ...command);
}

describe("a transaction on a slot that moved", () => {
  it("MOVED on its queued commands: resent whole to the new owner, applied once", async () => {
    const dev = cluster();
    const [source, target] = await primaries(dev);
    const slot = slotOf(source!);
    const counter = keyInSlot(slot, "moved:counter");
    const log = keyInSlot(slot, "moved:log");
    const client = clients.create({ nodes: dev.seeds, refreshInterval: 0 });
    await client.connect();
    await dev.migrateSlots(source!.port, target!.port, [slot]); // the client does not know yet
    undo.push(() => dev.migrateSlots(target!.port, source!.port, [slot]));
    const movedBefore = client.stats().moved;
    expect(await client.multi().incr(counter).rpush(log, "once").exec()).toEqual([1, 1]);
    expect(client.stats().moved).toBeGreaterThan(movedBefore);
    expect(await dev.command(target!.port, "GET", counter)).toBe("1");
    expect(await dev.command(target!.port, "LRANGE", log, 0, -1)).toEqual(["once"]);
    expect(await dev.command(source!.port, "CLUSTER", "COUNTKEYSINSLOT", slot)).toBe(0);
  });

  it("ASK: keys already moved to the target: ASKING + MULTI … EXEC runs it there, table untouched", async () => {
    const dev = cluster();
    const [source, target] = await primaries(dev);
    const slot = slotOf(source!);
    const moved = keyInSlot(slot, "ask:moved");
    await dev.command(source!.port, "SET", moved, "10");
    const client = clients.create({ nodes: dev.seeds, refreshInterval: 0 });
    await client.connect();
    await dev.beginSlotMigration(source!.port, target!.port, slot, 1); // the slot's one key moves
    undo.push(() => dev.migrateSlots(target!.port, source!.port, [slot]));
    undo.push(() => dev.finishMigration(source!.port, target!.port, slot));
    const askBefore = client.stats().ask;
    expect(await client.multi().incr(moved).expire(moved, 600).get(moved).exec()).toEqual([11, 1, "11"]);
    expect(client.stats().ask).toBeGreaterThan(askBefore);
    // A key on neither node goes to the target too (the source no longer has it).
    const fresh = keyInSlot(slot, "ask:fresh");
    expect(await client.multi().set(fresh, "new").append(fresh, "er").exec()).toEqual(["OK", 5]);
    expect(await onNode(dev, target!.port, "GET", moved)).toBe("11");
    expect(await onNode(dev, target!.port, "GET", fresh)).toBe("newer");
    expect(await dev.command(source!.port, "CLUSTER", "COUNTKEYSINSLOT", slot)).toBe(0);
    // ASK does not change the table: the slot still routes to the source.
    expect(client.topology!.shardOf(slot)!.primary.port).toBe(source!.port);
  });

  it("TRYAGAIN: its keys split between source and target; retried until the migration ends, then applied once", async () => {
    const dev = cluster();
    const [source, target] = await primaries(dev);
    const slot = slotOf(source!);
    const first = keyInSlot(slot, "split:a");
    const second = keyInSlot(slot, "split:b");
    await dev.command(source!.port, "SET", first, "1");
    await dev.command(source!.port, "SET", second, "1");
    const client = clients.create({ nodes: dev.seeds, refreshInterval: 0, commandTimeout: 10_000 });
    await client.connect();
    await dev.beginSlotMigration(source!.port, target!.port, slot, 1); // one key moved, one not
    undo.push(() => dev.migrateSlots(target!.port, source!.port, [slot]));
    const retriesBefore = client.stats().retries;
    const transaction = client.multi().incr(first).incr(second).exec();
    await delay(300); // it keeps being refused meanwhile
    expect(client.stats().retries).toBeGreaterThan(retriesBefore + 1);
    await dev.finishMigration(source!.port, target!.port, slot);
    expect(await transaction).toEqual([2, 2]);
    expect(await dev.command(target!.port, "MGET", first, second)).toEqual(["2", "2"]);
  });
});

describe("a slot migrating back and forth under transactions", () => {
  it("each transaction applies once on the owner or not at all (8 migrations, transactions all along)", async () => {
    const dev = cluster();
    const [a, b] = await primaries(dev);
    const slot = slotOf(a!);
    const counter = keyInSlot(slot, "churn:counter");
    const log = keyInSlot(slot, "churn:log");
    const client = clients.create({ nodes: dev.seeds, commandTimeout: 4000 });
    await client.connect();
    const committed = new Set<string>();
    const unknown = new Set<string>();
    const failures: string[] = [];
    let stop = false;
    const worker = async (id: number) => {
      for (let i = 0; !stop; i++) {
        const entry = `${id}:${i}`;
        try {
          // All or nothing: the counter and the log move together, or not at all.
          const replies = (await client.multi().incr(counter).rpush(log, entry).exec()) as number[];
          expect(replies[0]).toBe(replies[1]);
          committed.add(entry);
        } catch (error) {
          if (error instanceof ConnectionError && error.outcomeUnknown) unknown.add(entry);
          else if (!isTypedError(error) || isLeakedClusterReply(error)) failures.push(describeError(error));
          else unknown.add(entry); // a deadline passed: it may or may not have run
        }
      }
    };
    const workers = Array.from({ length: 8 }, (_, id) => worker(id));
    undo.push(async () => {
      if ((await ownerOf(dev, slot)).port !== a!.port) await moveSlot(dev, slot, a!, b!);
    });
    try {
      for (let round = 0; round < 8; round++) await moveSlot(dev, slot, a!, b!);
    } finally {
      stop = true;
      await Promise.all(workers);
    }
    expect(failures).toEqual([]);
    expect(committed.size).toBeGreaterThanOrEqual(40);
    // The transactions did meet the moving slot.
    expect(client.stats().moved).toBeGreaterThan(0);
    expect(client.stats().ask).toBeGreaterThan(0);
    const ownerNow = await ownerOf(dev, slot);
    const entries = (await dev.command(ownerNow.port, "LRANGE", log, 0, -1)) as string[];
    // Never twice, never half: every logged entry once, and the counter counts exactly them.
    expect(new Set(entries).size).toBe(entries.length);
    expect(Number(await dev.command(ownerNow.port, "GET", counter))).toBe(entries.length);
    // Every acknowledged one is there; anything else logged had an unknown outcome.
    for (const entry of committed) expect(entries).toContain(entry);
    for (const entry of entries) if (!committed.has(entry)) expect(unknown.has(entry)).toBe(true);
    // Nothing stayed behind on the node that gave the slot away.
    const nonOwner = ownerNow.port === a!.port ? b! : a!;
    expect(await dev.command(nonOwner.port, "CLUSTER", "COUNTKEYSINSLOT", slot)).toBe(0);
  });

  it("optimistic() increments while the slot migrates: every commit counted once, none on the wrong node", async () => {
    const dev = cluster();
    const [a, b] = await primaries(dev);
    const slot = slotOf(a!);
    const counter = keyInSlot(slot, "occ:counter");
    const client = clients.create({ nodes: dev.seeds, commandTimeout: 4000 });
    await client.connect();
    let commits = 0;
    const failures: string[] = [];
    let stop = false;
    const worker = async () => {
      while (!stop) {
        try {
          await client.optimistic(
            counter,
            async (tx) => tx.multi().set(counter, Number((await tx.get(counter)) ?? 0) + 1),
            { attempts: 50 },
          );
          commits++;
        } catch (error) {
          failures.push(describeError(error));
        }
      }
    };
    const workers = Array.from({ length: 4 }, () => worker());
    undo.push(async () => {
      if ((await ownerOf(dev, slot)).port !== a!.port) await moveSlot(dev, slot, a!, b!);
    });
    try {
      // Six migrations at least, a moment apart so that sessions commit between them, and
      // on until 20 sessions committed (20 migrations at most).
      for (let round = 0; round < 6 || (commits < 20 && round < 20); round++) {
        await moveSlot(dev, slot, a!, b!);
        await delay(30);
      }
    } finally {
      stop = true;
      await Promise.all(workers);
    }
    // Connection losses are not expected here; a conflict storm is typed (WatchConflictError).
    expect(failures.filter((failure) => !failure.startsWith("WatchConflictError"))).toEqual([]);
    expect(commits).toBeGreaterThanOrEqual(20);
    const ownerNow = await ownerOf(dev, slot);
    expect(Number(await dev.command(ownerNow.port, "GET", counter))).toBe(commits);
    expect(keySlot(counter)).toBe(slot);
  });
});
