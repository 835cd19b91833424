// @ts-check
import { tmpdir } from "node:os";
import { join, sep } from "node:path";
import { describe, expect, it } from "vitest";
import { parseOptions } from "../options.mjs";

describe("parseOptions", () => {
  it("runs everything, 5 rounds of 2 s, into bench/results/latest.* by default", () => {
    const settings = parseOptions([]);
    expect(settings).toMatchObject({
      rounds: 5,
      durationMs: 2_000,
      warmupMs: 500,
      memoryGets: 1_000_000,
      sections: ["W1", "W2", "W3", "W4", "W5", "W7", "W8", "W9", "W10", "W6", "ceiling"],
      clientIds: ["rediscluster", "ioredis", "ioredis-auto", "node-redis", "glide"],
      seeds: undefined,
      quick: false,
    });
    expect(settings.jsonPath.endsWith(`${sep}bench${sep}results${sep}latest.json`)).toBe(true);
    expect(settings.svgPath.endsWith(`${sep}bench${sep}results${sep}latest.svg`)).toBe(true);
  });

  it("--quick: one short round, 20,000 GETs in W6, results in the temporary folder", () => {
    const settings = parseOptions(["--quick"]);
    expect(settings).toMatchObject({
      rounds: 1,
      durationMs: 100,
      warmupMs: 25,
      memoryGets: 20_000,
      quick: true,
    });
    expect(settings.jsonPath).toBe(join(tmpdir(), "rediscluster-bench-latest.json"));
  });

  it("explicit values win over --quick's", () => {
    expect(parseOptions(["--quick", "--rounds", "3", "--duration", "500"])).toMatchObject({
      rounds: 3,
      durationMs: 500,
    });
  });

  it("--only and --clients select, case-insensitively, in run order; a partial run does not overwrite latest.*", () => {
    const settings = parseOptions(["--only", "w3,ceiling,W1", "--clients", "GLIDE,node-redis,rediscluster"]);
    expect(settings.sections).toEqual(["W1", "W3", "ceiling"]);
    expect(settings.clientIds).toEqual(["rediscluster", "node-redis", "glide"]);
    expect(settings.jsonPath.startsWith(tmpdir())).toBe(true);
  });

  it("--json names the JSON file and the chart goes next to it", () => {
    expect(parseOptions(["--json", "out/run.json"])).toMatchObject({
      jsonPath: "out/run.json",
      svgPath: "out/run.svg",
    });
    expect(parseOptions(["--json", "out/run"])).toMatchObject({
      jsonPath: "out/run",
      svgPath: "out/run.svg",
    });
  });

  it("--seeds takes a comma-separated list", () => {
    expect(parseOptions(["--seeds", "127.0.0.1:7001, 127.0.0.1:7002,"]).seeds).toEqual([
      "127.0.0.1:7001",
      "127.0.0.1:7002",
    ]);
  });

  it.each([
    [["--only", "W11"], /--only: unknown "w11"/],
    [["--clients", "jedis"], /--clients: unknown "jedis"/],
    [["--rounds", "0"], /--rounds must be an integer ≥ 1/],
    [["--duration", "1.5"], /--duration must be an integer/],
    [["--fast"], /Unknown option '--fast'/],
  ])("rejects %j", (argv, error) => {
    expect(() => parseOptions(argv)).toThrow(error);
  });
});
