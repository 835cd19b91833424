/**
 * Pipelines and cross-slot multi-key commands (issue 4), on a real cluster — including one
 * whose slots are being migrated while the pipeline runs.
 */
import { afterEach, describe, expect, it } from "vitest";
import { keySlot } from "../../src/command/slot.js";
import type { DevCluster } from "../../src/dev/index.js";
import {
  ArgumentError,
  CrossSlotError,
  PartialFailureError,
  RedisCluster,
  ReplyError,
} from "../../src/index.js";
import { countByteWork, totalBytes } from "../helpers/byte-work.js";
import { sharedDevCluster, withDevCluster } from "../helpers/cluster.js";
import { keyInSlot } from "../helpers/keys.js";
import { finishMigrationsAfterEach } from "../helpers/restore.js";

const clients: RedisCluster[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

function clientFor(dev: DevCluster, options: { autoPipelining?: boolean } = {}): RedisCluster {
  const client = new RedisCluster({ nodes: dev.seeds, ...options });
  clients.push(client);
  return client;
}

describe("pipeline on a stable cluster", () => {
  it("a 10,000-command mixed pipeline over all primaries returns every reply in order", async () => {
    const cluster = clientFor(await sharedDevCluster());
    const prefix = `mixed:${Date.now()}:`;
    const pipeline = cluster.pipeline();
    const expected: unknown[] = [];
    for (let i = 0; i < 2_500; i++) {
      pipeline.set(`${prefix}${i}`, String(i));
      expected.push("OK");
      pipeline.get(`${prefix}${i}`);
      expected.push(String(i));
      pipeline.incr(`${prefix}counter:${i % 50}`);
      expected.push(Math.floor(i / 50) + 1);
      pipeline.rpush(`${prefix}list:${i % 10}`, String(i));
      expected.push(Math.floor(i / 10) + 1);
    }
    const results = await pipeline.exec();
    expect(results).toEqual(expected);
    // It did span every primary.
    const slots = new Set(Array.from({ length: 2_500 }, (_, i) => keySlot(`${prefix}${i}`)));
    const owners = new Set([...slots].map((slot) => cluster.topology!.shardOf(slot)!.primary.address));
    expect(owners.size).toBe(3);
  });

  it("one failing command errors at its position only", async () => {
    const cluster = clientFor(await sharedDevCluster());
    const key = `failing:${Date.now()}`;
    const results = await cluster
      .pipeline()
      .set(key, "not a number")
      .incr(key)
      .get(key)
      .call("NOSUCHCOMMAND", "x")
      .exists(key)
      .exec();
    expect(results[0]).toBe("OK");
    expect(results[1]).toBeInstanceOf(ReplyError);
    expect((results[1] as ReplyError).command).toBe("INCR");
    expect(results[2]).toBe("not a number");
    expect(results[3]).toBeInstanceOf(ReplyError);
    expect(results[4]).toBe(1);
  });

  it("commands on one key run in the order queued, whatever their kind", async () => {
    const cluster = clientFor(await sharedDevCluster());
    const key = `order:${Date.now()}`;
    const other = `${key}:elsewhere`;
    expect(keySlot(key)).not.toBe(keySlot(other));
    const results = await cluster.pipeline().set(key, "1").exists(key, other).del(key, other).get(key).exec();
    expect(results).toEqual(["OK", 1, 1, null]);
    // The same, issued in one tick without a pipeline (auto-pipelining).
    const [set, exists, del, get] = await Promise.all([
      cluster.set(key, "1"),
      cluster.exists(key, other),
      cluster.del(key, other),
      cluster.get(key),
    ]);
    expect([set, exists, del, get]).toEqual(["OK", 1, 1, null]);
  });

  it("a pipeline of 100,000 commands resolves in order (no stack overflow), with 4× the work of 25,000 (no quadratic work)", async () => {
    const cluster = clientFor(await sharedDevCluster());
    await cluster.connect();
    // SET then GET of one key, alternating: the GET must see its own SET. Non-ASCII values,
    // so that encoding and decoding them go through the Buffer operations that are counted.
    const run = async (commands: number) => {
      const pipeline = cluster.pipeline();
      for (let i = 0; i < commands / 2; i++) {
        pipeline.set(`big:${i % 1000}`, `välue-${i}`).get(`big:${i % 1000}`);
      }
      let results: unknown[] = [];
      const work = await countByteWork(async () => {
        results = await pipeline.exec();
      });
      expect(results.length).toBe(commands);
      const wrong = results.filter((result, i) => result !== (i % 2 === 0 ? "OK" : `välue-${(i - 1) / 2}`));
      expect(wrong.slice(0, 3)).toEqual([]);
      return totalBytes(work);
    };
    const small = await run(25_000);
    const large = await run(100_000);
    expect(small).toBeGreaterThan(0);
    // Linear work is 4×, quadratic 16× (test/unit/resp-work.test.ts shows the measure tells them apart).
    expect(large / small).toBeLessThanOrEqual(6);
  });

  it("resty style: initPipeline, ordinary calls, commitPipeline", async () => {
    const cluster = clientFor(await sharedDevCluster());
    const key = `resty:${Date.now()}`;
    cluster.initPipeline();
    const queuedSet = cluster.set(`${key}{100}:a`, "1");
    cluster.get(`${key}{100}:a`);
    cluster.incr(`${key}{100}:a`);
    const results = await cluster.commitPipeline();
    expect(results).toEqual(["OK", "1", 2]);
    expect(await queuedSet).toBe("OK");
    // After the commit, calls send again.
    expect(await cluster.get(`${key}{100}:a`)).toBe("2");
    cluster.initPipeline();
    const dropped = cluster.set(`${key}:dropped`, "x");
    cluster.cancelPipeline();
    expect(await dropped).toBeInstanceOf(Error);
    expect(await cluster.exists(`${key}:dropped`)).toBe(0);
  });

  it("resty style across nodes, from several callers: results in call order, each call's promise its own entry", async () => {
    const cluster = clientFor(await sharedDevCluster());
    await cluster.connect();
    const stamp = `resty-callers:${process.pid}:${Date.now()}`;
    // One slot per primary, so that the pipeline spans every node.
    const slots = cluster.nodes("primary").map((node) => {
      const shard = cluster.topology!.shards.find((candidate) => candidate.primary.address === node.address)!;
      return shard.ranges[0]![0];
    });
    expect(slots.length).toBe(3);
    await cluster.set(`${stamp}:text`, "not a number");

    cluster.initPipeline();
    /** What each call must come to, in the order the calls were made (by any caller). */
    const calls: unknown[] = [];
    const callers = ["a", "b", "c"].map(async (name, c) => {
      const mine: Array<{ promise: Promise<unknown>; expected: unknown }> = [];
      const call = (promise: Promise<unknown>, expected: unknown) => {
        calls.push(expected);
        mine.push({ promise, expected });
      };
      for (let i = 0; i < 6; i++) {
        const key = keyInSlot(slots[(i + c) % slots.length]!, `${stamp}:${name}:${i}`);
        call(cluster.set(key, `${name}-${i}`), "OK");
        await null; // the other callers run in between
        call(cluster.get(key), `${name}-${i}`);
        if (i === 2) call(cluster.incr(`${stamp}:text`), "error");
        await null;
      }
      return mine;
    });
    const byCaller = await Promise.all(callers);
    const results = await cluster.commitPipeline();

    // The callers' calls interleaved, and the results follow that order.
    expect(calls.slice(0, 3)).toEqual(["OK", "OK", "OK"]);
    expect(results.map((result) => (result instanceof ReplyError ? "error" : result))).toEqual(calls);
    // Each promise resolves (never rejects) with its own entry, errors included.
    for (const mine of byCaller) {
      const settled = await Promise.all(mine.map(({ promise }) => promise));
      expect(settled.map((value) => (value instanceof ReplyError ? "error" : value))).toEqual(
        mine.map(({ expected }) => expected),
      );
    }
  });

  it("autoPipelining: false still answers everything", async () => {
    const cluster = clientFor(await sharedDevCluster(), { autoPipelining: false });
    const values = await Promise.all(
      Array.from({ length: 500 }, (_, i) => cluster.set(`nap:${i}`, String(i))),
    );
    expect(values.every((value) => value === "OK")).toBe(true);
  });
});

describe("cross-slot multi-key commands", () => {
  it("MGET of 1,000 keys over all slots equals per-key GETs, missing keys as null", async () => {
    const cluster = clientFor(await sharedDevCluster());
    const keys = Array.from({ length: 1_000 }, (_, i) => `mget:${i}`);
    await Promise.all(keys.filter((_, i) => i % 3 !== 0).map((key, i) => cluster.set(key, `v${i}`)));
    const viaMget = await cluster.mget(...keys);
    const viaGet = await Promise.all(keys.map((key) => cluster.get(key)));
    expect(viaMget).toEqual(viaGet);
    expect(viaMget.filter((value) => value === null).length).toBeGreaterThan(300);
  });

  it("MSET then MGET round-trips Buffers with \\0, \\r\\n and invalid UTF-8", async () => {
    const cluster = clientFor(await sharedDevCluster());
    const keys = Array.from({ length: 50 }, (_, i) => Buffer.from([0x6b, i, 0x00, 0xff, 0x0d, 0x0a, i]));
    const values = keys.map((_, i) => Buffer.from([0xc3, 0x28, 0x00, 0x0d, 0x0a, i]));
    await cluster.mset(...keys.flatMap((key, i) => [key, values[i]!]));
    const read = (await cluster.mgetBuffer(...keys)) as Buffer[];
    expect(read.map((value) => value.toString("hex"))).toEqual(values.map((value) => value.toString("hex")));
    expect(await cluster.mset(new Map([[keys[0]!, values[1]!]]))).toBe("OK");
  });

  it("mset takes an object; DEL, EXISTS, UNLINK and TOUCH count across slots", async () => {
    const cluster = clientFor(await sharedDevCluster());
    const stamp = Date.now();
    const object = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`obj:${stamp}:${i}`, String(i)]));
    expect(await cluster.mset(object)).toBe("OK");
    const keys = Object.keys(object);
    expect(await cluster.exists(...keys, `absent:${stamp}`)).toBe(40);
    expect(await cluster.touch(...keys)).toBe(40);
    expect(await cluster.del(...keys.slice(0, 10), `absent:${stamp}`)).toBe(10);
    expect(await cluster.unlink(...keys)).toBe(30);
    expect(await cluster.exists(...keys)).toBe(0);
  });

  it("keys of one slot go as one command; commands that need one slot refuse before sending", async () => {
    const dev = await sharedDevCluster();
    const cluster = clientFor(dev);
    await cluster.mset({ "same{tag}:a": "1", "same{tag}:b": "2" });
    await expect(cluster.msetnx("x:1", "1", "x:2", "2")).rejects.toBeInstanceOf(CrossSlotError);
    await expect(cluster.rename("x:1", "x:2")).rejects.toBeInstanceOf(CrossSlotError);
    await expect(cluster.sinterstore("x:1", "x:2", "x:3")).rejects.toBeInstanceOf(CrossSlotError);
    expect(await cluster.exists("x:1", "x:2")).toBe(0);
    const before = cluster.stats().commands;
    await cluster.mget("same{tag}:a", "same{tag}:b");
    expect(cluster.stats().commands - before).toBe(1);
  });

  it("a partly failed MSET says which keys were set", async () => {
    const cluster = clientFor(await sharedDevCluster());
    // A key whose slot is on a primary that refuses writes: make one primary read-only for
    // this (min-replicas-to-write with an impossible count makes it refuse every write).
    const dev = await sharedDevCluster();
    const primary = dev.nodes.find((node) => node.role === "primary")!;
    const keys = Array.from({ length: 30 }, (_, i) => `partial:${i}`);
    const refused = keys.filter((key) => {
      const [start, end] = primary.slots[0]!;
      const slot = keySlot(key);
      return slot >= start && slot <= end;
    });
    expect(refused.length).toBeGreaterThan(0);
    await dev.command(primary.port, "CONFIG", "SET", "min-replicas-to-write", "5");
    try {
      const error = await cluster.mset(...keys.flatMap((key) => [key, "v"])).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PartialFailureError);
      const partial = error as PartialFailureError;
      expect([...partial.failed].sort()).toEqual([...refused].sort());
      expect(partial.succeeded.length).toBe(keys.length - refused.length);
      expect(partial.message).not.toContain("partial:");
    } finally {
      await dev.command(primary.port, "CONFIG", "SET", "min-replicas-to-write", "0");
    }
  });
});

