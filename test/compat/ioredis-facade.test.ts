/**
 * `rediscluster/ioredis` on the shared cluster: the shapes libraries written against
 * ioredis rely on — status and events, callbacks, argument flattening, `[error, result]`
 * tuples from `exec()`, `defineCommand` on the client and its batches, `duplicate`,
 * Pub/Sub events (classic, sharded, pattern; string and Buffer), `scanStream`, `nodes()`.
 */
import { once } from "node:events";
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { ClosedError, ReplyError } from "../../src/index.js";
import { tagFor, useFacades } from "./facades.js";

const facades = useFacades();

describe("rediscluster/ioredis Cluster", () => {
  it("goes from wait to ready with lazyConnect, emitting connect and ready, and ends on quit", async () => {
    const cluster = await facades.ioredis({ lazyConnect: true });
    expect(cluster.status).toBe("wait");
    expect(cluster.isCluster).toBe(true);
    const events: string[] = [];
    for (const event of ["connect", "ready", "close", "end"]) cluster.on(event, () => events.push(event));
    await cluster.connect();
    expect(cluster.status).toBe("ready");
    expect(await cluster.quit()).toBe("OK");
    expect(cluster.status).toBe("end");
    expect(events).toEqual(["connect", "ready", "close", "end"]);
    // ioredis's words, which libraries match on; the native class and code.
    const refused = await cluster.get("any").catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ClosedError);
    expect(refused).toMatchObject({ message: "Connection is closed.", code: "RC_CLOSED" });
  });

  it("connects by itself, and again after disconnect(), keeping its defined commands and channels", async () => {
    const cluster = await facades.ioredis();
    const publisher = await facades.ioredis();
    await once(cluster, "ready");
    cluster.defineCommand("echoKey", { lua: "return KEYS[1]", numberOfKeys: 1 });
    const channel = `${tagFor("reconnect")}:ch`;
    await cluster.subscribe(channel);
    const ended = once(cluster, "end");
    cluster.disconnect();
    await ended;
    expect(cluster.status).toBe("end");
    await cluster.connect();
    expect(cluster.status).toBe("ready");
    expect(await (cluster as unknown as { echoKey(key: string): Promise<unknown> }).echoKey("k")).toBe("k");
    // Subscribed again before "ready": the first message after connect() arrives. (PUBLISH's
    // count is of the receiving node's subscribers only, so it says nothing in a cluster.)
    const heard = once(cluster, "message");
    await publisher.publish(channel, "again");
    expect(await heard).toEqual([channel, "again"]);
  });

  it("connects again when connect() follows disconnect() at once, as BullMQ's cluster recovery does", async () => {
    const cluster = await facades.ioredis();
    await once(cluster, "ready");
    cluster.disconnect(false);
    expect(cluster.status).toBe("disconnecting");
    await cluster.connect();
    expect(cluster.status).toBe("ready");
    expect(await cluster.ping()).toBe("PONG");
  });

  it("shows no password when inspected", async () => {
    const cluster = await facades.ioredis({ lazyConnect: true, redisOptions: { password: "s3cret-Pa55" } });
    expect(inspect(cluster, { depth: 10, showHidden: true })).not.toContain("s3cret-Pa55");
    expect(cluster.options.redisOptions.password).toBe("s3cret-Pa55"); // readable, as in ioredis
  });

  it("takes callbacks, flattens arrays, takes objects for hset/mset, and returns ioredis's shapes", async () => {
    const cluster = await facades.ioredis();
    const tag = tagFor("shapes");
    const viaCallback = await new Promise((resolve, reject) => {
      cluster.set(`${tag}:a`, "1", (error: Error | null, result?: unknown) =>
        error ? reject(error) : resolve(result),
      );
    });
    expect(viaCallback).toBe("OK");
    await cluster.hset(`${tag}:h`, { f: "v", g: 2 });
    expect(await cluster.hgetall(`${tag}:h`)).toEqual({ f: "v", g: "2" });
    await cluster.mset({ [`${tag}:b`]: "2", [`${tag}:c`]: "3" });
    expect(await cluster.del([`${tag}:a`, `${tag}:b`], `${tag}:c`)).toBe(3);
    const bytes = await cluster.getBuffer(`${tag}:missing`);
    expect(bytes).toBeNull();
    await cluster.set(`${tag}:bin`, Buffer.from([0xff, 0x00]));
    expect(await cluster.getBuffer(`${tag}:bin`)).toEqual(Buffer.from([0xff, 0x00]));
    await expect(cluster.call("NO.SUCH.COMMAND", `${tag}:x`)).rejects.toBeInstanceOf(Error);
  });

  it("answers multi().exec() and pipeline().exec() with [error, result] pairs", async () => {
    const cluster = await facades.ioredis();
    const tag = tagFor("tuples");
    const results = await cluster.multi().set(`${tag}:a`, "1").incr(`${tag}:a`).lpush(`${tag}:a`, "x").exec();
    expect(results?.slice(0, 2)).toEqual([
      [null, "OK"],
      [null, 2],
    ]);
    expect(results?.[2]?.[0]).toBeInstanceOf(ReplyError);
    expect(results?.[2]?.[1]).toBeNull();
    // A pipeline may span slots: the native client splits it per node.
    const spread = await cluster
      .pipeline([
        ["set", "compat:p:a", "1"],
        ["GET", "compat:p:a"],
      ])
      .incr("compat:p:b")
      .del("compat:p:a", "compat:p:b")
      .exec();
    expect(spread).toEqual([
      [null, "OK"],
      [null, "1"],
      [null, 1],
      [null, 2],
    ]);
  });

  it("defines commands as methods of the client, its pipelines and transactions, and redefines them", async () => {
    const cluster = await facades.ioredis();
    const tag = tagFor("define");
    cluster.defineCommand("incrTwice", {
      lua: "redis.call('INCRBY', KEYS[1], ARGV[1]); return redis.call('INCRBY', KEYS[1], ARGV[1])",
      numberOfKeys: 1,
    });
    const call = cluster as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    expect(await call.incrTwice!([`${tag}:n`, 2])).toBe(4); // one array, as BullMQ passes it
    const batch = cluster.multi() as unknown as Record<string, (...args: unknown[]) => unknown>;
    batch.incrTwice!(`${tag}:n`, 1);
    expect(await (batch as unknown as { exec(): Promise<unknown> }).exec()).toEqual([[null, 6]]);
    cluster.defineCommand("incrTwice", { lua: "return 'replaced'", numberOfKeys: 1 });
    expect(await call.incrTwice!(`${tag}:n`)).toBe("replaced");
    expect(await call.incrTwiceBuffer!(`${tag}:n`)).toEqual(Buffer.from("replaced"));
  });

  it("duplicates into an independent client that ends on its own", async () => {
    const cluster = await facades.ioredis();
    const copy = facades.track(cluster.duplicate());
    await once(copy, "ready");
    await copy.quit();
    expect(copy.status).toBe("end");
    expect(await cluster.ping()).toBe("PONG");
  });

  it("delivers classic, sharded and pattern messages as string and Buffer events", async () => {
    const publisher = await facades.ioredis();
    const subscriber = await facades.ioredis();
    const tag = tagFor("pubsub");
    const seen: unknown[][] = [];
    subscriber.on("message", (...args) => seen.push(["message", ...args]));
    subscriber.on("smessageBuffer", (channel: Buffer, message: Buffer) =>
      seen.push(["smessageBuffer", Buffer.isBuffer(channel), message.toString()]),
    );
    subscriber.on("pmessage", (...args) => seen.push(["pmessage", ...args]));
    expect(await subscriber.subscribe(`${tag}:c`)).toBe(1);
    expect(await subscriber.ssubscribe(`${tag}:s1`, `${tag}:s2`)).toBe(2);
    expect(await subscriber.psubscribe(`${tag}:p*`)).toBe(1);
    await publisher.publish(`${tag}:c`, "one");
    await publisher.spublish(`${tag}:s2`, "two");
    await publisher.publish(`${tag}:p9`, "three");
    await expect.poll(() => seen.length, { timeout: 10_000 }).toBe(3);
    expect(seen).toEqual(
      expect.arrayContaining([
        ["message", `${tag}:c`, "one"],
        ["smessageBuffer", true, "two"],
        ["pmessage", `${tag}:p*`, `${tag}:p9`, "three"],
      ]),
    );
    expect(await subscriber.sunsubscribe(`${tag}:s1`)).toBe(1);
    expect(await subscriber.sunsubscribe()).toBe(0);
  });

  it("streams the keys of every primary with scanStream, and hands out nodes", async () => {
    const cluster = await facades.ioredis();
    await once(cluster, "ready");
    const prefix = `compat:scan:${process.pid}:${Date.now()}`;
    const keys = Array.from({ length: 30 }, (_, i) => `${prefix}:${i}`);
    await cluster.mset(Object.fromEntries(keys.map((key) => [key, "1"])));
    const seen = new Set<string>();
    for await (const batch of cluster.scanStream({ match: `${prefix}:*`, count: 100 })) {
      for (const key of batch as string[]) seen.add(key);
    }
    expect([...seen].sort()).toEqual([...keys].sort());
    const masters = cluster.nodes("master");
    expect(masters).toHaveLength(3);
    const counts = await Promise.all(
      masters.map((node) => node.send_command("PUBSUB", ["NUMSUB", "nobody"])),
    );
    expect(counts).toEqual([
      ["nobody", 0],
      ["nobody", 0],
      ["nobody", 0],
    ]);
    let onNodes = 0;
    for (const node of masters) {
      for await (const batch of node.scanStream({ match: `${prefix}:*` }))
        onNodes += (batch as string[]).length;
    }
    expect(onNodes).toBe(keys.length);
    await cluster.del(keys);
  });
});
