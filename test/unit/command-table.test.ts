import { readdirSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { argEquals, parseIntegerArg } from "../../src/command/args.js";
import { keyIndexes } from "../../src/command/keys.js";
import { COMMAND_METHOD_NAMES } from "../../src/command/methods.generated.js";
import { decodeRows, encodeRow } from "../../src/command/rows.js";
import { TABLE_ADDITIONS, TABLE_SOURCES } from "../../src/command/table.generated.js";
import {
  BUILT_IN_TABLE_VERSION,
  CommandFlag,
  findCommand,
  isIdempotentCall,
  KeySpecFlag,
  listCommands,
  parseCommandInfoReply,
  registerCommand,
  resolveSubcommand,
} from "../../src/command/table.js";
import { ProtocolError } from "../../src/errors.js";
import type { RespValue } from "../../src/resp/types.js";

describe("findCommand", () => {
  it("finds commands by name in any case", () => {
    expect(findCommand("get")?.name).toBe("get");
    expect(findCommand("GET")).toBe(findCommand("get"));
    expect(findCommand("gEt")).toBe(findCommand("get"));
    expect(findCommand("no-such-command")).toBeUndefined();
  });

  it("knows every Redis 7 command, with flags, arity and policies", () => {
    expect(BUILT_IN_TABLE_VERSION).toMatch(/^7\./);
    expect(listCommands().length).toBeGreaterThan(200);
    const get = findCommand("get")!;
    expect(get.arity).toBe(2);
    expect(get.flags & CommandFlag.READONLY).toBeTruthy();
    expect(get.flags & CommandFlag.FAST).toBeTruthy();
    expect(get.flags & CommandFlag.WRITE).toBe(0);
    expect(get.keySpecs[0]!.flags & KeySpecFlag.RO).toBeTruthy();
    expect(findCommand("blpop")!.flags & CommandFlag.BLOCKING).toBeTruthy();
    expect(findCommand("eval")!.flags & CommandFlag.MOVABLE_KEYS).toBeTruthy();
    expect(findCommand("dbsize")).toMatchObject({ requestPolicy: "all_shards", responsePolicy: "agg_sum" });
    expect(findCommand("keys")).toMatchObject({ requestPolicy: "all_shards", responsePolicy: undefined });
    expect(findCommand("flushall")).toMatchObject({
      requestPolicy: "all_shards",
      responsePolicy: "all_succeeded",
    });
    expect(findCommand("get")).toMatchObject({ requestPolicy: undefined, responsePolicy: undefined });
  });

  it("computes singleKeyIndex for one key at a fixed position only", () => {
    expect(findCommand("get")!.singleKeyIndex).toBe(0);
    expect(findCommand("set")!.singleKeyIndex).toBe(0);
    expect(findCommand("hset")!.singleKeyIndex).toBe(0);
    expect(findCommand("mget")!.singleKeyIndex).toBe(-1);
    expect(findCommand("rename")!.singleKeyIndex).toBe(-1);
    expect(findCommand("eval")!.singleKeyIndex).toBe(-1);
    expect(findCommand("ping")!.singleKeyIndex).toBe(-1);
    expect(findCommand("object")!.subcommands!.get("encoding")!.singleKeyIndex).toBe(1);
  });
});

describe("resolveSubcommand", () => {
  const cluster = findCommand("cluster")!;

  it("picks the subcommand named by args[0], in any case, text or bytes", () => {
    expect(resolveSubcommand(cluster, ["SHARDS"]).name).toBe("cluster|shards");
    expect(resolveSubcommand(cluster, ["shards"]).name).toBe("cluster|shards");
    expect(resolveSubcommand(cluster, [Buffer.from("Shards")]).name).toBe("cluster|shards");
    expect(resolveSubcommand(findCommand("object")!, ["ENCODING", "k"]).name).toBe("object|encoding");
  });

  it("returns the command itself when there is nothing to resolve", () => {
    expect(resolveSubcommand(cluster, [])).toBe(cluster);
    expect(resolveSubcommand(cluster, ["NOPE"])).toBe(cluster);
    expect(resolveSubcommand(cluster, [42])).toBe(cluster);
    const get = findCommand("get")!;
    expect(resolveSubcommand(get, ["k"])).toBe(get);
  });
});

describe("registerCommand", () => {
  it("adds a command learned at run time, found in any case", () => {
    const [info] = parseCommandInfoReply([["JSON.TEST", -2, ["write"], 1, 1, 1]]);
    expect(findCommand("json.test")).toBeUndefined();
    registerCommand(info!);
    expect(findCommand("JSON.TEST")).toBe(info);
    expect(findCommand("json.test")).toBe(info);
    expect(findCommand("Json.Test")).toBe(info);
    expect(info!.singleKeyIndex).toBe(0);
    expect(listCommands()).toContain(info);
  });
});

describe("parseCommandInfoReply", () => {
  const setEntryResp2 = [
    "set",
    -3,
    ["write", "denyoom"],
    1,
    1,
    1,
    ["@write", "@string", "@slow"],
    [],
    [
      [
        "notes",
        "RW and ACCESS due to the optional `GET` argument",
        "flags",
        ["RW", "access", "update", "variable_flags"],
        "begin_search",
        ["type", "index", "spec", ["index", 1]],
        "find_keys",
        ["type", "range", "spec", ["lastkey", 0, "keystep", 1, "limit", 0]],
      ],
    ],
    [],
  ];

  it("reads a Redis 7 entry as the built-in table has it", () => {
    const [set] = parseCommandInfoReply([setEntryResp2]);
    expect(set).toEqual(findCommand("set"));
    expect(set!.flags & CommandFlag.IDEMPOTENT).toBeTruthy();
    expect(set!.keySpecs[0]!.flags).toBe(
      KeySpecFlag.RW | KeySpecFlag.ACCESS | KeySpecFlag.UPDATE | KeySpecFlag.VARIABLE_FLAGS,
    );
  });

  it("reads Buffers where strings are expected (a connection in Buffer mode)", () => {
    const toBuffers = (value: unknown): unknown =>
      typeof value === "string" ? Buffer.from(value) : Array.isArray(value) ? value.map(toBuffers) : value;
    const [set] = parseCommandInfoReply([toBuffers(setEntryResp2) as never]);
    expect(set).toEqual(findCommand("set"));
  });

  it("skips null entries (unknown names) and reads subcommands and tips", () => {
    const infos = parseCommandInfoReply([
      null,
      [
        "mod.container",
        -2,
        [],
        0,
        0,
        0,
        [],
        [],
        [],
        [
          [
            "mod.container|stats",
            2,
            ["readonly"],
            0,
            0,
            0,
            [],
            ["request_policy:all_shards", "response_policy:agg_max"],
            [],
            [],
          ],
        ],
      ],
    ]);
    expect(infos).toHaveLength(1);
    const stats = infos[0]!.subcommands!.get("stats")!;
    expect(stats).toMatchObject({
      name: "mod.container|stats",
      requestPolicy: "all_shards",
      responsePolicy: "agg_max",
    });
  });

  it("throws ProtocolError on a reply of the wrong shape", () => {
    expect(() => parseCommandInfoReply("OK")).toThrow(ProtocolError);
    expect(() => parseCommandInfoReply([["get", "two"]])).toThrow(ProtocolError);
    expect(() => parseCommandInfoReply([["get", 2, "readonly", 1, 1, 1]])).toThrow(ProtocolError);
    expect(() => parseCommandInfoReply([["get", 2, [], 1, 1, 1, [], [], [["flags"]], []]])).toThrow(
      ProtocolError,
    );
  });
});

describe("generated rows", () => {
  it("encode and decode every command losslessly", () => {
    const infos = listCommands().filter((info) => !info.name.startsWith("json."));
    expect(decodeRows(infos.map(encodeRow))).toEqual(infos);
  });

  it("give a method to every top-level command but the hand-written and connection-state ones", () => {
    expect(COMMAND_METHOD_NAMES).toContain("get");
    expect(COMMAND_METHOD_NAMES).toContain("cluster");
    for (const name of ["multi", "exec", "subscribe", "mset", "auth", "select", "hello", "restore-asking"]) {
      expect(COMMAND_METHOD_NAMES).not.toContain(name);
    }
    for (const name of COMMAND_METHOD_NAMES) expect(findCommand(name), name).toBeDefined();
  });
});

describe("isIdempotentCall", () => {
  const idempotent = (name: string, ...args: (string | number)[]) =>
    isIdempotentCall(findCommand(name)!, args);

  it("accepts reads and the curated writes", () => {
    expect(idempotent("get", "k")).toBe(true);
    expect(idempotent("set", "k", "v")).toBe(true);
    expect(idempotent("set", "k", "v", "EX", 10, "XX")).toBe(true);
    expect(idempotent("del", "a", "b")).toBe(true);
    expect(idempotent("hset", "h", "f", "v")).toBe(true);
    expect(idempotent("zadd", "z", 1, "m")).toBe(true);
    expect(idempotent("expire", "k", 10)).toBe(true);
  });

  it("refuses counters, pushes and options that break the rule", () => {
    expect(idempotent("incr", "k")).toBe(false);
    expect(idempotent("lpush", "l", "x")).toBe(false);
    expect(idempotent("append", "k", "x")).toBe(false);
    expect(idempotent("set", "k", "v", "GET")).toBe(false);
    expect(idempotent("set", "k", "v", "nx")).toBe(false);
    expect(idempotent("zadd", "z", "INCR", 1, "m")).toBe(false);
    expect(idempotent("eval", "return 1", 0)).toBe(false);
  });
});

describe("argument reading", () => {
  it("compares keywords ignoring ASCII case, for text, bytes and numbers", () => {
    expect(argEquals("streams", "STREAMS")).toBe(true);
    expect(argEquals(Buffer.from("StReAmS"), "STREAMS")).toBe(true);
    expect(argEquals(new Uint8Array([0x6b, 0x65, 0x79, 0x73]), "KEYS")).toBe(true);
    expect(argEquals("STREAM", "STREAMS")).toBe(false);
    expect(argEquals("ſtreams", "STREAMS")).toBe(false);
    expect(argEquals(5, "5")).toBe(true);
    expect(argEquals(5, "KEYS")).toBe(false);
    expect(argEquals(undefined, "KEYS")).toBe(false);
  });

  it("parses integers as the server's string2ll does", () => {
    expect(parseIntegerArg("0")).toBe(0);
    expect(parseIntegerArg("42")).toBe(42);
    expect(parseIntegerArg("-7")).toBe(-7);
    expect(parseIntegerArg(Buffer.from("12"))).toBe(12);
    expect(parseIntegerArg(3)).toBe(3);
    expect(parseIntegerArg(3n)).toBe(3);
    for (const bad of ["", "-", "-0", "01", "+1", " 1", "1 ", "1.0", "1e3", "abc"]) {
      expect(parseIntegerArg(bad), bad).toBeUndefined();
    }
    expect(parseIntegerArg(1.5)).toBeUndefined();
    expect(parseIntegerArg(2n ** 64n)).toBeUndefined();
  });

  it("reads back any safe integer it is given as text", () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }), (n) => {
        expect(parseIntegerArg(String(n))).toBe(n);
        expect(parseIntegerArg(Buffer.from(String(n)))).toBe(n);
      }),
    );
  });
});

