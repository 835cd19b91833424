/**
 * Transactions and WATCH sessions on the real shared cluster: what `multi()…exec()` commits
 * (all of it, data asserted), what it refuses before sending (keys across slots), how the
 * server's refusals and run-time errors come back, that MULTI … EXEC never disturbs the
 * other callers of the shared connection, and what `watch()` / `optimistic()` do with a
 * conflict, a throwing callback, a deadline, and the pool they share with blocking calls.
 */
import { describe, expect, it } from "vitest";
import { keySlot } from "../../src/command/slot.js";
import type { DevCluster } from "../../src/dev/index.js";
import {
  ArgumentError,
  ClosedError,
  CrossSlotError,
  type RedisCluster,
  type RedisClusterOptions,
  ReplyError,
  TimeoutError,
  WatchConflictError,
} from "../../src/index.js";
import { useClients } from "../helpers/client.js";
import { sharedDevCluster } from "../helpers/cluster.js";
import { commandCalls, primaryPortOf } from "../helpers/node-stats.js";

const clients = useClients();

let run = 0;
/** Keys of one slot, fresh for each test: `{tx<run>}:<name>`. */
function keysOf(label: string): (name: string) => string {
  const tag = `{tx:${label}:${Date.now()}:${run++}}`;
  return (name) => `${tag}:${name}`;
}

async function open(
  options: Partial<RedisClusterOptions> = {},
): Promise<{ dev: DevCluster; redis: RedisCluster }> {
  const dev = await sharedDevCluster();
  const redis = clients.create({ nodes: dev.seeds, ...options });
  await redis.connect();
  return { dev, redis };
}

async function connectionsReceived(dev: DevCluster, port: number): Promise<number> {
  const info = String(await dev.command(port, "INFO", "stats"));
  return Number(/total_connections_received:(\d+)/.exec(info)![1]);
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    const value = await promise;
    throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
  } catch (error) {
    return error as Error;
  }
}

