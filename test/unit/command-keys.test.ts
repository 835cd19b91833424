import { describe, expect, it } from "vitest";
import { keyIndexes } from "../../src/command/keys.js";
import { type CommandInfo, findCommand, parseCommandInfoReply } from "../../src/command/table.js";
import { ArgumentError } from "../../src/errors.js";
import type { RedisArg } from "../../src/resp/types.js";

function command(name: string): CommandInfo {
  const info = findCommand(name);
  if (info === undefined) throw new Error(`no ${name} in the table`);
  return info;
}

/** The keys (as text) that keyIndexes picks out of an invocation written like redis-cli. */
function keysOf(...argv: RedisArg[]): string[] | null {
  const [name, ...args] = argv;
  const positions = keyIndexes(command(String(name)), args);
  return positions === null ? null : positions.map((position) => String(args[position]));
}

function positionsOf(...argv: RedisArg[]): readonly number[] | null {
  const [name, ...args] = argv;
  return keyIndexes(command(String(name)), args);
}

describe("keyIndexes: fixed positions", () => {
  it("finds the single key of GET, SET, HSET, INCR", () => {
    expect(positionsOf("GET", "a")).toEqual([0]);
    expect(positionsOf("SET", "a", "v", "EX", 10, "GET")).toEqual([0]);
    expect(positionsOf("HSET", "h", "f", "v", "g", "w")).toEqual([0]);
    expect(positionsOf("INCR", "n")).toEqual([0]);
  });

  it("finds both keys of two-key commands", () => {
    expect(keysOf("RENAME", "a", "b")).toEqual(["a", "b"]);
    expect(keysOf("LMOVE", "src", "dst", "LEFT", "RIGHT")).toEqual(["src", "dst"]);
    expect(keysOf("SMOVE", "src", "dst", "m")).toEqual(["src", "dst"]);
    // LCS: one spec with lastkey 1.
    expect(keysOf("LCS", "a", "b", "LEN")).toEqual(["a", "b"]);
    expect(keysOf("COPY", "a", "b", "DB", 1)).toEqual(["a", "b"]);
  });

  it("reads a negative lastkey from the end of the arguments", () => {
    expect(keysOf("DEL", "a", "b", "c")).toEqual(["a", "b", "c"]);
    expect(keysOf("MGET", "a")).toEqual(["a"]);
    expect(keysOf("BLPOP", "a", "b", 0)).toEqual(["a", "b"]);
    expect(keysOf("SDIFFSTORE", "dst", "a", "b")).toEqual(["dst", "a", "b"]);
    expect(keysOf("PFMERGE", "dst", "a")).toEqual(["dst", "a"]);
    expect(keysOf("BITOP", "AND", "dst", "a", "b")).toEqual(["dst", "a", "b"]);
  });

  it("steps over values (MSET, MSETNX: step 2)", () => {
    expect(positionsOf("MSET", "a", "1", "b", "2", "c", "3")).toEqual([0, 2, 4]);
    expect(keysOf("MSETNX", "a", "1", "b", "2")).toEqual(["a", "b"]);
  });

  it("returns no keys for keyless commands, without allocating", () => {
    expect(positionsOf("PING")).toEqual([]);
    expect(positionsOf("DBSIZE")).toBe(positionsOf("PING"));
    expect(positionsOf("CLUSTER", "SHARDS")).toEqual([]);
    expect(positionsOf("CLUSTER")).toEqual([]);
  });

  it("throws ArgumentError when the arguments cannot name the keys", () => {
    expect(() => positionsOf("GET")).toThrow(ArgumentError);
    expect(() => positionsOf("GET")).toThrow("GET: too few arguments to name its keys");
    expect(() => positionsOf("RENAME", "a")).toThrow(ArgumentError);
    expect(() => positionsOf("DEL")).toThrow(ArgumentError);
    expect(() => positionsOf("MSET")).toThrow(ArgumentError);
    expect(() => positionsOf("OBJECT", "ENCODING")).toThrow("OBJECT|ENCODING: too few arguments");
    try {
      positionsOf("GET");
    } catch (error) {
      expect((error as ArgumentError).code).toBe("RC_ARGUMENT");
      expect((error as ArgumentError).command).toBe("GET");
    }
  });
});

