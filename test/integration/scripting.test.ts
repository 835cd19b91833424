/**
 * Lua scripts and functions on the real shared cluster: EVAL/EVALSHA/FCALL (and their _RO
 * forms) routed by their keys, keyless ones on one primary, `defineScript()` sending EVAL to
 * a node the first time and EVALSHA after (server stats say which), scripts in pipelines
 * and transactions, `defineCommand()`, and the keyless SCRIPT / FUNCTION commands sent to
 * every node (or primary) with their replies merged. What breaks nodes (a failover, SCRIPT
 * FLUSH, FUNCTION FLUSH) is in test/chaos/scripts-failover.test.ts.
 */
import { describe, expect, it } from "vitest";
import type { DevCluster } from "../../src/dev/index.js";
import { ArgumentError, type RedisCluster, type RedisClusterOptions } from "../../src/index.js";
import { useClients } from "../helpers/client.js";
import { sharedDevCluster } from "../helpers/cluster.js";
import { commandCalls, primaryPortOf } from "../helpers/node-stats.js";

const clients = useClients();

let run = 0;
function keysOf(label: string): (name: string) => string {
  const tag = `{lua:${label}:${Date.now()}:${run++}}`;
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

/** A script body unique to this run, so that no node has it cached yet. */
function freshLua(body: string): string {
  return `-- ${Date.now()}:${run++}\n${body}`;
}

describe("EVAL, EVALSHA, FCALL", () => {
  it("route by their keys, each straight to the key's primary (no MOVED)", async () => {
    const { redis } = await open();
    const lua = "return redis.call('GET', KEYS[1])";
    const sha = (await redis.script("LOAD", lua)) as string;
    for (let i = 0; i < 12; i++) {
      const key = keysOf("route")("k");
      await redis.set(key, `v${i}`);
      const movedBefore = redis.stats().moved;
      expect(await redis.eval(lua, 1, key)).toBe(`v${i}`);
      expect(await redis.evalsha(sha, 1, key)).toBe(`v${i}`);
      expect(await redis.eval_ro(lua, 1, key)).toBe(`v${i}`);
      expect(await redis.evalsha_ro(sha, 1, key)).toBe(`v${i}`);
      expect(redis.stats().moved).toBe(movedBefore);
    }
  });

  it("a keyless script runs on one primary", async () => {
    const { dev, redis } = await open();
    const nodes = await dev.refresh();
    const before = await Promise.all(nodes.map((node) => commandCalls(dev, node.port, "eval")));
    expect(await redis.eval("return 'hello from ' .. ARGV[1]", 0, "lua")).toBe("hello from lua");
    const after = await Promise.all(nodes.map((node) => commandCalls(dev, node.port, "eval")));
    const ranOn = nodes.filter((_, i) => after[i]! > before[i]!);
    expect(ranOn.map((node) => node.role)).toEqual(["primary"]);
  });

  it("FCALL and FCALL_RO route by their keys after FUNCTION LOAD reached every primary", async () => {
    const { dev, redis } = await open();
    const library = `rclib${Date.now()}${run++}`;
    const code = [
      `#!lua name=${library}`,
      `redis.register_function('${library}_get', function(keys) return redis.call('GET', keys[1]) end)`,
      `redis.register_function{function_name='${library}_ro', callback=function(keys) return redis.call('GET', keys[1]) end, flags={'no-writes'}}`,
    ].join("\n");
    expect(await redis.function("LOAD", code)).toBe(library);
    try {
      for (const node of redis.nodes("primary")) {
        const listed = (await node.function("LIST", "LIBRARYNAME", library)) as unknown[];
        expect(listed, node.address).toHaveLength(1);
      }
      for (let i = 0; i < 6; i++) {
        const key = keysOf("fcall")("k");
        await redis.set(key, `f${i}`);
        expect(await redis.fcall(`${library}_get`, 1, key)).toBe(`f${i}`);
        expect(await redis.fcall_ro(`${library}_ro`, 1, key)).toBe(`f${i}`);
      }
      // FUNCTION DUMP from one node, DELETE everywhere, RESTORE everywhere.
      const dump = (await redis.functionBuffer("DUMP")) as Buffer;
      expect(await redis.function("DELETE", library)).toBe("OK");
      for (const port of (await dev.refresh()).filter((n) => n.role === "primary").map((n) => n.port)) {
        expect(await dev.command(port, "FUNCTION", "LIST", "LIBRARYNAME", library)).toEqual([]);
      }
      expect(await redis.function("RESTORE", dump)).toBe("OK");
      const key = keysOf("restored")("k");
      await redis.set(key, "back");
      expect(await redis.fcall(`${library}_get`, 1, key)).toBe("back");
    } finally {
      await redis.function("DELETE", library).catch(() => undefined);
    }
  });
});

describe("defineScript()", () => {
  it("sends EVAL to a node the first time and EVALSHA after (server stats), with the script's replies", async () => {
    const { dev, redis } = await open();
    const incrBy = redis.defineScript<number>({
      lua: freshLua("return redis.call('INCRBY', KEYS[1], ARGV[1])"),
      numberOfKeys: 1,
    });
    const key = keysOf("define")("n");
    const port = await primaryPortOf(dev, key);
    const evalsBefore = await commandCalls(dev, port, "eval");
    const evalshasBefore = await commandCalls(dev, port, "evalsha");
    expect(await incrBy(key, 5)).toBe(5);
    expect(await incrBy(key, 5)).toBe(10);
    expect(await incrBy(key, 5)).toBe(15);
    expect((await commandCalls(dev, port, "eval")) - evalsBefore).toBe(1);
    expect((await commandCalls(dev, port, "evalsha")) - evalshasBefore).toBe(2);
    expect(incrBy.sha).toBe(await redis.nodes("primary")[0]!.script("LOAD", incrBy.lua));
  });

  it("keeps its place among the commands of a pipeline and of a transaction", async () => {
    const { redis } = await open();
    const append = redis.defineScript({
      lua: freshLua("return redis.call('APPEND', KEYS[1], ARGV[1])"),
      numberOfKeys: 1,
    });
    const key = keysOf("order")("s");
    // In a pipeline, the GET right after a script's first call (sent as EVAL) sees its write.
    expect(
      await redis.pipeline().runScript(append, key, "a").get(key).runScript(append, key, "b").get(key).exec(),
    ).toEqual([1, "a", 2, "ab"]);
    // In a transaction it is EVAL, inside MULTI … EXEC with the rest.
    expect(await redis.multi().runScript(append, key, "c").get(key).exec()).toEqual([3, "abc"]);
    expect(await append.buffer(key, "d")).toBe(4);
  });

  it("without numberOfKeys, each call passes the number of keys first (as EVAL takes it)", async () => {
    const { redis } = await open();
    const count = redis.defineScript({ lua: freshLua("return #KEYS .. ':' .. #ARGV") });
    const key = keysOf("numkeys");
    expect(await count(2, key("a"), key("b"), "x")).toBe("2:1");
    expect(await count(0, "x", "y")).toBe("0:2");
  });

  it("a read-only script goes to a replica when the client reads from replicas (EVALSHA_RO / EVAL_RO)", async () => {
    const { dev, redis } = await open({ readFrom: "replica" });
    const read = redis.defineScript({
      lua: freshLua("return redis.call('GET', KEYS[1])"),
      numberOfKeys: 1,
      readOnly: true,
    });
    const key = keysOf("ro")("k");
    await redis.set(key, "replicated");
    const replicas = (await dev.refresh()).filter((node) => node.role === "replica").map((node) => node.port);
    const before = await Promise.all(replicas.map((port) => commandCalls(dev, port, "eval_ro")));
    let value: unknown;
    // The write reaches the replica shortly after it reached the primary.
    for (let i = 0; i < 50 && value !== "replicated"; i++) value = await read(key);
    expect(value).toBe("replicated");
    const after = await Promise.all(replicas.map((port) => commandCalls(dev, port, "eval_ro")));
    expect(after.reduce((sum, n) => sum + n, 0)).toBeGreaterThan(before.reduce((sum, n) => sum + n, 0));
  });

  it("rejects what it cannot send: a bad definition, too few keys, a foreign object in runScript", async () => {
    const { redis } = await open();
    expect(() => redis.defineScript({ lua: 42 as unknown as string })).toThrow(ArgumentError);
    expect(() => redis.defineScript({ lua: "return 1", numberOfKeys: -1 })).toThrow(ArgumentError);
    const twoKeys = redis.defineScript({ lua: "return 1", numberOfKeys: 2 });
    await expect(twoKeys("only-one")).rejects.toBeInstanceOf(ArgumentError);
    await expect(redis.runScript({ sha: "x" }, "k")).rejects.toBeInstanceOf(ArgumentError);
    const [refused] = await redis.pipeline().runScript("not a script", "k").exec();
    expect(refused).toBeInstanceOf(ArgumentError);
  });
});

describe("defineCommand()", () => {
  it("adds the method to the client, its pipelines, transactions and WATCH handles", async () => {
    const { redis } = await open();
    const script = redis.defineCommand("incrCapped", {
      lua: freshLua(
        "local v = redis.call('INCR', KEYS[1]) if v > tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) return tonumber(ARGV[1]) end return v",
      ),
      numberOfKeys: 1,
    });
    const key = keysOf("cmd")("n");
    type WithCommand = { incrCapped(key: string, cap: number): Promise<unknown> };
    expect(await (redis as unknown as WithCommand).incrCapped(key, 2)).toBe(1);
    const pipeline = redis.pipeline() as unknown as {
      incrCapped(key: string, cap: number): { exec(): Promise<unknown[]> };
    };
    expect(await pipeline.incrCapped(key, 2).exec()).toEqual([2]);
    const transaction = redis.multi() as unknown as {
      incrCapped(key: string, cap: number): { exec(): Promise<unknown[]> };
    };
    expect(await transaction.incrCapped(key, 2).exec()).toEqual([2]);
    const inSession = await redis.watch(key, (tx) => (tx as unknown as WithCommand).incrCapped(key, 5));
    expect(inSession).toBe(3);
    expect(script.sha).toMatch(/^[0-9a-f]{40}$/);
    expect(() => redis.defineCommand("get", { lua: "return 1" })).toThrow(ArgumentError);
    expect(() => redis.defineCommand("incrCapped", { lua: "return 1" })).toThrow(ArgumentError);
  });
});

describe("SCRIPT and FUNCTION commands without keys", () => {
  it("SCRIPT LOAD reaches every node (replicas too); SCRIPT EXISTS answers 1 only where every primary has it", async () => {
    const { redis } = await open();
    const everywhere = (await redis.script("LOAD", freshLua("return 'everywhere'"))) as string;
    for (const node of redis.nodes("all"))
      expect(await node.script("EXISTS", everywhere), node.address).toEqual([1]);
    // A script one primary has: the cluster as a whole does not.
    const primaries = redis.nodes("primary");
    const onOne = (await primaries[0]!.script("LOAD", freshLua("return 'one node'"))) as string;
    expect(await primaries[0]!.script("EXISTS", onOne)).toEqual([1]);
    const unknown = "0".repeat(40);
    expect(await redis.script("EXISTS", everywhere, onOne, unknown)).toEqual([1, 0, 0]);
  });
});
