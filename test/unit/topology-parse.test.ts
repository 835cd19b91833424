import { describe, expect, it } from "vitest";
import { type ClusterNode, diffTopology, Topology } from "../../src/cluster/topology.js";
import { parseClusterShards } from "../../src/cluster/topology-parse.js";
import type { RespValue } from "../../src/resp/types.js";

const context = {
  replierHost: "127.0.0.1",
  mapAddress: (host: string, port: number) => ({ host, port }),
  tls: false,
};

/** One shard as a newer server sends it: fields this client does not know, of every shape. */
function shard(protocol: 2 | 3): RespValue {
  const node = (id: string, port: number, role: string) => ({
    id,
    port,
    ip: "127.0.0.1",
    endpoint: "127.0.0.1",
    role,
    "replication-offset": 14,
    health: "online",
    // Valkey 8.1+ and Redis 8 add fields such as these; the client must not care.
    "availability-zone": "us-east-1a",
    "future-number": 1.5,
    "future-list": ["a", 1, null],
    "future-map": { nested: ["x"] },
  });
  const fields = {
    slots: [0, 16383],
    nodes: [node("a".repeat(40), 7000, "master"), node("b".repeat(40), 7001, "replica")],
    "shard-id": "c".repeat(40),
  };
  if (protocol === 3) return [fields] as unknown as RespValue;
  const flat = (object: Record<string, unknown>): RespValue =>
    Object.entries(object).flatMap(([key, value]) => [
      key,
      typeof value === "object" && value !== null && !Array.isArray(value)
        ? flat(value as Record<string, unknown>)
        : (value as RespValue),
    ]);
  return [
    flat({ ...fields, nodes: fields.nodes.map((n) => flat(n as unknown as Record<string, unknown>)) }),
  ] as RespValue;
}

describe("parseClusterShards", () => {
  for (const protocol of [2, 3] as const) {
    it(`ignores fields it does not know (availability-zone, ...), RESP${protocol}`, () => {
      const [only, ...rest] = parseClusterShards(shard(protocol), context);
      expect(rest).toEqual([]);
      expect(only!.ranges).toEqual([[0, 16383]]);
      expect(only!.primary.address).toBe("127.0.0.1:7000");
      expect(only!.replicas.map((replica) => replica.address)).toEqual(["127.0.0.1:7001"]);
    });
  }
});

describe("diffTopology", () => {
  const node = (port: number, role: "primary" | "replica"): ClusterNode => ({
    id: `node-${port}`,
    host: "127.0.0.1",
    port,
    address: `127.0.0.1:${port}`,
    role,
    health: "online",
    replicationOffset: 0,
    hostname: undefined,
  });
  const view = (primary: number, replica: number) =>
    new Topology([
      { primary: node(primary, "primary"), replicas: [node(replica, "replica")], ranges: [[0, 16383]] },
    ]);

  it("reports a failover that a MOVED patched in before the refresh confirmed it", () => {
    const before = view(7000, 7001);
    // The MOVED after the failover: slot 5 now answered by 7001, patched in at once.
    before.patchSlot(5, node(7001, "primary"));
    const after = view(7001, 7000);
    const change = diffTopology(before, after);
    expect(change.rolesChanged).toEqual([
      { address: "127.0.0.1:7001", from: "replica", to: "primary" },
      { address: "127.0.0.1:7000", from: "primary", to: "replica" },
    ]);
    expect(change.slotsMoved).toBe(16384);
    expect(change.nodesAdded).toEqual([]);
    expect(change.nodesRemoved).toEqual([]);
  });

  it("a node only a MOVED named, and the refresh does not, is not reported as removed", () => {
    const before = view(7000, 7001);
    before.patchSlot(5, node(7009, "primary"));
    const change = diffTopology(before, view(7000, 7001));
    expect(change.nodesRemoved).toEqual([]);
    expect(change.slotsMoved).toBe(0);
  });
});
