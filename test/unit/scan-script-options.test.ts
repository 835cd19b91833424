/**
 * The pure parts of scans, scripts and per-call options: the glob escaping that keeps a key
 * prefix literal in SCAN's MATCH, how a script call is laid out (EVALSHA / EVAL, numkeys),
 * and what `withOptions()` accepts.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { checkCallOptions } from "../../src/call-options.js";
import { ArgumentError } from "../../src/errors.js";
import { escapeGlob } from "../../src/scan/index.js";
import { scriptCall, scriptSource } from "../../src/scripting.js";

describe("escapeGlob", () => {
  it("escapes exactly the characters SCAN's MATCH treats specially", () => {
    expect(escapeGlob("app:")).toBe("app:");
    expect(escapeGlob("a*b?c[d]e\\f")).toBe("a\\*b\\?c\\[d\\]e\\\\f");
    expect(escapeGlob("{tag}:^-!")).toBe("{tag}:^-!");
  });
});

describe("scriptSource and scriptCall", () => {
  it("hashes the source as SCRIPT LOAD does (SHA1 of its bytes, strings as UTF-8)", () => {
    const lua = "return 'é'";
    expect(scriptSource({ lua }).sha).toBe(createHash("sha1").update(Buffer.from(lua, "utf8")).digest("hex"));
    expect(scriptSource({ lua: Buffer.from(lua) }).sha).toBe(scriptSource({ lua }).sha);
  });

  it("lays a call out as EVALSHA sha numkeys keys... args..., or EVAL with the source", () => {
    const source = scriptSource({ lua: "return 1", numberOfKeys: 2 });
    expect(scriptCall(source, ["k1", "k2", "a"], false)).toMatchObject({
      name: "EVALSHA",
      args: [source.sha, 2, "k1", "k2", "a"],
    });
    expect(scriptCall(source, ["k1", "k2"], true)).toMatchObject({
      name: "EVAL",
      args: ["return 1", 2, "k1", "k2"],
    });
    const readOnly = scriptSource({ lua: "return 1", numberOfKeys: 0, readOnly: true });
    expect(scriptCall(readOnly, [], false).name).toBe("EVALSHA_RO");
    expect(scriptCall(readOnly, [], true).name).toBe("EVAL_RO");
    // Without numberOfKeys, the caller's first argument is numkeys.
    const free = scriptSource({ lua: "return 1" });
    expect(scriptCall(free, [1, "k"], false).args).toEqual([free.sha, 1, "k"]);
  });

  it("refuses what cannot be a script or a call of it", () => {
    expect(() => scriptSource({ lua: undefined as unknown as string })).toThrow(ArgumentError);
    expect(() => scriptSource({ lua: "x", numberOfKeys: 1.5 })).toThrow(ArgumentError);
    expect(() => scriptSource({ lua: "x", readOnly: "yes" as unknown as boolean })).toThrow(ArgumentError);
    expect(() => scriptCall(scriptSource({ lua: "x", numberOfKeys: 3 }), ["a"], false)).toThrow(
      ArgumentError,
    );
  });
});

describe("checkCallOptions", () => {
  it("accepts a signal, a positive timeout and a known readFrom", () => {
    const signal = new AbortController().signal;
    expect(checkCallOptions({ signal, timeoutMs: 250, readFrom: "nearest" })).toEqual({
      signal,
      timeoutMs: 250,
      readFrom: "nearest",
    });
    expect(checkCallOptions({})).toEqual({ signal: undefined, timeoutMs: undefined, readFrom: undefined });
  });

  it("refuses anything else with ArgumentError", () => {
    for (const bad of [
      { signal: {} as AbortSignal },
      { timeoutMs: 0 },
      { timeoutMs: Number.NaN },
      { timeoutMs: 2 ** 31 },
      { readFrom: "master" as never },
    ]) {
      expect(() => checkCallOptions(bad), JSON.stringify(bad)).toThrow(ArgumentError);
    }
    expect(() => checkCallOptions(null as never)).toThrow(ArgumentError);
  });
});