describe("pipeline while slots migrate", () => {
  const dev = withDevCluster({ primaries: 3, replicasPerPrimary: 0 });
  const migrations = finishMigrationsAfterEach();

  it("returns every right value while ASK and MOVED both happen", async () => {
    const cluster = clientFor(dev());
    const [from, to] = dev().nodes.filter((node) => node.role === "primary");
    const [start] = from!.slots[0]!;
    // 40 slots of the source, each with keys.
    const slots = Array.from({ length: 40 }, (_, i) => start + i);
    const keysBySlot = new Map<number, string[]>();
    for (
      let i = 0;
      keysBySlot.size < slots.length || [...keysBySlot.values()].some((k) => k.length < 5);
      i++
    ) {
      const key = `mig:${i}`;
      const slot = keySlot(key);
      if (!slots.includes(slot)) continue;
      const keys = keysBySlot.get(slot) ?? [];
      if (keys.length < 5) keys.push(key);
      keysBySlot.set(slot, keys);
    }
    const keys = [...keysBySlot.values()].flat();
    await cluster.mset(...keys.flatMap((key) => [key, `value:${key}`]));

    // Half the slots fully moved behind the client's back (→ MOVED), one left half-migrated (→ ASK).
    await dev().migrateSlots(from!.port, to!.port, slots.slice(0, 20));
    const migration = await migrations.begin(dev(), from!.port, to!.port, slots[20]!, 2);

    const pipeline = cluster.pipeline();
    for (const key of keys) pipeline.get(key).set(key, `value:${key}`).get(key);
    const results = await pipeline.exec();
    const expected = keys.flatMap((key) => [`value:${key}`, "OK", `value:${key}`]);
    expect(results).toEqual(expected);
    const stats = cluster.stats();
    expect(stats.moved).toBeGreaterThan(0);
    expect(stats.ask).toBeGreaterThan(0);

    await migration.finish();
    expect(await cluster.mget(...keys)).toEqual(keys.map((key) => `value:${key}`));
  });
});