describe("keyIndexes: movable keys", () => {
  it("reads numkeys (EVAL, EVALSHA, EVAL_RO, FCALL, FCALL_RO)", () => {
    expect(keysOf("EVAL", "return 1", 2, "k1", "k2", "arg")).toEqual(["k1", "k2"]);
    expect(keysOf("EVALSHA", "abc", "1", "k1", "arg")).toEqual(["k1"]);
    expect(keysOf("EVAL_RO", "s", 1n, "k1")).toEqual(["k1"]);
    expect(keysOf("EVALSHA_RO", "s", Buffer.from("1"), "k1")).toEqual(["k1"]);
    expect(keysOf("FCALL", "f", 3, "a", "b", "c", "x")).toEqual(["a", "b", "c"]);
    expect(keysOf("FCALL_RO", "f", 1, "a")).toEqual(["a"]);
  });

  it("accepts zero keys (keynum 0) and names none", () => {
    expect(positionsOf("EVAL", "return 1", 0)).toEqual([]);
    expect(positionsOf("EVAL", "return 1", "0", "arg")).toEqual([]);
    expect(positionsOf("FCALL", "f", 0)).toEqual([]);
  });

  it("rejects a numkeys that is not a non-negative integer, or that exceeds the arguments", () => {
    expect(() => positionsOf("EVAL", "s", "x")).toThrow(
      "EVAL: the number of keys is not a non-negative integer",
    );
    expect(() => positionsOf("EVAL", "s", -1)).toThrow(ArgumentError);
    expect(() => positionsOf("EVAL", "s", "01", "k")).toThrow(ArgumentError);
    expect(() => positionsOf("EVAL", "s", 1.5, "k")).toThrow(ArgumentError);
    expect(() => positionsOf("EVAL", "s", 3, "k1", "k2")).toThrow("EVAL: too few arguments");
    expect(() => positionsOf("EVAL", "s")).toThrow(ArgumentError);
  });

  it("finds the destination and the sources of ZUNIONSTORE, ZINTERSTORE, ZDIFFSTORE", () => {
    expect(keysOf("ZUNIONSTORE", "dst", 2, "a", "b", "WEIGHTS", 1, 2)).toEqual(["dst", "a", "b"]);
    expect(keysOf("ZINTERSTORE", "dst", 1, "a", "AGGREGATE", "MAX")).toEqual(["dst", "a"]);
    expect(keysOf("ZDIFFSTORE", "dst", 2, "a", "b")).toEqual(["dst", "a", "b"]);
  });

  it("finds the sources of ZUNION, ZINTER, ZDIFF, SINTERCARD, ZINTERCARD", () => {
    expect(keysOf("ZUNION", 2, "a", "b", "WITHSCORES")).toEqual(["a", "b"]);
    expect(keysOf("ZINTER", 3, "a", "b", "c")).toEqual(["a", "b", "c"]);
    expect(keysOf("ZDIFF", 1, "a")).toEqual(["a"]);
    expect(keysOf("SINTERCARD", 2, "a", "b", "LIMIT", 5)).toEqual(["a", "b"]);
    expect(keysOf("ZINTERCARD", 2, "a", "b")).toEqual(["a", "b"]);
  });

  it("finds the keys of LMPOP, ZMPOP, BLMPOP, BZMPOP (numkeys after the timeout)", () => {
    expect(keysOf("LMPOP", 2, "a", "b", "LEFT", "COUNT", 3)).toEqual(["a", "b"]);
    expect(keysOf("ZMPOP", 1, "a", "MIN")).toEqual(["a"]);
    expect(keysOf("BLMPOP", 0.5, 2, "a", "b", "RIGHT")).toEqual(["a", "b"]);
    expect(keysOf("BZMPOP", 0, 1, "a", "MAX", "COUNT", 2)).toEqual(["a"]);
  });

  it("finds the streams of XREAD and XREADGROUP after STREAMS (half the rest: limit 2)", () => {
    expect(keysOf("XREAD", "COUNT", 1, "BLOCK", 0, "STREAMS", "s1", "s2", "0", "0")).toEqual(["s1", "s2"]);
    expect(keysOf("XREAD", "streams", "s1", "$")).toEqual(["s1"]);
    expect(keysOf("XREAD", Buffer.from("STREAMS"), "s1", "$")).toEqual(["s1"]);
    // A stream named "streams": the first STREAMS is the keyword.
    expect(keysOf("XREAD", "STREAMS", "streams", "0")).toEqual(["streams"]);
    expect(keysOf("XREADGROUP", "GROUP", "g", "c", "COUNT", 10, "STREAMS", "a", "b", ">", ">")).toEqual([
      "a",
      "b",
    ]);
    // The search for STREAMS starts after GROUP's operands (startfrom 4).
    expect(keysOf("XREADGROUP", "GROUP", "g", "STREAMS", "NOACK", "STREAMS", "s", ">")).toEqual(["s"]);
  });

  it("rejects XREAD with STREAMS but no stream", () => {
    expect(() => positionsOf("XREAD", "STREAMS", "s1")).toThrow(ArgumentError);
  });

  it("finds SORT's STORE destination wherever it is (a rule: the spec is unknown)", () => {
    expect(keysOf("SORT", "src")).toEqual(["src"]);
    expect(keysOf("SORT", "src", "BY", "w_*", "GET", "#", "STORE", "dst")).toEqual(["src", "dst"]);
    expect(keysOf("SORT", "src", "store", "d1", "ALPHA", "STORE", "d2")).toEqual(["src", "d2"]);
    // Operands of BY/GET/LIMIT are skipped even when they read STORE.
    expect(keysOf("SORT", "src", "GET", "STORE", "ALPHA")).toEqual(["src"]);
    expect(keysOf("SORT", "src", "LIMIT", "STORE", "STORE", "x")).toEqual(["src"]);
    // A trailing STORE names nothing.
    expect(keysOf("SORT", "src", "STORE")).toEqual(["src"]);
    expect(keysOf("SORT_RO", "src", "BY", "w_*", "GET", "#")).toEqual(["src"]);
    expect(() => positionsOf("SORT")).toThrow(ArgumentError);
  });

  it("finds MIGRATE's key, or its KEYS list (a rule: the spec is incomplete)", () => {
    expect(keysOf("MIGRATE", "127.0.0.1", 6379, "k", 0, 1000)).toEqual(["k"]);
    expect(keysOf("MIGRATE", "127.0.0.1", 6379, "k", 0, 1000, "COPY", "REPLACE")).toEqual(["k"]);
    expect(keysOf("MIGRATE", "127.0.0.1", 6379, "", 0, 1000, "KEYS", "a", "b")).toEqual(["a", "b"]);
    // An AUTH password that reads "KEYS" is not the keyword.
    expect(keysOf("MIGRATE", "h", 1, "", 0, 1000, "AUTH", "KEYS", "KEYS", "a")).toEqual(["a"]);
    expect(keysOf("MIGRATE", "h", 1, "", 0, 1000, "AUTH2", "KEYS", "KEYS", "KEYS", "a")).toEqual(["a"]);
    // A key and KEYS together is the server's syntax error: no key.
    expect(keysOf("MIGRATE", "h", 1, "k", 0, 1000, "KEYS", "a")).toEqual([]);
  });

  it("finds GEORADIUS's STORE and STOREDIST destinations", () => {
    expect(keysOf("GEORADIUS", "src", 0, 0, 1, "km")).toEqual(["src"]);
    expect(keysOf("GEORADIUS", "src", 0, 0, 1, "km", "STORE", "dst")).toEqual(["src", "dst"]);
    expect(keysOf("GEORADIUS", "src", 0, 0, 1, "km", "COUNT", 2, "STOREDIST", "dst")).toEqual(["src", "dst"]);
    expect(keysOf("GEORADIUSBYMEMBER", "src", "m", 1, "km", "STORE", "d1", "STOREDIST", "d2")).toEqual([
      "src",
      "d1",
      "d2",
    ]);
  });

  it("resolves container commands to their subcommand first", () => {
    expect(keysOf("OBJECT", "ENCODING", "k")).toEqual(["k"]);
    expect(keysOf("object", "freq", "k")).toEqual(["k"]);
    expect(keysOf("MEMORY", "USAGE", "k", "SAMPLES", 5)).toEqual(["k"]);
    expect(keysOf("XINFO", "STREAM", "s", "FULL")).toEqual(["s"]);
    expect(keysOf("XINFO", Buffer.from("GROUPS"), "s")).toEqual(["s"]);
    expect(keysOf("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")).toEqual(["s"]);
    expect(keysOf("OBJECT", "HELP")).toEqual([]);
    expect(keysOf("OBJECT", "NO-SUCH-SUBCOMMAND", "k")).toEqual([]);
  });
});

