/**
 * `keyPrefix` on the real cluster: every key a command names is stored under the prefix,
 * and only keys (values and other arguments are left alone). What lands where is read back
 * through a second client without a prefix.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { keySlot } from "../../src/command/slot.js";
import type { DevCluster } from "../../src/dev/index.js";
import type { RedisCluster } from "../../src/index.js";
import { useClients } from "../helpers/client.js";
import { sharedDevCluster } from "../helpers/cluster.js";

const clients = useClients();
let dev: DevCluster;
beforeAll(async () => {
  dev = await sharedDevCluster();
});

/** A client with a prefix of its own, and a plain one to look at what it stored. */
function pair(): { prefixed: RedisCluster; plain: RedisCluster; prefix: string } {
  const prefix = `kp-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}:`;
  return {
    prefixed: clients.create({ nodes: dev.seeds, keyPrefix: prefix }),
    plain: clients.create({ nodes: dev.seeds }),
    prefix,
  };
}

describe("keyPrefix", () => {
  it("single-key commands store and read under the prefix; values are not prefixed", async () => {
    const { prefixed, plain, prefix } = pair();
    expect(await prefixed.set("name", "value")).toBe("OK");
    expect(await plain.get(`${prefix}name`)).toBe("value");
    expect(await plain.get("name")).toBeNull();
    expect(await prefixed.get("name")).toBe("value");
    await prefixed.hset("hash", "field", "v");
    expect(await plain.hget(`${prefix}hash`, "field")).toBe("v");
    // Binary keys get the prefix's bytes in front.
    const binary = Buffer.from([0x00, 0xff, 0x0d, 0x0a]);
    await prefixed.set(binary, "binary");
    expect(await plain.get(Buffer.concat([Buffer.from(prefix), binary]))).toBe("binary");
  });

  it("routes by the prefixed key: each key is on the node that serves the prefixed key's slot", async () => {
    const { prefixed, plain, prefix } = pair();
    const keys = Array.from({ length: 200 }, (_, i) => `routed:${i}`);
    await Promise.all(keys.map((key) => prefixed.set(key, key)));
    // The plain client reads each prefixed key where the cluster says it lives; a prefixed
    // client that had routed by the bare key would have got MOVED and been corrected, so
    // check with the node itself: its slot's primary holds it.
    await plain.connect();
    const primaries = dev.nodes.filter((node) => node.role === "primary");
    for (const key of keys.slice(0, 20)) {
      const slot = keySlot(`${prefix}${key}`);
      const owner = primaries.find((node) => node.slots.some(([s, e]) => slot >= s && slot <= e))!;
      expect(await dev.command(owner.port, "GET", `${prefix}${key}`)).toBe(key);
    }
    expect(prefixed.stats().moved).toBe(0);
  });

  it("multi-key commands across slots: MSET, MGET, DEL, EXISTS, each key prefixed", async () => {
    const { prefixed, plain, prefix } = pair();
    const keys = Array.from({ length: 50 }, (_, i) => `multi:${i}`);
    expect(new Set(keys.map((key) => keySlot(`${prefix}${key}`))).size).toBeGreaterThan(10);
    expect(await prefixed.mset(...keys.flatMap((key) => [key, `v-${key}`]))).toBe("OK");
    expect(await plain.mget(...keys.map((key) => `${prefix}${key}`))).toEqual(keys.map((key) => `v-${key}`));
    expect(await prefixed.mget(...keys)).toEqual(keys.map((key) => `v-${key}`));
    expect(await prefixed.exists(...keys)).toBe(50);
    expect(await prefixed.del(...keys.slice(0, 20))).toBe(20);
    expect(await plain.exists(...keys.map((key) => `${prefix}${key}`))).toBe(30);
  });

  it("hash tags still work behind the prefix: keys of one tag share a slot (MSETNX, RENAME)", async () => {
    const { prefixed, plain, prefix } = pair();
    expect(await prefixed.msetnx("{user:42}:a", "1", "{user:42}:b", "2")).toBe(1);
    expect(await prefixed.rename("{user:42}:a", "{user:42}:c")).toBe("OK");
    expect(await plain.mget(`${prefix}{user:42}:b`, `${prefix}{user:42}:c`)).toEqual(["2", "1"]);
  });

  it("pipelines: every command's keys prefixed, results in order", async () => {
    const { prefixed, plain, prefix } = pair();
    const results = await prefixed
      .pipeline()
      .set("p:a", "1")
      .incr("p:counter")
      .rpush("p:list", "x", "y")
      .get("p:a")
      .mget("p:a", "p:missing")
      .exec();
    expect(results).toEqual(["OK", 1, 2, "1", ["1", null]]);
    expect(await plain.get(`${prefix}p:counter`)).toBe("1");
    expect(await plain.lrange(`${prefix}p:list`, 0, -1)).toEqual(["x", "y"]);
  });

  it("EVAL: the keys are prefixed, the other arguments are not", async () => {
    const { prefixed, plain, prefix } = pair();
    const script = "redis.call('SET', KEYS[1], ARGV[1]); return {KEYS[1], ARGV[1]}";
    expect(await prefixed.eval(script, 1, "scripted", "an-argument")).toEqual([
      `${prefix}scripted`,
      "an-argument",
    ]);
    expect(await plain.get(`${prefix}scripted`)).toBe("an-argument");
  });

  it("a resty-style pipeline prefixes its keys too", async () => {
    const { prefixed, plain, prefix } = pair();
    prefixed.initPipeline();
    const set = prefixed.set("resty", "r");
    const get = prefixed.get("resty");
    expect(await prefixed.commitPipeline()).toEqual(["OK", "r"]);
    expect([await set, await get]).toEqual(["OK", "r"]);
    expect(await plain.get(`${prefix}resty`)).toBe("r");
  });

  // Was a bug (issue 9, item 7): node handles sent keys without the prefix.
  it("node handles prefix the keys of their commands too", async () => {
    const { prefixed, prefix } = pair();
    await prefixed.set("by-handle", "through the handle");
    await prefixed.connect();
    const slot = keySlot(`${prefix}by-handle`);
    const owner = prefixed
      .nodes("primary")
      .find((node) => prefixed.topology!.shardOf(slot)!.primary.address === node.address)!;
    expect(await owner.get("by-handle")).toBe("through the handle");
  });
});
