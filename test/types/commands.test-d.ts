/**
 * Type tests: checked by `npm run typecheck` (tsc over test/), never run. Each
 * `@ts-expect-error` line must be an error, or tsc fails on the unused directive.
 */
import { expectTypeOf } from "vitest";
import {
  type ArgumentError,
  type AuthError,
  type ClosedError,
  type ClusterDownError,
  type Pipeline,
  RedisCluster,
  type RedisClusterOptions,
  type ReplyError,
  type TimeoutError,
} from "../../src/index.js";

declare const cluster: RedisCluster;
declare const cluster3: RedisCluster<3>;

export async function options(): Promise<void> {
  expectTypeOf(new RedisCluster({ nodes: ["127.0.0.1:7001"] })).toEqualTypeOf<RedisCluster<2>>();
  expectTypeOf(new RedisCluster({ nodes: ["127.0.0.1:7001"], protocol: 3 })).toEqualTypeOf<RedisCluster<3>>();
  expectTypeOf(new RedisCluster({ serv_list: [{ ip: "127.0.0.1", port: 7001 }] })).toEqualTypeOf<
    RedisCluster<2>
  >();
  // @ts-expect-error the seeds are required
  new RedisCluster({});
  // @ts-expect-error the seeds are required
  new RedisCluster({ protocol: 3 });
  // @ts-expect-error protocol is 2 or 3
  new RedisCluster({ nodes: ["127.0.0.1:7001"], protocol: 4 });
  const typed: RedisClusterOptions<3> = { nodes: ["127.0.0.1:7001"], protocol: 3 };
  expectTypeOf(new RedisCluster(typed)).toEqualTypeOf<RedisCluster<3>>();
  const unknownProtocol = { nodes: ["127.0.0.1:7001"], protocol: 3 as 2 | 3 };
  expectTypeOf(await new RedisCluster(unknownProtocol).zscore("z", "m")).toEqualTypeOf<
    string | number | null
  >();
}

export async function strings(): Promise<void> {
  expectTypeOf(await cluster.set("k", "v")).toEqualTypeOf<"OK">();
  expectTypeOf(await cluster.set("k", "v", "EX", 10)).toEqualTypeOf<"OK">();
  expectTypeOf(await cluster.set("k", "v", "ex", "10")).toEqualTypeOf<"OK">();
  expectTypeOf(await cluster.set("k", "v", "KEEPTTL")).toEqualTypeOf<"OK">();
  expectTypeOf(await cluster.set("k", "v", "NX")).toEqualTypeOf<"OK" | null>();
  expectTypeOf(await cluster.set("k", "v", "XX", "PX", 100)).toEqualTypeOf<"OK" | null>();
  expectTypeOf(await cluster.set("k", "v", "GET")).toEqualTypeOf<string | null>();
  expectTypeOf(await cluster.set("k", "v", "NX", "GET", "EXAT", 1_700_000_000)).toEqualTypeOf<
    string | null
  >();
  expectTypeOf(await cluster.setBuffer("k", "v")).toEqualTypeOf<Buffer>();
  // @ts-expect-error "ten" is no number
  await cluster.set("k", "v", "EX", "ten");
  // @ts-expect-error EX needs its seconds
  await cluster.set("k", "v", "EX");
  // @ts-expect-error no such option
  await cluster.set("k", "v", "FOREVER");
  // @ts-expect-error NX and XX exclude each other
  await cluster.set("k", "v", "NX", "XX");
  // Numbers as keys and values.
  expectTypeOf(await cluster.set(42, 7)).toEqualTypeOf<"OK">();
  expectTypeOf(await cluster.get(42)).toEqualTypeOf<string | null>();
  expectTypeOf(await cluster.getex("k", "PERSIST")).toEqualTypeOf<string | null>();
  expectTypeOf(await cluster.getex("k", "EX", 5)).toEqualTypeOf<string | null>();
  // @ts-expect-error PERSIST takes no value
  await cluster.getex("k", "PERSIST", 5);
  expectTypeOf(await cluster.expire("k", 10, "NX")).toEqualTypeOf<number>();
  // @ts-expect-error no such condition
  await cluster.expire("k", 10, "SOMETIMES");
  expectTypeOf(await cluster.pexpireat("k", 1_700_000_000_000, "GT")).toEqualTypeOf<number>();
  // Undocumented arguments (DEBUG) take anything.
  expectTypeOf(cluster.debug("SLEEP", 0)).toEqualTypeOf<Promise<unknown>>();
}

