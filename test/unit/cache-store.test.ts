/**
 * The client-side cache's parts that need no server: the LRU store (bounds, order, the
 * per-key, per-socket and per-slot lists), reply names, key names, reply copies and sizes,
 * the `clientCache` option's checks, and which commands are cacheable.
 */
import { describe, expect, it } from "vitest";
import { CACHEABLE_COMMANDS, cacheableForm } from "../../src/cache/commands.js";
import { normalizeClientCache } from "../../src/cache/options.js";
import { CacheEntry, CacheStore, Tracker } from "../../src/cache/store.js";
import { copyReply, keyName, replyBytes, replyName } from "../../src/cache/values.js";
import { keyIndexes } from "../../src/command/keys.js";
import { CommandFlag, findCommand } from "../../src/command/table.js";
import type { Connection } from "../../src/connection/connection.js";
import { ConfigError } from "../../src/errors.js";

/** A stand-in for a connection: only `socketEpoch` is read by a Tracker. */
function fakeConnection(): { socketEpoch: number } {
  return { socketEpoch: 1 };
}

function tracker(connection = fakeConnection()): Tracker {
  return new Tracker(connection as unknown as Connection);
}

function entry(name: string, options: { key?: string; slot?: number; bytes?: number; on?: Tracker } = {}) {
  return new CacheEntry(
    name,
    options.key ?? name,
    options.slot ?? 0,
    `value of ${name}`,
    options.bytes ?? 10,
    options.on ?? tracker(),
    Number.POSITIVE_INFINITY,
  );
}

describe("CacheStore (the LRU)", () => {
  it("keeps at most maxEntries; the least recently used goes first", () => {
    const store = new CacheStore(3, 1_000_000);
    for (const name of ["a", "b", "c"]) store.add(entry(name));
    store.touch(store.get("a")!); // order now: a, c, b (newest first)
    store.add(entry("d"));
    expect(store.get("b")).toBeUndefined();
    expect(["a", "c", "d"].map((name) => store.get(name)?.name)).toEqual(["a", "c", "d"]);
    expect(store.size).toBe(3);
    expect(store.counters.evictions).toBe(1);
    store.add(entry("e"));
    expect(store.get("c")).toBeUndefined(); // c was older than a and d
  });

  it("keeps at most maxBytes; an entry larger than maxBytes alone is not stored", () => {
    const store = new CacheStore(1000, 100);
    for (let i = 0; i < 10; i++) store.add(entry(`k${i}`, { bytes: 30 }));
    expect(store.bytes).toBeLessThanOrEqual(100);
    expect(store.size).toBe(3);
    expect(store.counters.evictions).toBe(7);
    expect(store.add(entry("huge", { bytes: 101 }))).toBe(false);
    expect(store.get("huge")).toBeUndefined();
    expect(store.size).toBe(3);
  });

  it("replacing an entry of the same name counts its bytes once", () => {
    const store = new CacheStore(10, 1000);
    store.add(entry("a", { bytes: 40 }));
    store.add(entry("a", { bytes: 50 }));
    expect(store.size).toBe(1);
    expect(store.bytes).toBe(50);
  });

  it("deleteKey removes every reply of one key, and only those", () => {
    const store = new CacheStore(100, 100_000);
    store.add(entry("get k", { key: "k" }));
    store.add(entry("strlen k", { key: "k" }));
    store.add(entry("get other", { key: "other" }));
    store.add(entry("exists k", { key: "k" }));
    expect(store.deleteKey("k")).toBe(3);
    expect(store.size).toBe(1);
    expect(store.get("get other")).toBeDefined();
    expect(store.deleteKey("k")).toBe(0);
    expect(store.bytes).toBe(10);
  });

  it("deleteTracker removes the replies read through one socket", () => {
    const store = new CacheStore(100, 100_000);
    const one = tracker();
    const two = tracker();
    store.add(entry("a", { on: one }));
    store.add(entry("b", { on: two }));
    store.add(entry("c", { on: one }));
    expect(store.deleteTracker(one)).toBe(2);
    expect(store.get("b")).toBeDefined();
    expect(one.head).toBeUndefined();
  });

  it("deleteSlot removes the replies of one slot, deleteTrackerWhere those chosen", () => {
    const store = new CacheStore(100, 100_000);
    const on = tracker();
    store.add(entry("a", { slot: 5, on }));
    store.add(entry("b", { slot: 6, on }));
    store.add(entry("c", { slot: 5, on }));
    expect(store.deleteSlot(5)).toBe(2);
    expect(store.size).toBe(1);
    expect(store.deleteTrackerWhere(on, (candidate) => candidate.slot === 6)).toBe(1);
    expect(store.size).toBe(0);
    expect(store.bytes).toBe(0);
  });

  it("an entry removed from the middle of every list leaves the lists whole", () => {
    const store = new CacheStore(100, 100_000);
    const on = tracker();
    for (const name of ["a", "b", "c"]) store.add(entry(name, { key: "k", slot: 1, on }));
    store.delete(store.get("b")!);
    expect(store.deleteKey("k")).toBe(2);
    for (const name of ["d", "e"]) store.add(entry(name, { key: "k", slot: 1, on }));
    expect(store.deleteSlot(1)).toBe(2);
    for (const name of ["f", "g"]) store.add(entry(name, { key: "k2", slot: 2, on }));
    expect(store.deleteTracker(on)).toBe(2);
    expect(store.size).toBe(0);
  });

  it("a tracker is live while its connection keeps the same socket", () => {
    const connection = fakeConnection();
    const one = tracker(connection);
    expect(one.live).toBe(true);
    connection.socketEpoch++;
    expect(one.live).toBe(false);
  });

  it("clear() empties everything", () => {
    const store = new CacheStore(100, 100_000);
    for (const name of ["a", "b"]) store.add(entry(name));
    store.clear();
    expect(store.size).toBe(0);
    expect(store.bytes).toBe(0);
    expect(store.get("a")).toBeUndefined();
  });
});

