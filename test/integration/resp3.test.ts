/**
 * RESP3 through the client (`protocol: 3`) on the shared cluster: every connection speaks it
 * (topology discovery, primaries, replicas, pipelines), and each RESP3 type comes back as the
 * README says, checked against the real server (`DEBUG PROTOCOL <type>` sends each type on
 * demand; dev nodes run with `enable-debug-command local`). The replies whose shape differs
 * from RESP2 are listed side by side. Every key is deleted afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DevCluster, DevNode } from "../../src/dev/index.js";
import { type NodeHandle, RedisCluster } from "../../src/index.js";
import { useClients } from "../helpers/client.js";
import { sharedDevCluster } from "../helpers/cluster.js";
import { keyInSlot } from "../helpers/keys.js";
import { waitFor } from "../helpers/wait.js";

let dev: DevCluster;
const clients = useClients();
const keysToDelete = new Set<string>();

beforeAll(async () => {
  dev = await sharedDevCluster();
  await dev.refresh();
});

afterAll(async () => {
  if (dev === undefined || keysToDelete.size === 0) return;
  const client = new RedisCluster({ nodes: dev.seeds });
  try {
    await client.del(...keysToDelete);
  } finally {
    await client.close();
  }
});

function primaries(): DevNode[] {
  return dev.nodes.filter((node) => node.role === "primary");
}

/** A key on each primary, remembered for deletion. */
function keyPerPrimary(suffix: string): string[] {
  const keys = primaries().map((node) => keyInSlot(node.slots[0]![0], `resp3:${suffix}`));
  for (const key of keys) keysToDelete.add(key);
  return keys;
}

function key(suffix: string): string {
  const [first] = keyPerPrimary(suffix);
  return first!;
}

async function anyPrimary<R extends 2 | 3>(client: RedisCluster<R>): Promise<NodeHandle<R>> {
  await client.connect();
  return client.nodes("primary")[0]!;
}

describe("protocol: 3", () => {
  it("is spoken by every connection: discovery, primaries, replicas, pipelines", async () => {
    const clientName = "resp3-everywhere";
    const client = clients.create({ nodes: dev.seeds, protocol: 3, readFrom: "replica", clientName });
    const keys = keyPerPrimary("everywhere");
    await client.mset(Object.fromEntries(keys.map((name) => [name, "v"])));
    const writes = client.pipeline();
    for (const name of keys) writes.hset(`${name}:h`, "f", "1");
    for (const name of keys) keysToDelete.add(`${name}:h`);
    expect(await writes.exec()).toEqual([1, 1, 1]);
    // Reads go to replicas, which may lag behind the writes: read (in pipelines) until they have them.
    await waitFor("the replicas to serve every hash", 10_000, async () => {
      const reads = client.pipeline();
      for (const name of keys) reads.hgetall(`${name}:h`).get(name);
      const replies = await reads.exec();
      return JSON.stringify(replies) === JSON.stringify(keys.flatMap(() => [{ f: "1" }, "v"]));
    });
    // The topology came from RESP3 CLUSTER SHARDS (maps): every node, roles included.
    expect(client.nodes("replica")).toHaveLength(dev.nodes.filter((node) => node.role === "replica").length);
    for (const node of dev.nodes) {
      const list = String(await dev.command(node.port, "CLIENT", "LIST"));
      const ours = list.split("\n").filter((line) => line.includes(` name=${clientName} `));
      expect(ours.length, `connections of the client on ${node.address} (${node.role})`).toBeGreaterThan(0);
      for (const line of ours) expect(line).toContain(" resp=3");
    }
  });
});

