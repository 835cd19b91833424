// @ts-check
import { describe, expect, it } from "vitest";
import { countsBetween, parseCommandStats, readPrimaryCounts } from "../server-count.mjs";

const INFO = [
  "# Commandstats",
  "cmdstat_info:calls=44,usec=2719,usec_per_call=61.80,rejected_calls=0,failed_calls=0",
  "cmdstat_mset:calls=16690,usec=13708,usec_per_call=0.82,rejected_calls=0,failed_calls=0",
  "cmdstat_getex:calls=5,usec=5,usec_per_call=1.00,rejected_calls=0,failed_calls=0",
  "cmdstat_get:calls=560313,usec=447996,usec_per_call=0.80,rejected_calls=0,failed_calls=7",
  "cmdstat_set:calls=12,usec=12,usec_per_call=1.00,rejected_calls=0,failed_calls=0",
  "cmdstat_exec:calls=9,usec=12,usec_per_call=1.00,rejected_calls=0,failed_calls=0",
  "cmdstat_evalsha:calls=30,usec=12,usec_per_call=1.00,rejected_calls=0,failed_calls=2",
  "cmdstat_eval:calls=2,usec=12,usec_per_call=1.00,rejected_calls=0,failed_calls=0",
  "cmdstat_eval_ro:calls=4,usec=12,usec_per_call=1.00,rejected_calls=0,failed_calls=0",
  "cmdstat_config|get:calls=22,usec=84,usec_per_call=3.82,rejected_calls=0,failed_calls=0",
  "cmdstat_spublish:calls=40,usec=84,usec_per_call=2.10,rejected_calls=0,failed_calls=0",
  "cmdstat_publish:calls=9,usec=84,usec_per_call=2.10,rejected_calls=0,failed_calls=0",
  "",
].join("\r\n");

describe("parseCommandStats", () => {
  it("reads the calls of GET, SET, MGET, EXEC, EVALSHA, EVAL and SPUBLISH only (not GETEX, MSET, EVAL_RO, CONFIG|GET, PUBLISH or failed_calls)", () => {
    expect(parseCommandStats(INFO)).toEqual({
      get: 560313,
      set: 12,
      mget: 0,
      exec: 9,
      evalsha: 30,
      eval: 2,
      spublish: 40,
    });
  });
});

describe("readPrimaryCounts", () => {
  it("sums the primaries' counts", async () => {
    const node = (/** @type {string} */ info) => ({ call: async () => info });
    const admin = {
      nodes: () => [node(INFO), node("cmdstat_get:calls=7,usec=1\r\ncmdstat_mget:calls=3,usec=1\r\n")],
    };
    expect(await readPrimaryCounts(admin)).toEqual({
      get: 560320,
      set: 12,
      mget: 3,
      exec: 9,
      evalsha: 30,
      eval: 2,
      spublish: 40,
    });
  });
});

describe("countsBetween", () => {
  it("subtracts, command by command", () => {
    expect(
      countsBetween(
        { get: 10, set: 5, mget: 1, exec: 2, evalsha: 3, eval: 1, spublish: 7 },
        { get: 110, set: 5, mget: 4, exec: 12, evalsha: 3, eval: 2, spublish: 9 },
      ),
    ).toEqual({ get: 100, set: 0, mget: 3, exec: 10, evalsha: 0, eval: 1, spublish: 2 });
  });
});