export async function sortedSets(): Promise<void> {
  expectTypeOf(await cluster.zadd("z", 1, "a")).toEqualTypeOf<number>();
  expectTypeOf(await cluster.zadd("z", "NX", "CH", 1, "a", 2, "b")).toEqualTypeOf<number>();
  expectTypeOf(await cluster.zadd("z", "INCR", 1, "a")).toEqualTypeOf<string | null>();
  expectTypeOf(await cluster3.zadd("z", "INCR", 1, "a")).toEqualTypeOf<number | null>();
  // @ts-expect-error a score is a number
  await cluster.zadd("z", "high", "a");
  expectTypeOf(await cluster.zscore("z", "a")).toEqualTypeOf<string | null>();
  expectTypeOf(await cluster3.zscore("z", "a")).toEqualTypeOf<number | null>();
  expectTypeOf(await cluster.zrange("z", 0, -1)).toEqualTypeOf<string[]>();
  expectTypeOf(await cluster.zrange("z", 0, -1, "WITHSCORES")).toEqualTypeOf<string[]>();
  expectTypeOf(await cluster3.zrange("z", 0, -1)).toEqualTypeOf<string[]>();
  expectTypeOf(await cluster3.zrange("z", 0, -1, "WITHSCORES")).toEqualTypeOf<
    Array<[member: string, score: number]>
  >();
  expectTypeOf(
    await cluster3.zrange("z", "(1", "+inf", "BYSCORE", "REV", "LIMIT", 0, 10, "WITHSCORES"),
  ).toEqualTypeOf<Array<[member: string, score: number]>>();
  expectTypeOf(await cluster3.zrange("z", "[a", "[z", "BYLEX")).toEqualTypeOf<string[]>();
  // @ts-expect-error LIMIT needs offset and count
  await cluster.zrange("z", 0, 10, "BYSCORE", "LIMIT", 0);
  // @ts-expect-error BYSCORE and BYLEX exclude each other
  await cluster.zrange("z", 0, 10, "BYSCORE", "BYLEX");
  expectTypeOf(await cluster.zrangestore("dst", "z", 0, -1, "REV")).toEqualTypeOf<number>();
  expectTypeOf(await cluster3.zrangebyscore("z", "-inf", "(5", "WITHSCORES", "LIMIT", 0, 5)).toEqualTypeOf<
    Array<[member: string, score: number]>
  >();
  expectTypeOf(await cluster3.zpopmin("z")).toEqualTypeOf<[] | [member: string, score: number]>();
  expectTypeOf(await cluster3.zpopmin("z", 2)).toEqualTypeOf<Array<[member: string, score: number]>>();
  expectTypeOf(await cluster.zpopmin("z", 2)).toEqualTypeOf<string[]>();
  expectTypeOf(await cluster3.zunion(2, "a", "b", "WITHSCORES")).toEqualTypeOf<
    Array<[member: string, score: number]>
  >();
  expectTypeOf(await cluster3.zunion(2, "a", "b")).toEqualTypeOf<string[]>();
  expectTypeOf(await cluster3.zincrby("z", 1, "a")).toEqualTypeOf<number>();
  expectTypeOf(await cluster.zrank("z", "a")).toEqualTypeOf<number | null>();
}

export async function streamsAndScans(): Promise<void> {
  expectTypeOf(await cluster.xadd("s", "*", "f", "v")).toEqualTypeOf<string>();
  expectTypeOf(await cluster.xadd("s", "NOMKSTREAM", "MAXLEN", "~", 1000, "*", "f", "v")).toEqualTypeOf<
    string | null
  >();
  expectTypeOf(await cluster.xread("COUNT", 10, "STREAMS", "s", "0")).toEqualTypeOf<Array<
    [stream: string, entries: Array<[id: string, fields: string[]]>]
  > | null>();
  expectTypeOf(await cluster3.xread("BLOCK", 0, "STREAMS", "s", "$")).toEqualTypeOf<Record<
    string,
    Array<[id: string, fields: string[]]>
  > | null>();
  // @ts-expect-error STREAMS is required
  await cluster.xread("COUNT", 10);
  expectTypeOf(await cluster.xreadgroup("GROUP", "g", "c", "NOACK", "STREAMS", "s", ">")).not.toBeAny();
  expectTypeOf(await cluster.xautoclaim("s", "g", "c", 0, "0-0", "COUNT", 10, "JUSTID")).toEqualTypeOf<
    [cursor: string, claimed: string[], deleted: string[]]
  >();
  expectTypeOf(await cluster.xautoclaim("s", "g", "c", 0, "0-0")).toEqualTypeOf<
    [cursor: string, claimed: Array<[id: string, fields: string[]]>, deleted: string[]]
  >();
  expectTypeOf(await cluster.hscan("h", 0, "MATCH", "f*", "COUNT", 100)).toEqualTypeOf<
    [cursor: string, fieldsAndValues: string[]]
  >();
  // @ts-expect-error COUNT needs a number
  await cluster.sscan("s", 0, "COUNT", "many");
  expectTypeOf(await cluster.hset("h", "f", "v", "g", 1)).toEqualTypeOf<number>();
  expectTypeOf(await cluster.hset("h", { f: "v", g: 1 })).toEqualTypeOf<number>();
  expectTypeOf(await cluster.hset("h", new Map([["f", "v"]]))).toEqualTypeOf<number>();
  expectTypeOf(await cluster.lpos("l", "a")).toEqualTypeOf<number | null>();
  expectTypeOf(await cluster.lpos("l", "a", "RANK", -1, "COUNT", 0)).toEqualTypeOf<number[]>();
  expectTypeOf(
    await cluster.geosearch("g", "FROMLONLAT", 15, 37, "BYRADIUS", 200, "km", "ASC"),
  ).toEqualTypeOf<string[]>();
  expectTypeOf(
    await cluster.geosearch("g", "FROMMEMBER", "m", "BYBOX", 1, 2, "M", "WITHDIST"),
  ).not.toEqualTypeOf<string[]>();
  // @ts-expect-error no such unit
  await cluster.geosearch("g", "FROMMEMBER", "m", "BYRADIUS", 1, "parsec");
  expectTypeOf(await cluster.bitfield("b", "SET", "u8", 0, 255, "GET", "u8", 0)).toEqualTypeOf<
    Array<number | null>
  >();
  expectTypeOf(await cluster.hexpire("h", 60, "NX", "FIELDS", 1, "f")).toEqualTypeOf<number[]>();
}