describe("names, copies and sizes", () => {
  it("reply names are byte-exact and injective over arguments", () => {
    expect(replyName("get", false, ["k"])).toBe(
      replyName("get", false, [Buffer.from("k")]).replace("1:b", "1:s"),
    );
    expect(replyName("hget", false, ["ab", "c"])).not.toBe(replyName("hget", false, ["a", "bc"]));
    expect(replyName("get", false, ["k"])).not.toBe(replyName("get", true, ["k"]));
    expect(replyName("zrange", false, ["k", 0, -1])).toBe(replyName("zrange", false, ["k", "0", "-1"]));
  });

  it("key names are the key's bytes: strings, Buffers and pushed bytes agree", () => {
    expect(keyName("user:1")).toBe(keyName(Buffer.from("user:1")));
    expect(keyName("é")).toBe(Buffer.from("é").toString("latin1"));
    expect(keyName(42)).toBe("42");
  });

  it("copies mutable replies deeply and hands immutable ones back as they are", () => {
    const reply = { a: ["1", Buffer.from("x")], b: "2" };
    const copy = copyReply(reply);
    expect(copy).toEqual(reply);
    expect(copy).not.toBe(reply);
    expect(copy.a).not.toBe(reply.a);
    expect(copy.a[1]).not.toBe(reply.a[1]);
    const text = "same";
    expect(copyReply(text)).toBe(text);
    expect(copyReply(null)).toBeNull();
  });

  it("sizes grow with the reply", () => {
    expect(replyBytes("x".repeat(1000))).toBeGreaterThan(1000);
    expect(replyBytes("é".repeat(1000))).toBeGreaterThanOrEqual(1000);
    expect(replyBytes(["a", "b"])).toBeGreaterThan(replyBytes("a") + replyBytes("b"));
    expect(replyBytes(Buffer.alloc(500))).toBeGreaterThan(500);
  });
});

