/**
 * Picks the node for a command: slot → shard (one typed-array read) → the shard's primary,
 * or, for a read-only command when the client reads from replicas, one of its healthy
 * replicas by the `readFrom` rule.
 *
 * A replica is healthy when the cluster reports it `online` and its own `INFO replication`
 * was read and showed its link to the primary up (cluster/health.ts). Nothing else is ever
 * chosen for a read; with no healthy replica, reads go to the primary.
 */
import { NO_SLOT } from "../command/command.js";
import type { NodeRegistry } from "./nodes.js";
import type { ClusterNode, Shard, Topology } from "./topology.js";

/**
 * Where reads go:
 * - `"primary"`: always the primary (default; read-your-writes).
 * - `"replica"`: a random healthy replica of the slot; the primary when none is healthy.
 * - `"preferReplica"`: the same as `"replica"` (the name other clients use for that fallback).
 * - `"any"`: random among the primary and its healthy replicas (resty's `enableSlaveRead`).
 * - `"nearest"`: the one of those with the lowest measured round-trip time.
 * - `"sameAz"`: a healthy replica in the client's `availabilityZone` (at random), else the
 *   primary if it is in that zone, else `"nearest"`. A node's zone is what it reports
 *   (Valkey 8's `availability-zone`, read from `INFO server`); a node that reports none is in
 *   no zone.
 */
export type ReadFrom = "primary" | "replica" | "preferReplica" | "any" | "nearest" | "sameAz";

/** What the router needs to know about a command. */
export interface Routable {
  readonly slot: number;
  /** A read-only command that may go to a replica. */
  readonly replicaReadable: boolean;
  /** A node to keep away from on this attempt (a replica that just failed it). */
  readonly avoidAddress: string | undefined;
  /** This command's own `readFrom` (cluster.withOptions), over the client's. */
  readonly readFrom?: ReadFrom | undefined;
}

/** Picks a command's node: its slot's primary, or a healthy replica by `readFrom`. */
export class Router {
  readonly readFrom: ReadFrom;
  /** The client's availability zone (for `"sameAz"`). */
  readonly availabilityZone: string | undefined;
  #registry: NodeRegistry;
  #healthyReplicas = new WeakMap<Shard, ClusterNode[]>();

  constructor(readFrom: ReadFrom, registry: NodeRegistry, availabilityZone?: string) {
    this.readFrom = readFrom;
    this.#registry = registry;
    this.availabilityZone = availabilityZone;
  }

  /** Forget cached health (after a refresh or a health check). */
  invalidate(): void {
    this.#healthyReplicas = new WeakMap();
  }

  /** The node for a command, or undefined when its slot has no shard right now. */
  pick(topology: Topology, command: Routable): ClusterNode | undefined {
    const slot = command.slot;
    if (slot === NO_SLOT) return this.#pickKeyless(topology, command);
    const shard = topology.shardOf(slot);
    if (shard === undefined) return undefined;
    const readFrom = command.readFrom ?? this.readFrom;
    if (!command.replicaReadable || readFrom === "primary") return shard.primary;
    return this.pickForRead(shard, command.avoidAddress, readFrom);
  }

  /** A node of the shard to read from, by the `readFrom` rule (the client's unless given). */
  pickForRead(shard: Shard, avoidAddress: string | undefined, readFrom = this.readFrom): ClusterNode {
    const replicas = this.healthyReplicas(shard);
    const primary = shard.primary;
    switch (readFrom) {
      case "primary":
        return primary;
      case "replica":
      case "preferReplica":
        return randomOf(replicas, avoidAddress) ?? primary;
      case "any":
        return randomOf([primary, ...replicas], avoidAddress) ?? primary;
      case "nearest":
        return this.#nearest([primary, ...replicas], avoidAddress) ?? primary;
      case "sameAz":
        return (
          this.#inZone(primary, replicas, avoidAddress) ??
          this.#nearest([primary, ...replicas], avoidAddress) ??
          primary
        );
    }
  }

  /** A replica in the client's zone (at random), else the primary if it is there. */
  #inZone(
    primary: ClusterNode,
    replicas: ClusterNode[],
    avoidAddress: string | undefined,
  ): ClusterNode | undefined {
    const zone = this.availabilityZone;
    if (zone === undefined) return undefined;
    const local = replicas.filter(
      (replica) => this.#registry.get(replica.address)?.availabilityZone === zone,
    );
    return (
      randomOf(local, avoidAddress) ??
      (primary.address !== avoidAddress && this.#registry.get(primary.address)?.availabilityZone === zone
        ? primary
        : undefined)
    );
  }

  /** Replicas of a shard that may serve reads now. */
  healthyReplicas(shard: Shard): ClusterNode[] {
    let healthy = this.#healthyReplicas.get(shard);
    if (healthy === undefined) {
      healthy = shard.replicas.filter((replica) => {
        const entry = this.#registry.get(replica.address);
        return (
          replica.health === "online" && entry?.replicationChecked === true && !entry.replicationLinkDown
        );
      });
      this.#healthyReplicas.set(shard, healthy);
    }
    return healthy;
  }

  #pickKeyless(topology: Topology, command: Routable): ClusterNode | undefined {
    const shards = topology.shards;
    if (shards.length === 0) return undefined;
    const shard = shards[Math.floor(Math.random() * shards.length)]!;
    const readFrom = command.readFrom ?? this.readFrom;
    if (!command.replicaReadable || readFrom === "primary") return shard.primary;
    return this.pickForRead(shard, command.avoidAddress, readFrom);
  }

  #nearest(nodes: ClusterNode[], avoidAddress: string | undefined): ClusterNode | undefined {
    let best: ClusterNode | undefined;
    let bestRtt = Number.POSITIVE_INFINITY;
    for (const node of nodes) {
      if (node.address === avoidAddress) continue;
      const rtt = this.#registry.get(node.address)?.rttMs ?? Number.POSITIVE_INFINITY;
      if (best === undefined || rtt < bestRtt) {
        best = node;
        bestRtt = rtt;
      }
    }
    return best;
  }
}

function randomOf(nodes: ClusterNode[], avoidAddress: string | undefined): ClusterNode | undefined {
  if (nodes.length === 0) return undefined;
  const start = Math.floor(Math.random() * nodes.length);
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[(start + i) % nodes.length]!;
    if (node.address !== avoidAddress) return node;
  }
  return undefined;
}
