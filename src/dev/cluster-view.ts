/**
 * What one node says about the cluster (CLUSTER INFO / NODES / SLOTS / SHARDS), parsed into
 * plain records, and the judgement of whether the answers of all live nodes add up to a
 * healthy cluster. Pure functions: no I/O, so the rules can be read (and tested) in one place.
 */
import type { RespValue } from "../resp/types.js";
import type { DevNodeRole } from "./types.js";

/** One line of CLUSTER NODES. */
export interface ClusterNodesEntry {
  id: string;
  port: number;
  flags: string[];
  myself: boolean;
  role: DevNodeRole;
  /** For a replica: its primary's id. */
  primaryId: string | undefined;
  /** Inclusive ranges; open migrations (`[slot->-id]`) are not included. */
  slots: Array<[number, number]>;
}

/** One range of CLUSTER SLOTS: its primary first, then the replicas it lists. */
export interface SlotsEntry {
  start: number;
  end: number;
  ports: number[];
}

/** One node inside a shard of CLUSTER SHARDS. */
export interface ShardNode {
  id: string;
  port: number;
  role: string;
  health: string;
}

/** What a node answered to CLUSTER INFO, NODES, SLOTS and SHARDS. */
export interface NodeReport {
  port: number;
  clusterState: string;
  nodes: ClusterNodesEntry[];
  slots: SlotsEntry[];
  shards: ShardNode[][];
}

/** The four commands a report is built from, in the order {@link parseNodeReport} expects. */
export const REPORT_COMMANDS: ReadonlyArray<readonly string[]> = [
  ["CLUSTER", "INFO"],
  ["CLUSTER", "NODES"],
  ["CLUSTER", "SLOTS"],
  ["CLUSTER", "SHARDS"],
];

/** Flags that mean "not a working member" in CLUSTER NODES. */
const UNHEALTHY_FLAGS = new Set(["handshake", "noaddr", "fail", "fail?"]);

/** Reads one node's CLUSTER INFO, NODES, SLOTS and SHARDS replies (in that order) into a report. */
export function parseNodeReport(port: number, replies: readonly RespValue[]): NodeReport {
  const [info, nodes, slots, shards] = replies;
  return {
    port,
    clusterState: parseInfo(asText(info, "CLUSTER INFO")).get("cluster_state") ?? "unknown",
    nodes: parseClusterNodes(asText(nodes, "CLUSTER NODES")),
    slots: parseClusterSlots(slots),
    shards: parseClusterShards(shards),
  };
}

/**
 * The report with every node port moved by `delta`: nodes that announce `port + offset`
 * (natMap tests) are named by the ports they listen on again.
 */
export function shiftReportPorts(report: NodeReport, delta: number): NodeReport {
  if (delta === 0) return report;
  return {
    ...report,
    nodes: report.nodes.map((entry) => ({ ...entry, port: entry.port + delta })),
    slots: report.slots.map((range) => ({ ...range, ports: range.ports.map((port) => port + delta) })),
    shards: report.shards.map((shard) => shard.map((node) => ({ ...node, port: node.port + delta }))),
  };
}

/** `field:value` lines of INFO / CLUSTER INFO. */
export function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0 && !line.startsWith("#")) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

/**
 * CLUSTER NODES: `<id> <ip:port@cport[,hostname]> <flags> <primary> <ping> <pong> <epoch>
 * <link> <slot>...`, where a slot is `n`, `a-b`, or an open migration in brackets.
 */
export function parseClusterNodes(text: string): ClusterNodesEntry[] {
  const entries: ClusterNodesEntry[] = [];
  for (const line of text.split("\n")) {
    const fields = line.trim().split(" ");
    const [id, address, flagText, primary] = fields;
    if (!id || !address || !flagText || !primary) continue;
    const flags = flagText.split(",");
    const slots: Array<[number, number]> = [];
    for (const token of fields.slice(8)) {
      if (token.startsWith("[")) continue;
      const dash = token.indexOf("-");
      const start = Number(dash === -1 ? token : token.slice(0, dash));
      const end = dash === -1 ? start : Number(token.slice(dash + 1));
      slots.push([start, end]);
    }
    entries.push({
      id,
      port: portOfAddress(address),
      flags,
      myself: flags.includes("myself"),
      role: flags.includes("slave") ? "replica" : "primary",
      primaryId: primary === "-" ? undefined : primary,
      slots,
    });
  }
  return entries;
}