describe("keyIndexes: shard channels", () => {
  it("are not keys unless asked for (SPUBLISH, SSUBSCRIBE, SUNSUBSCRIBE)", () => {
    const spublish = command("spublish");
    expect(keyIndexes(spublish, ["orders", "m"])).toEqual([]);
    expect(keyIndexes(spublish, ["orders", "m"], true)).toEqual([0]);
    expect(keyIndexes(command("ssubscribe"), ["a", "b"], true)).toEqual([0, 1]);
    expect(keyIndexes(command("sunsubscribe"), ["a"], true)).toEqual([0]);
    expect(spublish.singleKeyIndex).toBe(-1);
  });

  it("does not change ordinary commands", () => {
    expect(keyIndexes(command("get"), ["k"], true)).toEqual([0]);
    expect(keyIndexes(command("mset"), ["a", 1, "b", 2], true)).toEqual([0, 2]);
  });
});

describe("keyIndexes: what the specs cannot tell", () => {
  // A module command whose key spec is INCOMPLETE, in the RESP2 shape of COMMAND INFO.
  const [incomplete] = parseCommandInfoReply([
    [
      "mod.multi",
      -2,
      ["write", "movablekeys"],
      1,
      1,
      1,
      [],
      [],
      [
        [
          "flags",
          ["RW", "incomplete"],
          "begin_search",
          ["type", "index", "spec", ["index", 1]],
          "find_keys",
          ["type", "range", "spec", ["lastkey", 0, "keystep", 1, "limit", 0]],
        ],
      ],
      [],
    ],
  ]);

  it("returns null for an INCOMPLETE spec without a rule of ours", () => {
    expect(keyIndexes(incomplete!, ["k", "x"])).toBeNull();
  });

  it("returns null for a movable-keys command described by a Redis 6 server", () => {
    const [legacy] = parseCommandInfoReply([["mod.eval", -3, ["write", "movablekeys"], 0, 0, 0]]);
    expect(keyIndexes(legacy!, ["s", 1, "k"])).toBeNull();
    const [plain] = parseCommandInfoReply([["mod.get", 2, ["readonly"], 1, 1, 1]]);
    expect(keyIndexes(plain!, ["k"])).toEqual([0]);
    expect(plain!.singleKeyIndex).toBe(0);
    const [pairs] = parseCommandInfoReply([["mod.mset", -3, ["write"], 1, -1, 2]]);
    expect(keyIndexes(pairs!, ["a", 1, "b", 2])).toEqual([0, 2]);
  });
});

