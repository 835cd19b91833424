/**
 * The reply types of the typed methods are what the decoder really returns, under RESP2 and
 * RESP3: each case checks the static type (`expectTypeOf`, checked by `npm run typecheck`)
 * and the runtime value of the same call against the shared dev cluster.
 */
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from "vitest";
import { RedisCluster } from "../../src/index.js";
import { sharedDevCluster } from "../helpers/cluster.js";

let resp2: RedisCluster<2>;
let resp3: RedisCluster<3>;
const k = (name: string) => `{types:${process.pid}}:${name}`;

beforeAll(async () => {
  const { seeds } = await sharedDevCluster();
  resp2 = new RedisCluster({ nodes: seeds });
  resp3 = new RedisCluster({ nodes: seeds, protocol: 3 });
  await Promise.all([resp2.connect(), resp3.connect()]);
  await resp2.zadd(k("z"), 1.5, "a", 2, "b");
  await resp2.hset(k("h"), { f: "v" });
  await resp2.xadd(k("s"), "1-1", "f", "v");
  await resp2.geoadd(k("g"), 13.361389, 38.115556, "Palermo");
});

afterAll(async () => {
  await resp2?.del(k("z"), k("h"), k("s"), k("g"), k("k"), k("l"), k("z2"), k("num"));
  await Promise.all([resp2?.close(), resp3?.close()]);
});

describe("reply types follow the protocol", () => {
  it("ZSCORE, ZINCRBY, ZMSCORE: strings under RESP2, numbers under RESP3", async () => {
    const score2 = await resp2.zscore(k("z"), "a");
    expectTypeOf(score2).toEqualTypeOf<string | null>();
    expect(score2).toBe("1.5");
    const score3 = await resp3.zscore(k("z"), "a");
    expectTypeOf(score3).toEqualTypeOf<number | null>();
    expect(score3).toBe(1.5);
    expect(await resp3.zscore(k("z"), "missing")).toBeNull();
    const many3 = await resp3.zmscore(k("z"), "a", "missing");
    expectTypeOf(many3).toEqualTypeOf<Array<number | null>>();
    expect(many3).toEqual([1.5, null]);
    const incremented3 = await resp3.zincrby(k("z"), 0, "b");
    expectTypeOf(incremented3).toEqualTypeOf<number>();
    expect(incremented3).toBe(2);
    expect(await resp2.zincrby(k("z"), 0, "b")).toBe("2");
  });

  it("ZRANGE WITHSCORES: flat strings under RESP2, [member, score] pairs under RESP3", async () => {
    const flat = await resp2.zrange(k("z"), 0, -1, "WITHSCORES");
    expectTypeOf(flat).toEqualTypeOf<string[]>();
    expect(flat).toEqual(["a", "1.5", "b", "2"]);
    const pairs = await resp3.zrange(k("z"), 0, -1, "WITHSCORES");
    expectTypeOf(pairs).toEqualTypeOf<Array<[member: string, score: number]>>();
    expect(pairs).toEqual([
      ["a", 1.5],
      ["b", 2],
    ]);
    const members = await resp3.zrange(k("z"), "-inf", "+inf", "BYSCORE", "LIMIT", 0, 1);
    expectTypeOf(members).toEqualTypeOf<string[]>();
    expect(members).toEqual(["a"]);
    const byScore = await resp3.zrangebyscore(k("z"), "(1.5", "+inf", "WITHSCORES");
    expectTypeOf(byScore).toEqualTypeOf<Array<[member: string, score: number]>>();
    expect(byScore).toEqual([["b", 2]]);
  });

  it("ZPOPMIN, ZADD INCR, ZMPOP under both protocols", async () => {
    await resp2.zadd(k("z2"), 1, "x", 2, "y", 3, "w");
    const one3 = await resp3.zpopmin(k("z2"));
    expectTypeOf(one3).toEqualTypeOf<[] | [member: string, score: number]>();
    expect(one3).toEqual(["x", 1]);
    const counted3 = await resp3.zpopmin(k("z2"), 1);
    expectTypeOf(counted3).toEqualTypeOf<Array<[member: string, score: number]>>();
    expect(counted3).toEqual([["y", 2]]);
    const counted2 = await resp2.zpopmin(k("z2"), 1);
    expectTypeOf(counted2).toEqualTypeOf<string[]>();
    expect(counted2).toEqual(["w", "3"]);
    expect(await resp3.zpopmin(k("z2"))).toEqual([]);
    const incr2 = await resp2.zadd(k("z2"), "INCR", 2.5, "x");
    expectTypeOf(incr2).toEqualTypeOf<string | null>();
    expect(incr2).toBe("2.5");
    const incr3 = await resp3.zadd(k("z2"), "XX", "INCR", 1, "x");
    expectTypeOf(incr3).toEqualTypeOf<number | null>();
    expect(incr3).toBe(3.5);
    expect(await resp3.zadd(k("z2"), "NX", "INCR", 1, "x")).toBeNull();
    const popped3 = await resp3.zmpop(1, k("z2"), "MIN");
    expectTypeOf(popped3).toEqualTypeOf<
      [key: string, members: Array<[member: string, score: number]>] | null
    >();
    expect(popped3).toEqual([k("z2"), [["x", 3.5]]]);
  });

  it("XREAD: an array of [stream, entries] under RESP2, an object under RESP3", async () => {
    const read2 = await resp2.xread("COUNT", 10, "STREAMS", k("s"), "0");
    expectTypeOf(read2).toEqualTypeOf<Array<
      [stream: string, entries: Array<[id: string, fields: string[]]>]
    > | null>();
    expect(read2).toEqual([[k("s"), [["1-1", ["f", "v"]]]]]);
    const read3 = await resp3.xread("STREAMS", k("s"), "0");
    expectTypeOf(read3).toEqualTypeOf<Record<string, Array<[id: string, fields: string[]]>> | null>();
    expect(read3).toEqual({ [k("s")]: [["1-1", ["f", "v"]]] });
    expect(await resp3.xread("STREAMS", k("s"), "$")).toBeNull();
  });

  it("GEOPOS and GEOSEARCH coordinates: strings under RESP2, numbers under RESP3", async () => {
    const [position2] = await resp2.geopos(k("g"), "Palermo");
    expect(typeof position2![0]).toBe("string");
    const [position3] = await resp3.geopos(k("g"), "Palermo");
    expectTypeOf(position3).toEqualTypeOf<[longitude: number, latitude: number] | null | undefined>();
    expect(position3![0]).toBeCloseTo(13.361389, 5);
    const names = await resp3.geosearch(k("g"), "FROMLONLAT", 15, 37, "BYRADIUS", 200, "km", "ASC");
    expectTypeOf(names).toEqualTypeOf<string[]>();
    expect(names).toEqual(["Palermo"]);
    const detailed = await resp3.geosearch(k("g"), "FROMLONLAT", 15, 37, "BYRADIUS", 200, "km", "WITHCOORD");
    expect(detailed).toEqual([["Palermo", [expect.closeTo(13.361389, 5), expect.closeTo(38.115556, 5)]]]);
  });

  it("CONFIG GET: pairs under RESP2, an object under RESP3 (through a node handle)", async () => {
    const [node2] = resp2.nodes("primary");
    const [node3] = resp3.nodes("primary");
    const flat = await node2!.config("GET", "maxmemory-policy");
    expectTypeOf(flat).toEqualTypeOf<string[]>();
    expect(flat).toEqual(["maxmemory-policy", "noeviction"]);
    const object = await node3!.config("GET", "maxmemory-policy");
    expectTypeOf(object).toEqualTypeOf<Record<string, string>>();
    expect(object).toEqual({ "maxmemory-policy": "noeviction" });
  });
});