/** CLUSTER SLOTS: `[start, end, [ip, port, id, ...], [ip, port, id, ...]...]` per range. */
export function parseClusterSlots(reply: RespValue | undefined): SlotsEntry[] {
  const ranges = asArray(reply, "CLUSTER SLOTS");
  return ranges.map((range) => {
    const [start, end, ...nodes] = asArray(range, "CLUSTER SLOTS range");
    return {
      start: Number(start),
      end: Number(end),
      ports: nodes.map((node) => Number(asArray(node, "CLUSTER SLOTS node")[1])),
    };
  });
}

/**
 * CLUSTER SHARDS: per shard `slots` and `nodes`, each node a map (a flat array of
 * field/value pairs in RESP2).
 */
export function parseClusterShards(reply: RespValue | undefined): ShardNode[][] {
  return asArray(reply, "CLUSTER SHARDS").map((shard) => {
    const nodes = asArray(asRecord(shard).nodes, "CLUSTER SHARDS nodes");
    return nodes.map((node) => {
      const fields = asRecord(node);
      return {
        id: String(fields.id),
        port: Number(fields.port ?? fields["tls-port"]),
        role: String(fields.role),
        health: String(fields.health),
      };
    });
  });
}

/** Whether the nodes' reports agree on a healthy cluster, and what to do if not. */
export interface HealthVerdict {
  /** Why the cluster is not healthy yet; undefined when it is. */
  problem: string | undefined;
  /**
   * Primaries (ports) with a replica missing from CLUSTER SLOTS. Redis 7.0 leaves a replica
   * out until its replication offset is non-zero, which takes a write on its primary.
   */
  primariesToNudge: number[];
}

/**
 * Healthy means: every live node reports `cluster_state:ok`; every one of them knows every
 * live node as a working member; every slot belongs to a live node; they all agree on
 * roles and slot owners; and every live replica is listed under its primary in CLUSTER
 * SLOTS and as `online` in CLUSTER SHARDS, by every node. A node that is not live (killed)
 * is not required to be anywhere, but may not own slots.
 */
export function judgeHealth(reports: readonly NodeReport[], livePorts: readonly number[]): HealthVerdict {
  const healthy: HealthVerdict = { problem: undefined, primariesToNudge: [] };
  const unhealthy = (problem: string): HealthVerdict => ({ problem, primariesToNudge: [] });
  const first = reports[0];
  if (!first) return unhealthy("no node answered");
  const live = new Set(livePorts);
  const idByPort = new Map<number, string>();
  for (const report of reports) {
    if (report.clusterState !== "ok")
      return unhealthy(`${report.port} reports cluster_state:${report.clusterState}`);
    const myself = report.nodes.find((entry) => entry.myself);
    if (myself) idByPort.set(report.port, myself.id);
  }
  for (const report of reports) {
    for (const port of live) {
      const entry = report.nodes.find(
        (candidate) => candidate.port === port && candidate.id === idByPort.get(port),
      );
      if (!entry) return unhealthy(`${report.port} does not know node ${port} yet`);
      const bad = entry.flags.filter((flag) => UNHEALTHY_FLAGS.has(flag));
      if (bad.length > 0) return unhealthy(`${report.port} flags node ${port} as ${bad.join(",")}`);
    }
  }
  // A killed primary keeps its slots until a replica takes over; until then, and even
  // while the others have not noticed yet, its slots are not served.
  const orphan = first.nodes.find((entry) => entry.slots.length > 0 && !live.has(entry.port));
  if (orphan)
    return unhealthy(`slots ${formatRanges(orphan.slots)} belong to node ${orphan.port}, which is down`);
  const expected = topologySignature(first, live);
  for (const report of reports.slice(1)) {
    if (topologySignature(report, live) !== expected) {
      return unhealthy(`nodes ${first.port} and ${report.port} disagree on roles or slot owners`);
    }
  }
  const nudge = new Set<number>();
  let problem: string | undefined;
  for (const replica of first.nodes) {
    if (replica.role !== "replica" || !live.has(replica.port)) continue;
    const primary = first.nodes.find((entry) => entry.id === replica.primaryId);
    if (!primary) return unhealthy(`${first.port} does not know the primary of replica ${replica.port}`);
    for (const report of reports) {
      const ranges = report.slots.filter((range) => range.ports[0] === primary.port);
      if (ranges.some((range) => !range.ports.includes(replica.port))) {
        nudge.add(primary.port);
        problem ??= `${report.port} does not list replica ${replica.port} in CLUSTER SLOTS yet`;
      }
      const listed = report.shards.flat().find((node) => node.id === replica.id);
      if (listed?.health !== "online") {
        nudge.add(primary.port);
        problem ??= `${report.port} lists replica ${replica.port} in CLUSTER SHARDS as ${listed?.health ?? "absent"}`;
      }
    }
  }
  return problem === undefined ? healthy : { problem, primariesToNudge: [...nudge] };
}

