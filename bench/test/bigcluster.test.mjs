// @ts-check
import { describe, expect, it } from "vitest";
import { formatTable, parseBigClusterOptions, usecPerCall } from "../bigcluster.mjs";

describe("usecPerCall", () => {
  it("reads one command's server time per call from INFO commandstats", () => {
    const info =
      "cmdstat_cluster|slots:calls=2,usec=20,usec_per_call=10.00,rejected_calls=0,failed_calls=0\r\n" +
      "cmdstat_cluster|shards:calls=4,usec=683,usec_per_call=170.75,rejected_calls=0,failed_calls=0\r\n";
    expect(usecPerCall(info, "cluster|shards")).toBe(170.75);
    expect(usecPerCall(info, "cluster|nodes")).toBeUndefined();
  });
});

describe("parseBigClusterOptions", () => {
  it("3, 10 and 30 shards by default; --quick stops at 10; --shards picks", () => {
    expect(parseBigClusterOptions([]).shards).toEqual([3, 10, 30]);
    expect(parseBigClusterOptions(["--quick"]).shards).toEqual([3, 10]);
    expect(parseBigClusterOptions(["--shards", "5,20"]).shards).toEqual([5, 20]);
    expect(() => parseBigClusterOptions(["--shards", "2"])).toThrow(/--shards/);
  });
});

describe("formatTable", () => {
  it("a Markdown table, one column per cluster size", () => {
    const result = {
      shards: 3,
      nodes: 6,
      devStartMs: 2300,
      clusterRssMb: 76.3,
      coldStartMs: 5,
      coldStartTopologyRequests: 1,
      refresh: {
        replyBytes: 1434,
        decodeUs: 15.6,
        parseUs: 134.3,
        tableUs: 19.6,
        serverUsPerCall: 54.11,
        heapBytesPerNode: 522,
      },
      connectionsPerClient: { primary: 3, replica: 6 },
      reshard: {
        slotsMoved: 192,
        keysMoved: 117,
        durationMs: 100,
        commands: 51518,
        errors: { TimeoutError: 2 },
        moved: 14,
        ask: 4,
        refreshes: 3,
        topologyRequests: 7,
        routesRight: true,
      },
    };
    const table = formatTable([result, { ...result, shards: 30, nodes: 60 }]).split("\n");
    expect(table[0]).toBe("| | 3 shards | 30 shards |");
    expect(table[1]).toBe("| --- | --- | --- |");
    expect(table).toContain("| nodes (primaries + replicas) | 6 | 60 |");
    expect(table).toContain("|   client commands / errors | 51518 / 2 | 51518 / 2 |");
    expect(table).toContain("| CLUSTER SHARDS reply | 1.4 KiB | 1.4 KiB |");
  });
});
