import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { keyIndexes } from "../../src/command/keys.js";
import { TABLE_ADDITIONS } from "../../src/command/table.generated.js";
import {
  BUILT_IN_TABLE_VERSION,
  type CommandInfo,
  findCommand,
  KeySpecFlag,
  listCommands,
  parseCommandInfoReply,
  resolveSubcommand,
} from "../../src/command/table.js";
import { ArgumentError, ReplyError } from "../../src/errors.js";
import type { RespValue } from "../../src/resp/types.js";
import { sharedDevCluster } from "../helpers/cluster.js";

/** Sample invocations written by scripts/generate-commands.ts from COMMAND DOCS (+ hand-written ones). */
interface Fixture {
  redisVersion: string;
  samples: Array<{ command: string; argv: string[] }>;
}
const fixture = JSON.parse(
  readFileSync(new URL("../fixtures/command-samples.json", import.meta.url), "utf8"),
) as Fixture;

/**
 * Commands the server cannot `COMMAND GETKEYS`, and why. Any command with keys that no
 * sample gets through GETKEYS must be listed here too (none is, with Redis 7.0).
 */
const SERVER_CANNOT_GETKEYS: Record<string, { argv: string[]; reason: string }> = {
  spublish: {
    argv: ["SPUBLISH", "orders", "hello"],
    reason: "its shard channel is a NOT_KEY spec: hashed like a key for routing, but no key",
  },
  ssubscribe: { argv: ["SSUBSCRIBE", "a", "b"], reason: "shard channels only (NOT_KEY specs)" },
  sunsubscribe: { argv: ["SUNSUBSCRIBE", "a"], reason: "shard channels only (NOT_KEY specs)" },
};

/** Every command and subcommand of the table that has keys (shard channels are not keys). */
function commandsWithKeys(): CommandInfo[] {
  const result: CommandInfo[] = [];
  const visit = (info: CommandInfo) => {
    if (info.keySpecs.some((spec) => !(spec.flags & KeySpecFlag.NOT_KEY))) result.push(info);
    for (const sub of info.subcommands?.values() ?? []) visit(sub);
  };
  for (const info of listCommands()) visit(info);
  return result;
}

/** Whether the base server of the table (the dev cluster's) has the command or subcommand. */
function isBaseCommand(name: string): boolean {
  return TABLE_ADDITIONS[name] === undefined;
}

type Outcome = { keys: string[] } | { error: string };

/** What keyIndexes says about one invocation, as key names. */
function ours(argv: readonly string[]): Outcome | null {
  const [name, ...args] = argv;
  const info = findCommand(name!);
  if (info === undefined) return { error: "not in the table" };
  try {
    const positions = keyIndexes(info, args);
    return positions === null ? null : { keys: positions.map((position) => args[position]!) };
  } catch (error) {
    if (error instanceof ArgumentError) return { error: error.message };
    throw error;
  }
}

describe("keyIndexes against COMMAND GETKEYS", () => {
  let getKeys: (argv: readonly string[]) => Promise<Outcome>;

  beforeAll(async () => {
    const cluster = await sharedDevCluster();
    const port = Number(cluster.seeds[0]!.split(":")[1]);
    getKeys = async (argv) => {
      try {
        return { keys: (await cluster.command(port, "COMMAND", "GETKEYS", ...argv)) as string[] };
      } catch (error) {
        if (error instanceof ReplyError) return { error: error.message };
        throw error;
      }
    };
  });

  it("the samples were generated with the built-in table", () => {
    expect(fixture.redisVersion).toBe(BUILT_IN_TABLE_VERSION);
  });

  it("the built-in table says what the server's COMMAND INFO says", async () => {
    const cluster = await sharedDevCluster();
    const port = Number(cluster.seeds[0]!.split(":")[1]);
    const info = String(await cluster.command(port, "INFO", "server"));
    const live = parseCommandInfoReply((await cluster.command(port, "COMMAND", "INFO")) as RespValue);
    expect(live.length).toBeGreaterThan(200);
    const serverVersion = /redis_version:(\S+)/.exec(info)?.[1];
    expect(serverVersion).toBeDefined();
    const sameVersion = serverVersion === BUILT_IN_TABLE_VERSION;
    for (const command of live) {
      const builtIn = findCommand(command.name);
      // Another server version may add commands and flags; key positions must still agree.
      // The table also has the subcommands of newer servers (CLIENT NO-TOUCH, ...): compare
      // the ones this server has.
      if (sameVersion) {
        const { subcommands, ...rest } = builtIn!;
        const { subcommands: liveSubcommands, ...liveRest } = command;
        expect(rest, command.name).toEqual(liveRest);
        for (const [name, sub] of liveSubcommands ?? [])
          expect(subcommands?.get(name), sub.name).toEqual(sub);
      } else if (builtIn) expect(builtIn.keySpecs, command.name).toEqual(command.keySpecs);
    }
  });

  it("finds the keys the server finds, for a sample of every command with keys", async () => {
    const serverOutcomes = await Promise.all(fixture.samples.map((sample) => getKeys(sample.argv)));
    const mismatches: string[] = [];
    const confirmed = new Set<string>();
    fixture.samples.forEach((sample, i) => {
      const server = serverOutcomes[i]!;
      const mine = ours(sample.argv);
      const shown = sample.argv.join(" ");
      if ("keys" in server) {
        if (mine === null || !("keys" in mine) || JSON.stringify(mine.keys) !== JSON.stringify(server.keys)) {
          mismatches.push(`${shown}: server ${JSON.stringify(server)}, ours ${JSON.stringify(mine)}`);
        } else {
          confirmed.add(sample.command);
        }
      } else if (mine !== null && "keys" in mine && mine.keys.length > 0) {
        // The server found no keys (a syntax error it leaves to the command); we must not
        // route by keys it would not check either.
        mismatches.push(`${shown}: server ${server.error}, ours ${JSON.stringify(mine.keys)}`);
      }
    });
    expect(mismatches).toEqual([]);

    // Commands of newer servers only are checked against those servers' recorded GETKEYS
    // (test/unit/command-table.test.ts).
    const fixtureCommands = new Set(fixture.samples.map((sample) => sample.command));
    const uncovered = commandsWithKeys()
      .map((info) => info.name)
      .filter((name) => fixtureCommands.has(name) || isBaseCommand(name))
      .filter((name) => !confirmed.has(name) && SERVER_CANNOT_GETKEYS[name] === undefined);
    expect(uncovered).toEqual([]);
    expect(confirmed.size).toBeGreaterThan(150);
  });

  it("needs no round trip to the server for any built-in command with keys", () => {
    for (const info of commandsWithKeys()) {
      for (const sample of fixture.samples.filter((s) => s.command === info.name)) {
        const [name, ...args] = sample.argv;
        expect(resolveSubcommand(findCommand(name!)!, args).name).toBe(info.name);
        expect(ours(sample.argv), sample.argv.join(" ")).not.toBeNull();
      }
    }
  });

  it("lists the commands the server cannot GETKEYS, which route by their shard channels", async () => {
    for (const [name, { argv }] of Object.entries(SERVER_CANNOT_GETKEYS)) {
      const server = await getKeys(argv);
      expect(server, name).toEqual({ error: "ERR The command has no key arguments" });
      const [command, ...args] = argv;
      const info = findCommand(command!)!;
      expect(keyIndexes(info, args)).toEqual([]);
      expect(keyIndexes(info, args, true)!.length).toBeGreaterThan(0);
    }
  });
});