describe("reply types follow the options", () => {
  it("SET: OK, OK or null with NX/XX, the old value with GET", async () => {
    const plain = await resp2.set(k("k"), "v1", "EX", 60);
    expectTypeOf(plain).toEqualTypeOf<"OK">();
    expect(plain).toBe("OK");
    const refused = await resp2.set(k("k"), "v2", "NX");
    expectTypeOf(refused).toEqualTypeOf<"OK" | null>();
    expect(refused).toBeNull();
    const old = await resp3.set(k("k"), "v3", "GET");
    expectTypeOf(old).toEqualTypeOf<string | null>();
    expect(old).toBe("v1");
    const buffer = await resp2.setBuffer(k("k"), "v4");
    expectTypeOf(buffer).toEqualTypeOf<Buffer>();
    expect(buffer).toEqual(Buffer.from("OK"));
  });

  it("LPOS: a position, or a list with COUNT; XAUTOCLAIM JUSTID: ids", async () => {
    await resp2.rpush(k("l"), "a", "b", "a");
    const first = await resp2.lpos(k("l"), "a");
    expectTypeOf(first).toEqualTypeOf<number | null>();
    expect(first).toBe(0);
    const all = await resp2.lpos(k("l"), "a", "COUNT", 0);
    expectTypeOf(all).toEqualTypeOf<number[]>();
    expect(all).toEqual([0, 2]);
    await resp2.xgroup("CREATE", k("s"), "g", "0");
    await resp2.xreadgroup("GROUP", "g", "c", "STREAMS", k("s"), ">");
    const claimed = await resp2.xautoclaim(k("s"), "g", "c2", 0, "0-0", "JUSTID");
    expectTypeOf(claimed).toEqualTypeOf<[cursor: string, claimed: string[], deleted: string[]]>();
    expect(claimed).toEqual(["0-0", ["1-1"], []]);
  });

  it("HSET takes an object or a Map; numbers are keys and values", async () => {
    expect(await resp2.hset(k("h"), new Map<string, number>([["n", 1]]))).toBe(1);
    expect(await resp2.hset(k("h"), { f: "w", m: 2 })).toBe(1);
    expect(await resp2.hgetall(k("h"))).toEqual({ f: "w", n: "1", m: "2" });
    expect(await resp3.hgetall(k("h"))).toEqual({ f: "w", n: "1", m: "2" });
    // A number key is its decimal text, on the same slot as the string.
    expect(await resp2.set(k("num"), 42)).toBe("OK");
    expect(await resp2.get(k("num"))).toBe("42");
  });

  it("a pipeline resolves to the tuple its type says", async () => {
    const results = await resp3.pipeline().zscore(k("z"), "a").set(k("k"), "v", "XX").incr(k("z")).exec();
    expectTypeOf(results).toEqualTypeOf<[number | null | Error, "OK" | null | Error, number | Error]>();
    expect(results[0]).toBe(1.5);
    expect(results[1]).toBe("OK");
    expect(results[2]).toBeInstanceOf(Error);
  });
});