/**
 * One line per node that matters (live, or owning slots), sorted: two nodes agree on the
 * cluster exactly when their signatures are equal.
 */
function topologySignature(report: NodeReport, live: ReadonlySet<number>): string {
  return report.nodes
    .filter((entry) => !entry.flags.includes("handshake") && (live.has(entry.port) || entry.slots.length > 0))
    .map(
      (entry) =>
        `${entry.id} ${entry.port} ${entry.role} ${entry.primaryId ?? "-"} ${formatRanges(entry.slots)}`,
    )
    .sort()
    .join("\n");
}

/** `[[0, 5460], [6000, 6000]]` → `"0-5460,6000"`. */
export function formatRanges(ranges: ReadonlyArray<readonly [number, number]>): string {
  return ranges.map(([start, end]) => (start === end ? `${start}` : `${start}-${end}`)).join(",");
}

/** Sorted, merged inclusive ranges from a list of slots. */
export function slotsToRanges(slots: Iterable<number>): Array<[number, number]> {
  const sorted = [...new Set(slots)].sort((a, b) => a - b);
  const ranges: Array<[number, number]> = [];
  for (const slot of sorted) {
    const last = ranges[ranges.length - 1];
    if (last && last[1] === slot - 1) last[1] = slot;
    else ranges.push([slot, slot]);
  }
  return ranges;
}

/** `127.0.0.1:7000@17000,host` → 7000 (0 for a node without an address yet). */
function portOfAddress(address: string): number {
  const at = address.indexOf("@");
  const hostPort = at === -1 ? address : address.slice(0, at);
  return Number(hostPort.slice(hostPort.lastIndexOf(":") + 1)) || 0;
}

function asText(value: RespValue | undefined, what: string): string {
  if (typeof value === "string") return value;
  if (Buffer.isBuffer(value)) return value.toString("utf8");
  throw new Error(`unexpected ${what} reply: ${describe(value)}`);
}

function asArray(value: RespValue | undefined, what: string): RespValue[] {
  if (Array.isArray(value)) return value;
  throw new Error(`unexpected ${what} reply: ${describe(value)}`);
}

/** A RESP3 map, or a RESP2 flat array of field/value pairs, as a record. */
function asRecord(value: RespValue | undefined): { [field: string]: RespValue } {
  if (!Array.isArray(value)) {
    if (typeof value === "object" && value !== null && !Buffer.isBuffer(value) && !(value instanceof Error)) {
      return value;
    }
    throw new Error(`expected a map, got ${describe(value)}`);
  }
  const record: { [field: string]: RespValue } = {};
  for (let index = 0; index + 1 < value.length; index += 2) {
    record[String(value[index])] = value[index + 1] as RespValue;
  }
  return record;
}

function describe(value: RespValue | undefined): string {
  if (value instanceof Error) return value.message;
  return typeof value === "object" && value !== null ? "an aggregate of another shape" : String(value);
}