describe("multi()", () => {
  it("commits every command on one slot and resolves with their replies in order (strings, Buffers, hgetall)", async () => {
    const { redis } = await open();
    const key = keysOf("commit");
    const replies = await redis
      .multi()
      .set(key("name"), "ann")
      .incr(key("visits"))
      .incrby(key("visits"), 10)
      .hset(key("profile"), "city", "Oslo", "lang", "no")
      .hgetall(key("profile"))
      .getBuffer(key("name"))
      .get(key("name"))
      .exec();
    expect(replies).toEqual(["OK", 1, 11, 2, { city: "Oslo", lang: "no" }, Buffer.from("ann"), "ann"]);
    expect(await redis.mget(key("name"), key("visits"))).toEqual(["ann", "11"]);
  });

  it("a command failing at run time gets its ReplyError in place; the others are applied (Redis runs them all)", async () => {
    const { redis } = await open();
    const key = keysOf("runtime");
    await redis.set(key("text"), "not a number");
    // Typed without null: only a WATCH session's transaction can be aborted by a conflict.
    const [set, incr, after] = await redis
      .multi()
      .set(key("a"), "1")
      .incr(key("text"))
      .set(key("b"), "2")
      .exec();
    expect(set).toBe("OK");
    expect(incr).toBeInstanceOf(ReplyError);
    expect((incr as ReplyError).command).toBe("INCR");
    expect(after).toBe("OK");
    expect(await redis.mget(key("a"), key("text"), key("b"))).toEqual(["1", "not a number", "2"]);
  });

  it("a command the server refuses to queue aborts it all: EXECABORT, cause the refusal, nothing applied", async () => {
    const { redis } = await open();
    const key = keysOf("abort");
    const error = await rejection(
      redis.multi().set(key("a"), "1").call("SET", key("b")).incr(key("c")).exec(), // SET without a value
    );
    expect(error).toBeInstanceOf(ReplyError);
    expect((error as ReplyError).code).toBe("EXECABORT");
    expect((error.cause as ReplyError).message).toMatch(/wrong number of arguments/);
    expect(await redis.mget(key("a"), key("b"), key("c"))).toEqual([null, null, null]);
  });

  it("keys in two slots: CrossSlotError before anything is sent", async () => {
    const { dev, redis } = await open();
    const first = keysOf("cross-a")("k");
    const second = keysOf("cross-b")("k");
    expect(keySlot(first)).not.toBe(keySlot(second));
    const port = await primaryPortOf(dev, first);
    const multisBefore = await commandCalls(dev, port, "multi");
    const error = await rejection(redis.multi().set(first, "1").set(second, "2").exec());
    expect(error).toBeInstanceOf(CrossSlotError);
    expect([...(error as CrossSlotError).slots].sort()).toEqual([keySlot(first), keySlot(second)].sort());
    // A split-able command across slots is refused too: it would no longer be one transaction.
    expect(await rejection(redis.multi().mget(first, second).exec())).toBeInstanceOf(CrossSlotError);
    expect(await redis.exists(first, second)).toBe(0);
    expect(await commandCalls(dev, port, "multi")).toBe(multisBefore);
  });

  it("keyless commands run on the slot's primary with the rest; a keyless transaction on any primary", async () => {
    const { redis } = await open();
    const key = keysOf("keyless");
    expect(await redis.multi().set(key("a"), "1").ping().echo("hi").get(key("a")).exec()).toEqual([
      "OK",
      "PONG",
      "hi",
      "1",
    ]);
    expect(await redis.multi().ping().time().exec()).toEqual(["PONG", expect.any(Array)]);
    expect(await redis.multi().exec()).toEqual([]);
  });

  it("keyPrefix applies to every key of the transaction", async () => {
    const dev = await sharedDevCluster();
    const prefixed = clients.create({ nodes: dev.seeds, keyPrefix: "app:" });
    const plain = clients.create({ nodes: dev.seeds });
    const key = keysOf("prefix");
    expect(await prefixed.multi().set(key("a"), "1").incr(key("a")).exec()).toEqual(["OK", 2]);
    expect(await plain.get(`app:${key("a")}`)).toBe("2");
    expect(await plain.get(key("a"))).toBeNull();
  });

  it("MULTI … EXEC on the shared connection: 200 transactions among 2,000 other commands of the same client, every reply in its place", async () => {
    const { dev, redis } = await open({ clientName: "tx-shared" });
    const key = keysOf("shared");
    await redis.set(key("plain"), "p");
    const port = await primaryPortOf(dev, key("plain"));
    const work: Array<Promise<unknown>> = [];
    const expected: unknown[] = [];
    for (let i = 0; i < 200; i++) {
      work.push(redis.multi().incr(key("counter")).get(key("plain")).exec());
      expected.push([i + 1, "p"]);
      for (let j = 0; j < 10; j++) {
        work.push(redis.get(key("plain")));
        expected.push("p");
      }
    }
    expect(await Promise.all(work)).toEqual(expected);
    expect(await redis.get(key("counter"))).toBe("200");
    // No dedicated connection was needed: one connection of this client at that node.
    const list = String(await dev.command(port, "CLIENT", "LIST"));
    const mine = list.split("\n").filter((line) => line.includes(" name=tx-shared "));
    expect(mine).toHaveLength(1);
    expect(mine[0]).toContain(" multi=-1 "); // not left inside a MULTI
  });

  it("connection-state commands are refused inside a transaction, before anything is sent", async () => {
    const { redis } = await open();
    const key = keysOf("state");
    for (const name of ["MULTI", "EXEC", "WATCH", "SELECT", "SUBSCRIBE"]) {
      const error = await rejection(redis.multi().set(key("a"), "1").call(name, key("x")).exec());
      expect(error, name).toBeInstanceOf(ArgumentError);
    }
    expect(await redis.get(key("a"))).toBeNull();
    await expect(redis.call("MULTI")).rejects.toBeInstanceOf(ArgumentError); // raw MULTI stays refused
  });

  it("a transaction is executed once: exec() again rejects", async () => {
    const { redis } = await open();
    const transaction = redis.multi().ping();
    await transaction.exec();
    await expect(transaction.exec()).rejects.toBeInstanceOf(ArgumentError);
  });
});