export async function subcommands(): Promise<void> {
  expectTypeOf(await cluster.client("LIST")).toEqualTypeOf<string>();
  expectTypeOf(await cluster.client("ID")).toEqualTypeOf<number>();
  expectTypeOf(await cluster.client("SETNAME", "worker")).toEqualTypeOf<"OK">();
  expectTypeOf(await cluster.cluster("INFO")).toEqualTypeOf<string>();
  expectTypeOf(await cluster.cluster("KEYSLOT", "k")).toEqualTypeOf<number>();
  expectTypeOf(await cluster.cluster("SHARDS")).toEqualTypeOf<unknown>();
  expectTypeOf(await cluster.config("GET", "maxmemory")).toEqualTypeOf<string[]>();
  expectTypeOf(await cluster3.config("GET", "maxmemory")).toEqualTypeOf<Record<string, string>>();
  expectTypeOf(await cluster.config("SET", "maxmemory", "1mb")).toEqualTypeOf<"OK">();
  // @ts-expect-error no such subcommand
  await cluster.config("GRAB", "maxmemory");
  // @ts-expect-error CLIENT NO-EVICT takes ON or OFF
  await cluster.client("NO-EVICT", "maybe");
}

export async function pipelines(): Promise<void> {
  const pipeline = cluster.pipeline();
  expectTypeOf(pipeline).toEqualTypeOf<Pipeline<2, []>>();
  expectTypeOf(await cluster.pipeline().get("a").incr("b").exec()).toEqualTypeOf<
    [string | null | Error, number | Error]
  >();
  expectTypeOf(
    await cluster3.pipeline().zscore("z", "m").set("k", "v", "NX").mset({ a: 1 }).exec(),
  ).toEqualTypeOf<[number | null | Error, "OK" | null | Error, "OK" | Error]>();
  expectTypeOf(await cluster.pipeline().call("JSON.GET", "doc").exec()).toEqualTypeOf<[unknown]>();
  // A pipeline filled in a loop is not tracked.
  for (const key of ["a", "b"]) pipeline.get(key);
  expectTypeOf(await pipeline.exec()).toEqualTypeOf<unknown[]>();
}

export function events(): void {
  cluster.on("ready", () => undefined);
  cluster.on("moved", (info) => expectTypeOf(info.slot).toEqualTypeOf<number>());
  cluster.on("nodeError", ({ address, error }) => {
    expectTypeOf(address).toEqualTypeOf<string>();
    expectTypeOf(error.code).not.toBeAny();
  });
  // @ts-expect-error no such event
  cluster.on("eror", () => undefined);
  // @ts-expect-error "ready" has no arguments
  cluster.once("ready", (argument: string) => argument);
}

export function errors(
  error: TimeoutError,
  closed: ClosedError,
  down: ClusterDownError,
  reply: ReplyError,
): void {
  expectTypeOf(error.code).toEqualTypeOf<"RC_TIMEOUT">();
  expectTypeOf(closed.code).toEqualTypeOf<"RC_CLOSED">();
  expectTypeOf(down.code).toEqualTypeOf<"RC_CLUSTER_DOWN">();
  expectTypeOf<ArgumentError["code"]>().toEqualTypeOf<"RC_ARGUMENT">();
  expectTypeOf<AuthError["code"]>().toEqualTypeOf<"RC_AUTH">();
  // A reply error's code is the server's: the common ones are suggested, any string fits.
  expectTypeOf(reply.code).toExtend<string>();
  // @ts-expect-error a TimeoutError's code is RC_TIMEOUT only
  const wrong: "RC_CLOSED" = error.code;
  void wrong;
}
