// @ts-check
import { describe, expect, it } from "vitest";
import {
  intervals,
  noCalls,
  parseTopologyCalls,
  perSecondBins,
  quantile,
  requestsBetween,
  sumCalls,
  topologyRequests,
} from "../topology-stats.mjs";

/** An INFO commandstats reply as Redis 7 writes it (subcommands as `cluster|x`). */
const INFO = [
  "# Commandstats",
  "cmdstat_get:calls=1200,usec=900,usec_per_call=0.75,rejected_calls=0,failed_calls=0",
  "cmdstat_cluster|shards:calls=42,usec=4200,usec_per_call=100.00,rejected_calls=0,failed_calls=0",
  "cmdstat_cluster|slots:calls=7,usec=70,usec_per_call=10.00,rejected_calls=0,failed_calls=0",
  "cmdstat_cluster|nodes:calls=3,usec=30,usec_per_call=10.00,rejected_calls=0,failed_calls=0",
  "cmdstat_cluster|info:calls=5,usec=5,usec_per_call=1.00,rejected_calls=0,failed_calls=0",
  "cmdstat_cluster|myid:calls=9,usec=9,usec_per_call=1.00,rejected_calls=0,failed_calls=0",
  "",
].join("\r\n");

/** @param {Partial<ReturnType<typeof noCalls>>} calls */
const callsOf = (calls) => ({ ...noCalls(), ...calls });

describe("parseTopologyCalls", () => {
  it("reads the calls of CLUSTER SHARDS, SLOTS, NODES and INFO, nothing else", () => {
    expect(parseTopologyCalls(INFO)).toEqual({
      "cluster|shards": 42,
      "cluster|slots": 7,
      "cluster|nodes": 3,
      "cluster|info": 5,
    });
    expect(topologyRequests(parseTopologyCalls(INFO))).toBe(52);
  });

  it("a node that never served one counts zero", () => {
    expect(parseTopologyCalls("# Commandstats\r\ncmdstat_get:calls=1\r\n")).toEqual(noCalls());
  });
});

describe("intervals", () => {
  it("differences between readings, summed over nodes", () => {
    const list = intervals([
      { atMs: 0, byNode: { a: callsOf({ "cluster|shards": 10 }), b: callsOf({ "cluster|slots": 1 }) } },
      { atMs: 1000, byNode: { a: callsOf({ "cluster|shards": 13 }), b: callsOf({ "cluster|slots": 2 }) } },
      { atMs: 2000, byNode: { a: callsOf({ "cluster|shards": 13 }), b: callsOf({ "cluster|slots": 2 }) } },
    ]);
    expect(list.map((item) => [item.fromMs, item.toMs, item.requests])).toEqual([
      [0, 1000, 4],
      [1000, 2000, 0],
    ]);
    expect(sumCalls(list.map((item) => item.calls))["cluster|shards"]).toBe(3);
  });

  it("a node that restarted (its counter went down) counts from zero; a missing node adds nothing", () => {
    const list = intervals([
      { atMs: 0, byNode: { a: callsOf({ "cluster|shards": 100 }), b: callsOf({ "cluster|shards": 5 }) } },
      { atMs: 1000, byNode: { a: callsOf({ "cluster|shards": 2 }) } },
      { atMs: 2000, byNode: { a: callsOf({ "cluster|shards": 3 }), b: callsOf({ "cluster|shards": 9 }) } },
    ]);
    expect(list.map((item) => item.requests)).toEqual([2, 1]);
  });
});

describe("perSecondBins and requestsBetween", () => {
  const list = [
    { fromMs: 0, toMs: 1000, requests: 5, calls: noCalls() },
    { fromMs: 1000, toMs: 1500, requests: 2, calls: noCalls() }, // an extra reading at an event
    { fromMs: 1500, toMs: 2000, requests: 3, calls: noCalls() },
    { fromMs: 2000, toMs: 3010, requests: 1, calls: noCalls() },
  ];

  it("bins requests by the second their interval ends in", () => {
    expect(perSecondBins(list)).toEqual([5, 5, 0, 1]);
  });

  it("sums the intervals ending inside a window", () => {
    expect(requestsBetween(list, 1000, 2000)).toBe(5);
    expect(requestsBetween(list, -1, 1000)).toBe(5);
  });
});

describe("quantile", () => {
  it("nearest rank; undefined for nothing", () => {
    expect(quantile([5, 1, 3, 2, 4], 0.5)).toBe(3);
    expect(quantile([5, 1, 3, 2, 4], 1)).toBe(5);
    expect(quantile([5, 1, 3, 2, 4], 0)).toBe(1);
    expect(quantile([], 0.5)).toBeUndefined();
  });
});
