/**
 * The catalog's memory of names the server does not know (src/command/catalog.ts): asked
 * about once, then sent as they are — for a while, so that a module loaded since is learned,
 * and for a bounded number of names, since they are the caller's input.
 */
import { describe, expect, it } from "vitest";
import { CommandCatalog, MAX_UNKNOWN_NAMES } from "../../src/command/catalog.js";
import type { RedisArg } from "../../src/resp/types.js";
import { moduleCommandInfo } from "../helpers/command-info.js";

/** A server that knows only `known` (lower case), recording each COMMAND INFO it is asked. */
function server(known: Set<string>) {
  const asked: string[] = [];
  const ask = async (args: RedisArg[]): Promise<unknown> => {
    const name = String(args[1]);
    asked.push(name);
    return [known.has(name.toLowerCase()) ? moduleCommandInfo(name.toLowerCase()) : null];
  };
  return { asked, ask };
}

describe("names the server does not know", () => {
  it("are asked about once, then again after unknownForMs: a module loaded since is learned", async () => {
    let now = 1_000;
    const known = new Set<string>();
    const { asked, ask } = server(known);
    const catalog = new CommandCatalog(ask, { now: () => now, unknownForMs: 60_000 });
    expect(await catalog.learn("mod.get")).toBeUndefined();
    expect(catalog.isUnknownToServer("MOD.GET")).toBe(true);
    now += 59_999;
    expect(await catalog.learn("mod.get")).toBeUndefined();
    expect(asked).toEqual(["MOD.GET"]);
    // MODULE LOAD on the server; a minute after its "no", the client asks again and learns it.
    known.add("mod.get");
    now += 1;
    expect(catalog.isUnknownToServer("mod.get")).toBe(false);
    const info = await catalog.learn("mod.get");
    expect(info?.name).toBe("mod.get");
    expect(catalog.find("MOD.GET")).toBe(info);
    expect(asked).toEqual(["MOD.GET", "MOD.GET"]);
  });

  it(`are remembered up to ${MAX_UNKNOWN_NAMES}, the oldest forgotten first`, async () => {
    const { asked, ask } = server(new Set());
    const catalog = new CommandCatalog(ask, { now: () => 0, unknownForMs: 60_000 });
    for (let i = 0; i <= MAX_UNKNOWN_NAMES; i++) await catalog.learn(`nope.${i}`);
    expect(asked).toHaveLength(MAX_UNKNOWN_NAMES + 1);
    expect(catalog.isUnknownToServer("nope.0")).toBe(false);
    expect(catalog.isUnknownToServer("nope.1")).toBe(true);
    expect(catalog.isUnknownToServer(`nope.${MAX_UNKNOWN_NAMES}`)).toBe(true);
    // The forgotten one is asked about again, and remembered again (the oldest then goes).
    await catalog.learn("nope.0");
    expect(asked).toHaveLength(MAX_UNKNOWN_NAMES + 2);
    expect(catalog.isUnknownToServer("nope.0")).toBe(true);
    expect(catalog.isUnknownToServer("nope.1")).toBe(false);
  });
});