describe("keyIndexes: key specs of every kind", () => {
  function moduleCommand(keySpecs: unknown[]): CommandInfo {
    const [info] = parseCommandInfoReply([
      ["mod.cmd", -1, ["write"], 0, 0, 0, [], [], keySpecs as never, []],
    ]);
    return info!;
  }
  const spec = (begin: unknown, find: unknown) => ({ flags: ["RW"], begin_search: begin, find_keys: find });
  const index = (i: number) => ({ type: "index", spec: { index: i } });
  const keyword = (word: string, startfrom: number) => ({
    type: "keyword",
    spec: { keyword: word, startfrom },
  });
  const range = (lastkey: number, keystep: number, limit: number) => ({
    type: "range",
    spec: { lastkey, keystep, limit },
  });
  const keynum = (keynumidx: number, firstkey: number, keystep: number) => ({
    type: "keynum",
    spec: { keynumidx, firstkey, keystep },
  });

  it("searches a keyword backwards from a negative startfrom", () => {
    const info = moduleCommand([spec(keyword("KEYS", -2), range(-1, 1, 0))]);
    // argv: mod.cmd x KEYS a KEYS b c → from argv[5] backwards, the last KEYS is at argv[4].
    expect(keyIndexes(info, ["x", "KEYS", "a", "KEYS", "b", "c"])).toEqual([4, 5]);
    // argv[1] is never the keyword when searching backwards.
    expect(keyIndexes(info, ["KEYS", "a", "b"])).toEqual([]);
  });

  it("never takes the last argument as a forward keyword", () => {
    const info = moduleCommand([spec(keyword("TO", 1), range(0, 1, 0))]);
    expect(keyIndexes(info, ["a", "TO", "dst"])).toEqual([2]);
    expect(keyIndexes(info, ["a", "TO"])).toEqual([]);
  });

  it("steps through a keynum list as the server does (keystep 2: numkeys counts arguments)", () => {
    const info = moduleCommand([spec(index(1), keynum(0, 1, 2))]);
    expect(keyIndexes(info, [4, "k1", "v1", "k2", "v2"])).toEqual([1, 3]);
    expect(keyIndexes(info, [3, "k1", "v1", "k2"])).toEqual([1, 3]);
  });

  it("limits a range to a fraction of the rest (limit 3)", () => {
    const info = moduleCommand([spec(index(1), range(-1, 1, 3))]);
    expect(keyIndexes(info, ["a", "b", "x", "y", "p", "q"])).toEqual([0, 1]);
  });

  it("returns null for a malformed spec (keystep 0) rather than looping", () => {
    const info = moduleCommand([spec(index(1), range(-1, 0, 0))]);
    expect(keyIndexes(info, ["a", "b"])).toBeNull();
  });

  it("concatenates the keys of several specs in spec order", () => {
    const info = moduleCommand([spec(index(2), range(0, 1, 0)), spec(index(1), range(0, 1, 0))]);
    expect(keyIndexes(info, ["a", "b"])).toEqual([1, 0]);
  });

  it("reads RESP3 maps like RESP2 flat arrays", () => {
    const resp3 = moduleCommand([spec(index(1), range(-1, 2, 0))]);
    const [resp2] = parseCommandInfoReply([
      [
        "mod.cmd",
        -1,
        ["write"],
        0,
        0,
        0,
        [],
        [],
        [
          [
            "flags",
            ["RW"],
            "begin_search",
            ["type", "index", "spec", ["index", 1]],
            "find_keys",
            ["type", "range", "spec", ["lastkey", -1, "keystep", 2, "limit", 0]],
          ],
        ],
        [],
      ],
    ]);
    expect(resp3).toEqual(resp2);
  });
});