/** A server's commands as scripts/generate-commands.ts recorded them (test/fixtures/commands). */
interface ServerFixture {
  server: string;
  version: string;
  info: RespValue;
  getKeys: Array<{ argv: string[]; keys?: string[]; error?: string }>;
}

const fixturesDir = new URL("../fixtures/commands/", import.meta.url);
const serverFixtures: ServerFixture[] = readdirSync(fixturesDir)
  .filter((file) => file.endsWith(".json"))
  .map((file) => JSON.parse(readFileSync(new URL(file, fixturesDir), "utf8")) as ServerFixture);
const label = (fixture: ServerFixture) => `${fixture.server} ${fixture.version}`;

describe("the built-in table covers newer servers", () => {
  it("was generated from every recorded server, and says so", () => {
    expect(serverFixtures.map(label).sort()).toEqual([...TABLE_SOURCES].sort());
    expect(TABLE_SOURCES[0]).toBe(`redis ${BUILT_IN_TABLE_VERSION}`);
    expect(serverFixtures.length).toBeGreaterThanOrEqual(3);
    expect(serverFixtures.some((fixture) => fixture.server === "valkey")).toBe(true);
  });

  it("has every command and subcommand of every recorded server", () => {
    const missing: string[] = [];
    for (const fixture of serverFixtures) {
      for (const info of parseCommandInfoReply(fixture.info)) {
        const builtIn = findCommand(info.name);
        if (builtIn === undefined) missing.push(`${info.name} (${label(fixture)})`);
        for (const [name] of info.subcommands ?? []) {
          if (builtIn?.subcommands?.get(name) === undefined)
            missing.push(`${info.name}|${name} (${label(fixture)})`);
        }
      }
    }
    expect(missing).toEqual([]);
    for (const name of ["hexpire", "httl", "hpersist", "waitaof"])
      expect(findCommand(name), name).toBeDefined();
    expect(resolveSubcommand(findCommand("cluster")!, ["SLOT-STATS"]).name).toBe("cluster|slot-stats");
    expect(resolveSubcommand(findCommand("client")!, ["NO-TOUCH"]).name).toBe("client|no-touch");
  });

  it("describes each command the base lacks as the server it comes from does", () => {
    expect(Object.keys(TABLE_ADDITIONS).length).toBeGreaterThan(10);
    for (const [name, source] of Object.entries(TABLE_ADDITIONS)) {
      const fixture = serverFixtures.find((candidate) => label(candidate) === source)!;
      const [command, sub] = name.split("|");
      const recorded = parseCommandInfoReply(fixture.info).find((info) => info.name === command)!;
      const expected = sub === undefined ? recorded : recorded.subcommands!.get(sub)!;
      const builtIn =
        sub === undefined ? findCommand(command!)! : findCommand(command!)!.subcommands!.get(sub)!;
      if (sub === undefined) expect(encodeRow(builtIn), name).toEqual(encodeRow(expected));
      else expect(builtIn, name).toEqual(expected);
    }
  });

  it("finds the keys each server's COMMAND GETKEYS found, wherever the table has that server's key specs", () => {
    const mismatches: string[] = [];
    const confirmed = new Set<string>();
    for (const fixture of serverFixtures) {
      const recorded = new Map(parseCommandInfoReply(fixture.info).map((info) => [info.name, info]));
      for (const sample of fixture.getKeys) {
        const [name, ...args] = sample.argv;
        const builtIn = resolveSubcommand(findCommand(name!)!, args);
        const top = recorded.get(name!.toLowerCase())!;
        const theirs = resolveSubcommand(top, args);
        // Only where this row is that server's description (key specs equal).
        if (JSON.stringify(builtIn.keySpecs) !== JSON.stringify(theirs.keySpecs)) continue;
        let ours: string[] | null | "refused";
        try {
          const positions = keyIndexes(builtIn, args);
          ours = positions === null ? null : positions.map((position) => args[position]!);
        } catch {
          ours = "refused";
        }
        const shown = `${label(fixture)}: ${sample.argv.join(" ")}`;
        if (sample.keys !== undefined) {
          if (JSON.stringify(ours) !== JSON.stringify(sample.keys))
            mismatches.push(`${shown}: server ${JSON.stringify(sample.keys)}, ours ${JSON.stringify(ours)}`);
          else confirmed.add(builtIn.name);
        } else if (Array.isArray(ours) && ours.length > 0) {
          mismatches.push(`${shown}: server ${sample.error}, ours ${JSON.stringify(ours)}`);
        }
      }
    }
    expect(mismatches).toEqual([]);
    // Every added command with keys is confirmed by the server it comes from.
    const addedWithKeys = Object.keys(TABLE_ADDITIONS).filter((name) => {
      const [command, sub] = name.split("|");
      const info = sub === undefined ? findCommand(command!)! : findCommand(command!)!.subcommands!.get(sub)!;
      return info.keySpecs.some((spec) => !(spec.flags & KeySpecFlag.NOT_KEY));
    });
    expect(addedWithKeys.length).toBeGreaterThan(5);
    expect(addedWithKeys.filter((name) => !confirmed.has(name))).toEqual([]);
  });

  it("routes the hash-field expiration commands by their key, with no round trip", () => {
    const hexpire = findCommand("hexpire")!;
    expect(hexpire.singleKeyIndex).toBe(0);
    expect(keyIndexes(hexpire, ["h", 60, "NX", "FIELDS", 2, "a", "b"])).toEqual([0]);
    expect(keyIndexes(findCommand("httl")!, ["h", "FIELDS", 1, "a"])).toEqual([0]);
    expect(findCommand("waitaof")!.keySpecs).toEqual([]);
    expect(resolveSubcommand(findCommand("cluster")!, ["SLOT-STATS"]).keySpecs).toEqual([]);
  });
});
