/**
 * Reads `CLUSTER SHARDS` (Redis 7+) and `CLUSTER SLOTS` replies into shards. Both protocols:
 * RESP2 sends maps as flat `[field, value, ...]` arrays, RESP3 as objects.
 *
 * Endpoints follow the cluster spec: a null or empty endpoint means "the host you asked",
 * with the port from the reply (nodes behind a load balancer, `cluster-preferred-endpoint-type
 * unknown-endpoint`); `"?"` means the node's endpoint is unknown, so it is skipped.
 *
 * Addresses from the server are not trusted (issue 17.2): a node whose host is not a usable
 * host name, or whose port is not an integer 1-65535 — as announced, or as natMap turns it —
 * is skipped like an unknown endpoint, and the rest of the view is kept. A shard whose
 * primary is skipped serves nothing we can route to; its slots count as unserved, which the
 * refresh's consensus weighs like any smaller view.
 */
import { SLOT_COUNT } from "../command/slot.js";
import { formatAddress, isValidAddress, isValidHost, isValidPort } from "../connection/address.js";
import type { RespValue } from "../resp/types.js";
import type { ClusterNode, NodeHealth, Shard } from "./topology.js";

/** Turns an announced `host:port` into the one to connect to (natMap). */
export type AddressMapper = (host: string, port: number) => { host: string; port: number };

/** What a topology reply is read with: who sent it, how addresses map, TLS or not. */
export interface ParseContext {
  /** Host of the node that sent the reply: used for null / empty endpoints. */
  replierHost: string;
  /** Applies `natMap` to every announced address. */
  mapAddress: AddressMapper;
  /** Connect to `tls-port` where the reply gives one. */
  tls: boolean;
}

/** The reply does not have the shape the command documents. */
export class TopologyParseError extends Error {}

/** Reads a `CLUSTER SHARDS` reply (RESP2 or RESP3) into shards; bad nodes are skipped. */
export function parseClusterShards(reply: RespValue, context: ParseContext): Shard[] {
  if (!Array.isArray(reply)) throw new TopologyParseError("CLUSTER SHARDS: expected an array");
  const shards: Shard[] = [];
  for (const entry of reply) {
    const fields = asFields(entry, "CLUSTER SHARDS shard");
    const slots = fields.get("slots");
    const nodes = fields.get("nodes");
    if (!Array.isArray(slots) || !Array.isArray(nodes)) {
      throw new TopologyParseError("CLUSTER SHARDS: a shard lacks slots or nodes");
    }
    const ranges = readRanges(slots);
    const primaries: ClusterNode[] = [];
    const replicas: ClusterNode[] = [];
    for (const nodeEntry of nodes) {
      const node = readShardsNode(asFields(nodeEntry, "CLUSTER SHARDS node"), context);
      if (node === undefined) continue;
      if (node.role === "primary") primaries.push(node);
      else replicas.push(node);
    }
    const primary = primaryOfShard(primaries);
    // A shard without a reachable primary serves nothing we can route to; a primary without
    // slots (a new, empty primary) still counts, so that its replicas are known.
    if (primary !== undefined) shards.push({ primary, replicas, ranges });
  }
  return checkDisjoint(shards, "CLUSTER SHARDS");
}

/**
 * The primary of a shard. Since Redis 7.2 a shard groups nodes by shard id, and during and
 * after a failover it lists the old primary next to the new one, both as `master`: for a moment
 * both healthy, and then — while the old one is down — the failed old one with the shard's
 * slots reported as empty (7.2), for as long as it stays down. Such an entry cannot say which
 * node serves the slots, so the view is not taken from it: the caller asks `CLUSTER SLOTS`
 * instead, which maps slots to the nodes that serve them.
 */
function primaryOfShard(primaries: readonly ClusterNode[]): ClusterNode | undefined {
  if (primaries.length > 1) throw new AmbiguousShardError();
  return primaries[0];
}

/** A `CLUSTER SHARDS` entry lists two primaries (see `primaryOfShard`). */
export class AmbiguousShardError extends TopologyParseError {
  constructor() {
    super("CLUSTER SHARDS: a shard lists two primaries (a failover under way or just done)");
  }
}

/** Reads a `CLUSTER SLOTS` reply into shards (every node listed counts as online). */
export function parseClusterSlots(reply: RespValue, context: ParseContext): Shard[] {
  if (!Array.isArray(reply)) throw new TopologyParseError("CLUSTER SLOTS: expected an array");
  const byPrimary = new Map<
    string,
    { primary: ClusterNode; replicas: ClusterNode[]; ranges: Array<[number, number]> }
  >();
  for (const entry of reply) {
    if (!Array.isArray(entry) || entry.length < 3)
      throw new TopologyParseError("CLUSTER SLOTS: bad slot range entry");
    const start = toInteger(entry[0]);
    const end = toInteger(entry[1]);
    checkRange(start, end);
    const primary = readSlotsNode(entry[2], "primary", context);
    if (primary === undefined) continue;
    let shard = byPrimary.get(primary.address);
    if (shard === undefined) {
      shard = { primary, replicas: [], ranges: [] };
      byPrimary.set(primary.address, shard);
    }
    shard.ranges.push([start, end]);
    for (let i = 3; i < entry.length; i++) {
      const replica = readSlotsNode(entry[i], "replica", context);
      if (replica !== undefined && !shard.replicas.some((known) => known.address === replica.address)) {
        shard.replicas.push(replica);
      }
    }
  }
  return checkDisjoint([...byPrimary.values()], "CLUSTER SLOTS");
}

