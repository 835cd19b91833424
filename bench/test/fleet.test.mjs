// @ts-check
import { describe, expect, it } from "vitest";
import { alignOnFailover, eventMarkers, formatFleet, parseFleetOptions, UsageError } from "../fleet.mjs";

/** @typedef {import("../fleet.mjs").LibraryRun} LibraryRun */

/**
 * @param {string} library
 * @param {number} failoverMs
 * @returns {LibraryRun}
 */
function run(library, failoverMs) {
  return {
    library,
    connectMs: { p50: 100, max: 300 },
    topologyRequests: 601,
    byCommand: { "cluster|shards": 601 },
    byPhase: { start: 600, failover: 1, reshard: 0 },
    requestsPerClient: 3.01,
    peakPerSecond: 400,
    perSecond: [
      [1, 400],
      [2, 201],
    ],
    events: [
      {
        name: "failover",
        atMs: failoverMs,
        doneMs: failoverMs + 900,
        routedMs: { p50: 10, p99: 90, max: 99 },
        unrouted: 0,
      },
      {
        name: "reshard",
        atMs: failoverMs + 10_000,
        doneMs: failoverMs + 10_500,
        routedMs: { p50: 5, p99: 8, max: 9 },
        unrouted: 2,
      },
    ],
    commands: 1000,
    errors: {},
    rssMbPerProcess: 80,
  };
}

describe("parseFleetOptions", () => {
  it("defaults: 200 clients over 4 processes, both libraries, 10 s phases", () => {
    const settings = parseFleetOptions([]);
    expect(settings).toMatchObject({
      clients: 200,
      processes: 4,
      libraries: ["rediscluster", "ioredis"],
      phaseMs: 10_000,
    });
    expect(settings.jsonPath.endsWith("fleet.json")).toBe(true);
  });

  it("the short form, and no more processes than clients", () => {
    expect(parseFleetOptions(["--clients", "3", "--quick"])).toMatchObject({
      clients: 3,
      processes: 3,
      phaseMs: 3_000,
    });
  });

  it("refuses nonsense with the usage", () => {
    expect(() => parseFleetOptions(["--clients", "0"])).toThrow(UsageError);
    expect(() => parseFleetOptions(["--libraries", "jedis"])).toThrow(/unknown --libraries jedis/);
  });
});

describe("the chart's time axis", () => {
  it("one marker per event when the runs line up, one per library otherwise", () => {
    expect(eventMarkers([run("a", 3000), run("b", 3500)]).map((marker) => marker.label)).toEqual([
      "failover",
      "reshard",
    ]);
    expect(eventMarkers([run("a", 3000), run("b", 6000)]).map((marker) => marker.label)).toEqual([
      "failover (a)",
      "failover (b)",
      "reshard (a)",
      "reshard (b)",
    ]);
  });

  it("alignOnFailover shifts each run so that the failovers coincide", () => {
    const { series, markers } = alignOnFailover([run("a", 3000), run("b", 6000)]);
    expect(series[0]?.points[0]).toEqual([4, 400]);
    expect(series[1]?.points[0]).toEqual([1, 400]);
    expect(markers.map((marker) => [marker.label, marker.x])).toEqual([
      ["failover", 6],
      ["reshard", 16],
    ]);
  });
});

describe("formatFleet", () => {
  it("a row per figure, a column per library", () => {
    const text = formatFleet([run("rediscluster", 3000), run("ioredis", 3000)], 200);
    expect(text).toMatch(/^\s+rediscluster\s+ioredis/);
    expect(text).toMatch(/topology requests, whole run\s+601\s+601/);
    expect(text).toMatch(/all 200 route right after reshard\s+9 ms \(p50 5 ms\) \(2 never\)/);
  });
});
