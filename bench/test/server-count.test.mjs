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
  "cmdstat_config|get:calls=22,usec=84,usec_per_call=3.82,rejected_calls=0,failed_calls=0",
  "cmdstat_spublish:calls=40,usec=84,usec_per_call=2.10,rejected_calls=0,failed_calls=0",
  "cmdstat_publish:calls=9,usec=84,usec_per_call=2.10,rejected_calls=0,failed_calls=0",
  "",
].join("\r\n");

describe("parseCommandStats", () => {
  it("reads the calls of GET, SET, MGET and SPUBLISH only (not GETEX, MSET, CONFIG|GET, PUBLISH or failed_calls)", () => {
    expect(parseCommandStats(INFO)).toEqual({ get: 560313, set: 12, mget: 0, spublish: 40 });
  });
});

describe("readPrimaryCounts", () => {
  it("sums the primaries' counts", async () => {
    const node = (/** @type {string} */ info) => ({ call: async () => info });
    const admin = {
      nodes: () => [node(INFO), node("cmdstat_get:calls=7,usec=1\r\ncmdstat_mget:calls=3,usec=1\r\n")],
    };
    expect(await readPrimaryCounts(admin)).toEqual({ get: 560320, set: 12, mget: 3, spublish: 40 });
  });
});

describe("countsBetween", () => {
  it("subtracts reading by reading", () => {
    expect(
      countsBetween({ get: 10, set: 5, mget: 1, spublish: 7 }, { get: 110, set: 5, mget: 4, spublish: 9 }),
    ).toEqual({
      get: 100,
      set: 0,
      mget: 3,
      spublish: 2,
    });
  });
});