describe("the clientCache option", () => {
  it("fills in defaults and turns the mode into CLIENT TRACKING arguments", () => {
    expect(normalizeClientCache({ maxEntries: 10 }, undefined, undefined)).toMatchObject({
      maxEntries: 10,
      maxBytes: 64 * 1024 * 1024,
      ttlMs: 0,
      mode: "default",
      trackingArgs: ["ON"],
    });
    expect(normalizeClientCache({ maxEntries: 10, mode: "optin" }, 3, undefined)?.trackingArgs).toEqual([
      "ON",
      "OPTIN",
    ]);
    expect(
      normalizeClientCache({ maxEntries: 10, mode: "bcast", prefixes: ["a:", "b:"] }, 3, "app:")
        ?.trackingArgs,
    ).toEqual(["ON", "BCAST", "PREFIX", "app:a:", "PREFIX", "app:b:"]);
    expect(normalizeClientCache({ maxEntries: 10, mode: "bcast" }, 3, "app:")?.trackingArgs).toEqual([
      "ON",
      "BCAST",
      "PREFIX",
      "app:",
    ]);
    expect(normalizeClientCache(undefined, 2, undefined)).toBeUndefined();
  });

  it.each([
    [{ maxEntries: 10 }, 2, /protocol.*RESP3/],
    [{}, 3, /maxEntries.*required/],
    [{ maxEntries: 0 }, 3, /maxEntries/],
    [{ maxEntries: 1.5 }, 3, /maxEntries/],
    [{ maxEntries: 10, maxBytes: -1 }, 3, /maxBytes/],
    [{ maxEntries: 10, ttl: 0 }, 3, /clientCache\.ttl/],
    [{ maxEntries: 10, ttl: 2 ** 31 }, 3, /clientCache\.ttl/],
    [{ maxEntries: 10, mode: "push" }, 3, /mode/],
    [{ maxEntries: 10, prefixes: ["a"] }, 3, /prefixes.*bcast/],
    [{ maxEntries: 10, mode: "bcast", prefixes: ["a", "ab"] }, 3, /overlap/],
    [{ maxEntries: 10, mode: "bcast", prefixes: [""] }, 3, /non-empty/],
    [{ maxEntries: 10, size: 3 }, 3, /unknown field/],
    ["yes", 3, /expected/],
  ])("refuses %j (protocol %s) with a ConfigError", (value, protocol, message) => {
    expect(() => normalizeClientCache(value, protocol, undefined)).toThrow(ConfigError);
    expect(() => normalizeClientCache(value, protocol, undefined)).toThrow(message);
  });
});

describe("cacheable commands", () => {
  it("are read-only commands of the table whose first argument is their one key", () => {
    for (const name of CACHEABLE_COMMANDS) {
      const info = findCommand(name);
      expect(info, name).toBeDefined();
      expect(info!.flags & CommandFlag.READONLY, name).not.toBe(0);
      if (name === "mget") continue;
      const args = name === "exists" ? ["k"] : ["k", "a", "b", "c", "d"];
      expect(keyIndexes(info!, args)?.[0], name).toBe(0);
    }
  });

  it("EXISTS with one key and MGET key by key; nothing else of several keys", () => {
    expect(cacheableForm("get", ["k"])).toBe("whole");
    expect(cacheableForm("exists", ["k"])).toBe("whole");
    expect(cacheableForm("exists", ["a", "b"])).toBeUndefined();
    expect(cacheableForm("mget", ["a", "b"])).toBe("perKey");
    expect(cacheableForm("ttl", ["k"])).toBeUndefined();
    expect(cacheableForm("srandmember", ["k"])).toBeUndefined();
    expect(cacheableForm("get", [])).toBeUndefined();
  });
});