describe("commands by name", () => {
  it('call("CLIENT ID") and call("CLIENT", "ID") are the same, on the client, a pipeline and a node', async () => {
    const cluster = clientFor(await sharedDevCluster());
    await cluster.connect();
    expect(typeof (await cluster.call("CLIENT ID"))).toBe("number");
    const [spaced, split, nameless] = await cluster
      .pipeline()
      .call("client id")
      .call("CLIENT", "ID")
      .call("  ")
      .exec();
    expect(typeof spaced).toBe("number");
    expect(typeof split).toBe("number");
    expect(nameless).toBeInstanceOf(Error);
    const node = cluster.nodes("primary")[0]!;
    expect(typeof (await node.call("CLIENT ID"))).toBe("number");
    await expect(cluster.call("")).rejects.toThrow(/non-empty/);
  });

  it("commands that would change a shared connection's state are refused, and the connection goes on", async () => {
    const cluster = clientFor(await sharedDevCluster());
    const key = `state:${Date.now()}`;
    await cluster.connect();
    await expect(cluster.call("MULTI")).rejects.toBeInstanceOf(ArgumentError);
    await expect(cluster.call("CLIENT", "REPLY", "OFF")).rejects.toBeInstanceOf(ArgumentError);
    await expect(cluster.nodes("primary")[0]!.call("SUBSCRIBE", "ch")).rejects.toBeInstanceOf(ArgumentError);
    const [multi] = await cluster.pipeline().call("MULTI").set(key, "1").exec();
    expect(multi).toBeInstanceOf(ArgumentError);
    // Nothing was queued in a transaction: the SET ran, and replies still match requests.
    expect(await cluster.get(key)).toBe("1");
  });
});