describe("watch() and optimistic()", () => {
  it("a WATCH conflict from another client: exec() resolves null and nothing is applied", async () => {
    const { redis } = await open();
    const other = clients.create({ nodes: redis.topology!.primaries.map((node) => node.address) });
    const key = keysOf("conflict");
    await redis.set(key("balance"), "100");
    const outcome = await redis.watch(key("balance"), async (tx) => {
      const balance = Number(await tx.get(key("balance")));
      await other.set(key("balance"), "50"); // someone else writes in between
      return tx
        .multi()
        .set(key("balance"), balance - 10)
        .set(key("log"), "debited")
        .exec();
    });
    expect(outcome).toBeNull();
    expect(await redis.mget(key("balance"), key("log"))).toEqual(["50", null]);
  });

  it("optimistic(): the first attempt loses to a conflict, the second commits", async () => {
    const { redis } = await open();
    const other = clients.create({ nodes: redis.topology!.primaries.map((node) => node.address) });
    const key = keysOf("retry");
    await redis.set(key("stock"), "10");
    let attempts = 0;
    const result = await redis.optimistic([key("stock")], async (tx) => {
      attempts++;
      const stock = Number(await tx.get(key("stock")));
      if (attempts === 1) await other.decr(key("stock")); // a concurrent buyer
      return tx.multi().set(key("stock"), stock - 1);
    });
    expect(attempts).toBe(2);
    expect(result).toEqual(["OK"]);
    expect(await redis.get(key("stock"))).toBe("8"); // 10 - the other buyer - us
  });

  it("optimistic(): a conflict on every attempt ends with WatchConflictError; a callback that writes nothing returns its value", async () => {
    const { redis } = await open();
    const other = clients.create({ nodes: redis.topology!.primaries.map((node) => node.address) });
    const key = keysOf("always");
    let attempts = 0;
    const error = await rejection(
      redis.optimistic(
        key("k"),
        async (tx) => {
          attempts++;
          await tx.get(key("k"));
          await other.incr(key("k"));
          return tx.multi().set(key("k"), "mine");
        },
        { attempts: 3 },
      ),
    );
    expect(error).toBeInstanceOf(WatchConflictError);
    expect((error as WatchConflictError).attempts).toBe(3);
    expect(attempts).toBe(3);
    expect(await redis.get(key("k"))).toBe("3");
    expect(await redis.optimistic(key("k"), async (tx) => `seen ${await tx.get(key("k"))}`)).toBe("seen 3");
  });

  it("sessions share the dedicated pool with blocking calls: 6 concurrent sessions under a cap of 2 all commit, 2 connections at most", async () => {
    const { dev, redis } = await open({ clientName: "tx-capped", maxBlockingConnections: 2 });
    const key = keysOf("capped");
    const port = await primaryPortOf(dev, key("n"));
    await redis.get(key("n")); // the shared connection
    let most = 0;
    const sessions = Array.from({ length: 6 }, (_, i) =>
      redis.optimistic(key("n"), async (tx) => {
        const list = String(await dev.command(port, "CLIENT", "LIST"));
        most = Math.max(most, list.split("\n").filter((line) => line.includes(" name=tx-capped ")).length);
        const n = Number((await tx.get(key("n"))) ?? 0);
        return tx
          .multi()
          .set(key("n"), n + 1)
          .rpush(key("order"), i);
      }),
    );
    await Promise.all(sessions);
    expect(await redis.get(key("n"))).toBe("6");
    expect(most).toBeLessThanOrEqual(1 + 2);
  });

  it("a callback that throws: watch() rejects with its error, UNWATCH is sent, and the reused connection watches nothing stale", async () => {
    const { dev, redis } = await open({ maxBlockingConnections: 1 });
    const other = clients.create({ nodes: dev.seeds });
    const key = keysOf("throws");
    const port = await primaryPortOf(dev, key("a"));
    const unwatchesBefore = await commandCalls(dev, port, "unwatch");
    const thrown = new Error("application failure");
    const error = await rejection(
      redis.watch(key("a"), async (tx) => {
        await tx.get(key("a"));
        throw thrown;
      }),
    );
    expect(error).toBe(thrown);
    // Someone changes the key the failed session watched; the next session, on the same
    // pooled connection, watches another key: its transaction must commit.
    await other.set(key("a"), "changed");
    const connectionsBefore = await connectionsReceived(dev, port);
    const committed = await redis.watch(key("b"), async (tx) => tx.multi().set(key("b"), "1").exec());
    expect(committed).toEqual(["OK"]);
    expect(await commandCalls(dev, port, "unwatch")).toBeGreaterThan(unwatchesBefore);
    // The pool gave the same connection back: no new one was opened (our own INFO calls aside).
    expect((await connectionsReceived(dev, port)) - connectionsBefore).toBeLessThanOrEqual(1);
  });

  it("the session's deadline: watch() rejects with TimeoutError, its pending command too, and the handle is dead afterwards", async () => {
    const { redis } = await open();
    const key = keysOf("deadline");
    let handle: { get(key: string): Promise<unknown> } | undefined;
    let pending: Promise<unknown> | undefined;
    const error = await rejection(
      redis.watch(
        key("q"),
        async (tx) => {
          handle = tx;
          pending = tx.blpop(key("q"), 5).catch((e: unknown) => e); // blocks past the deadline
          return pending;
        },
        { timeoutMs: 300 },
      ),
    );
    expect(error).toBeInstanceOf(TimeoutError);
    expect(await pending).toBeInstanceOf(TimeoutError);
    expect(await rejection(handle!.get(key("q")))).toBeInstanceOf(TimeoutError);
  });

  it("a handle used after its callback ended rejects with ClosedError", async () => {
    const { redis } = await open();
    const key = keysOf("late");
    let handle: { get(key: string): Promise<unknown> } | undefined;
    await redis.watch(key("a"), async (tx) => {
      handle = tx;
    });
    expect(await rejection(handle!.get(key("a")))).toBeInstanceOf(ClosedError);
  });

  it("keys across slots: watch() and the handle's commands reject with CrossSlotError", async () => {
    const { redis } = await open();
    const a = keysOf("ws-a")("k");
    const b = keysOf("ws-b")("k");
    expect(await rejection(redis.watch([a, b], async () => undefined))).toBeInstanceOf(CrossSlotError);
    const inside = await rejection(redis.watch(a, async (tx) => tx.get(b)));
    expect(inside).toBeInstanceOf(CrossSlotError);
    const transaction = await rejection(redis.watch(a, async (tx) => tx.multi().set(b, "1").exec()));
    expect(transaction).toBeInstanceOf(CrossSlotError);
    expect(await redis.exists(a, b)).toBe(0);
  });

  it("tx.watch() adds keys of the slot, tx.unwatch() forgets them", async () => {
    const { redis } = await open();
    const other = clients.create({ nodes: redis.topology!.primaries.map((node) => node.address) });
    const key = keysOf("more");
    const aborted = await redis.watch(key("a"), async (tx) => {
      await tx.watch(key("b"));
      await other.set(key("b"), "x");
      return tx.multi().set(key("c"), "1").exec();
    });
    expect(aborted).toBeNull();
    const committed = await redis.watch(key("a"), async (tx) => {
      await tx.unwatch();
      await other.set(key("a"), "y");
      return tx.multi().set(key("c"), "2").exec();
    });
    expect(committed).toEqual(["OK"]);
    expect(await redis.get(key("c"))).toBe("2");
  });
});