/**
 * A node's own table gives each slot one owner; a reply where two primaries claim a slot is
 * not one to route by (a buggy server or proxy), whatever the order of its entries.
 */
function checkDisjoint(shards: Shard[], command: string): Shard[] {
  const owner = new Int32Array(SLOT_COUNT).fill(-1);
  shards.forEach((shard, index) => {
    for (const [start, end] of shard.ranges) {
      for (let slot = start; slot <= end; slot++) {
        if (owner[slot] !== -1 && owner[slot] !== index) {
          throw new TopologyParseError(`${command}: slot ${slot} is claimed by two primaries`);
        }
        owner[slot] = index;
      }
    }
  });
  return shards;
}

function readShardsNode(fields: Map<string, RespValue>, context: ParseContext): ClusterNode | undefined {
  const plainPort = optionalInteger(fields.get("port"));
  const tlsPort = optionalInteger(fields.get("tls-port"));
  const port = context.tls && tlsPort !== undefined ? tlsPort : (plainPort ?? tlsPort);
  if (port === undefined) throw new TopologyParseError("CLUSTER SHARDS: a node has no port");
  // `endpoint` is the preferred address; null or "" there means "the host you asked", so the
  // `ip` field is only a stand-in for servers that send no endpoint field at all.
  const host = resolveEndpoint(fields.has("endpoint") ? fields.get("endpoint") : fields.get("ip"), context);
  if (host === undefined || !isValidPort(port)) return undefined;
  const mapped = context.mapAddress(host, port);
  if (!isValidAddress(mapped)) return undefined;
  const role = text(fields.get("role"));
  const health = text(fields.get("health"));
  return {
    id: text(fields.get("id")) ?? "",
    host: mapped.host,
    port: mapped.port,
    address: formatAddress(mapped.host, mapped.port),
    role: role === "master" || role === "primary" ? "primary" : "replica",
    health: health === "fail" || health === "failed" ? "failed" : health === "loading" ? "loading" : "online",
    replicationOffset: optionalInteger(fields.get("replication-offset")) ?? 0,
    hostname: text(fields.get("hostname")) || undefined,
    availabilityZone: text(fields.get("availability-zone")) || undefined,
  };
}

function readSlotsNode(entry: RespValue | undefined, role: "primary" | "replica", context: ParseContext) {
  if (!Array.isArray(entry) || entry.length < 2)
    throw new TopologyParseError("CLUSTER SLOTS: bad node entry");
  const host = resolveEndpoint(entry[0], context);
  const port = toInteger(entry[1]);
  if (host === undefined || !isValidPort(port)) return undefined;
  const mapped = context.mapAddress(host, port);
  if (!isValidAddress(mapped)) return undefined;
  const meta = entry[3] === undefined ? undefined : asFields(entry[3], "CLUSTER SLOTS node metadata");
  const node: ClusterNode = {
    id: text(entry[2]) ?? "",
    host: mapped.host,
    port: mapped.port,
    address: formatAddress(mapped.host, mapped.port),
    role,
    health: "online" satisfies NodeHealth,
    replicationOffset: 0,
    hostname: text(meta?.get("hostname")) || undefined,
    availabilityZone: text(meta?.get("availability-zone")) || undefined,
  };
  return node;
}

/**
 * `undefined` when the endpoint is unknown (`"?"`) or not a host at all (spaces, control
 * characters): the node cannot be reached.
 */
function resolveEndpoint(value: RespValue | undefined, context: ParseContext): string | undefined {
  if (value === null || value === undefined) return context.replierHost;
  const endpoint = text(value);
  if (endpoint === undefined || endpoint === "") return context.replierHost;
  if (endpoint === "?" || !isValidHost(endpoint)) return undefined;
  return endpoint;
}

function readRanges(slots: RespValue[]): Array<[number, number]> {
  if (slots.length % 2 !== 0) throw new TopologyParseError("CLUSTER SHARDS: odd slot list");
  const ranges: Array<[number, number]> = [];
  for (let i = 0; i < slots.length; i += 2) {
    const start = toInteger(slots[i]);
    const end = toInteger(slots[i + 1]);
    checkRange(start, end);
    ranges.push([start, end]);
  }
  return ranges;
}

function checkRange(start: number, end: number): void {
  if (!(start >= 0 && end < SLOT_COUNT && start <= end)) {
    throw new TopologyParseError(`slot range ${start}-${end} is out of bounds`);
  }
}

/** Reads a RESP3 map (object) or a RESP2 flat field/value array. */
function asFields(value: RespValue | undefined, what: string): Map<string, RespValue> {
  const fields = new Map<string, RespValue>();
  if (Array.isArray(value)) {
    for (let i = 0; i + 1 < value.length; i += 2) {
      const name = text(value[i]);
      if (name !== undefined) fields.set(name, value[i + 1]!);
    }
    return fields;
  }
  if (value !== null && typeof value === "object" && !Buffer.isBuffer(value) && !(value instanceof Error)) {
    for (const [name, field] of Object.entries(value)) fields.set(name, field);
    return fields;
  }
  throw new TopologyParseError(`${what}: expected a map`);
}

function text(value: RespValue | undefined): string | undefined {
  if (typeof value === "string") return value;
  if (Buffer.isBuffer(value)) return value.toString();
  return undefined;
}

function toInteger(value: RespValue | undefined): number {
  const number = optionalInteger(value);
  if (number === undefined) throw new TopologyParseError("expected an integer");
  return number;
}

function optionalInteger(value: RespValue | undefined): number | undefined {
  if (typeof value === "number" && Number.isInteger(value)) return value;
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "string" && /^-?\d+$/.test(value)) return Number(value);
  return undefined;
}