describe("RESP3 types, as the client returns them", () => {
  it("maps become objects", async () => {
    const client = clients.create({ nodes: dev.seeds, protocol: 3 });
    const hash = key("map");
    await client.hset(hash, "a", "1", "b", "two");
    expect(await client.hgetall(hash)).toEqual({ a: "1", b: "two" });
    const node = await anyPrimary(client);
    expect(await node.call("CONFIG", "GET", "maxmemory-policy")).toEqual({
      "maxmemory-policy": "noeviction",
    });
    // Keys that are not strings become their text: DEBUG PROTOCOL map is {0: false, 1: true, 2: false}.
    expect(await node.call("DEBUG", "PROTOCOL", "map")).toEqual({ 0: false, 1: true, 2: false });
  });

  it("doubles become numbers", async () => {
    const client = clients.create({ nodes: dev.seeds, protocol: 3 });
    const zset = key("double");
    await client.zadd(zset, 1.5, "m");
    expect(await client.zscore(zset, "m")).toBe(1.5);
    expect(await client.zincrby(zset, 1, "m")).toBe(2.5);
    // The server sends ",3.141\r\n" (three decimals, not pi).
    expect(await (await anyPrimary(client)).call("DEBUG", "PROTOCOL", "double")).toBe(3141 / 1000);
  });

  it("big numbers become bigints", async () => {
    const client = clients.create({ nodes: dev.seeds, protocol: 3 });
    expect(await (await anyPrimary(client)).call("DEBUG", "PROTOCOL", "bignum")).toBe(
      1234567999999999999999999999999999999n,
    );
  });

  it("verbatim strings become strings (without their txt: prefix)", async () => {
    const client = clients.create({ nodes: dev.seeds, protocol: 3 });
    const node = await anyPrimary(client);
    expect(await node.call("DEBUG", "PROTOCOL", "verbatim")).toBe("This is a verbatim\nstring");
    const info = await node.call("INFO", "server");
    expect(typeof info).toBe("string");
    expect(info).toMatch(/^# Server\r\n/);
  });

  it("sets become arrays", async () => {
    const client = clients.create({ nodes: dev.seeds, protocol: 3 });
    const set = key("set");
    await client.sadd(set, "x", "y");
    expect(((await client.smembers(set)) as string[]).sort()).toEqual(["x", "y"]);
    expect(await (await anyPrimary(client)).call("DEBUG", "PROTOCOL", "set")).toEqual([0, 1, 2]);
  });

  it("booleans become booleans, null null; attributes are dropped; a push frame does not disturb replies", async () => {
    const client = clients.create({ nodes: dev.seeds, protocol: 3 });
    const node = await anyPrimary(client);
    expect(await node.call("DEBUG", "PROTOCOL", "true")).toBe(true);
    expect(await node.call("DEBUG", "PROTOCOL", "false")).toBe(false);
    expect(await node.call("DEBUG", "PROTOCOL", "null")).toBeNull();
    expect(await node.call("DEBUG", "PROTOCOL", "attrib")).toBe("Some real reply following the attribute");
    const [afterPush, next] = await Promise.all([
      node.call("DEBUG", "PROTOCOL", "push"),
      node.call("DEBUG", "PROTOCOL", "integer"),
    ]);
    expect(afterPush).toBe("Some real reply following the push reply");
    expect(next).toBe(12345);
  });
});

describe("replies whose shape differs between RESP2 and RESP3", () => {
  it.each([
    ["ZSCORE", async (c: RedisCluster, k: string) => c.zscore(k, "m"), "1.5", 1.5],
    [
      "ZRANGE ... WITHSCORES",
      async (c: RedisCluster, k: string) => c.zrange(k, 0, -1, "WITHSCORES"),
      ["m", "1.5"],
      [["m", 1.5]],
    ],
    ["ZPOPMIN", async (c: RedisCluster, k: string) => c.zpopmin(k), ["m", "1.5"], ["m", 1.5]],
    [
      "ZRANDMEMBER ... WITHSCORES",
      async (c: RedisCluster, k: string) => c.zrandmember(k, 1, "WITHSCORES"),
      ["m", "1.5"],
      [["m", 1.5]],
    ],
  ] as const)("%s", async (_name, run, resp2, resp3) => {
    const zset = key(`shape-${_name.replace(/\W+/g, "-")}`);
    const two = clients.create({ nodes: dev.seeds, protocol: 2 });
    const three = clients.create({ nodes: dev.seeds, protocol: 3 });
    await two.zadd(zset, 1.5, "m");
    expect(await run(two, zset)).toEqual(resp2);
    await two.zadd(zset, 1.5, "m");
    // The same call, typed for RESP2, made through a RESP3 client: the point is the shape it gets.
    expect(await run(three as unknown as RedisCluster, zset)).toEqual(resp3);
  });

  it("HRANDFIELD ... WITHVALUES and CONFIG GET; HGETALL is an object under both", async () => {
    const hash = key("shape-hash");
    const two = clients.create({ nodes: dev.seeds, protocol: 2 });
    const three = clients.create({ nodes: dev.seeds, protocol: 3 });
    await two.hset(hash, "a", "1");
    expect(await two.hrandfield(hash, 1, "WITHVALUES")).toEqual(["a", "1"]);
    expect(await three.hrandfield(hash, 1, "WITHVALUES")).toEqual([["a", "1"]]);
    expect(await two.hgetall(hash)).toEqual({ a: "1" });
    expect(await three.hgetall(hash)).toEqual({ a: "1" });
    expect(await (await anyPrimary(two)).call("CONFIG", "GET", "maxmemory-policy")).toEqual([
      "maxmemory-policy",
      "noeviction",
    ]);
    expect(await (await anyPrimary(three)).call("CONFIG", "GET", "maxmemory-policy")).toEqual({
      "maxmemory-policy": "noeviction",
    });
  });
});
