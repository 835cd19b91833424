/**
 * A snapshot of the cluster: shards (a primary, its replicas, its slot ranges) and the slot
 * table that routes every command.
 *
 * ```
 *   slotToShard: Uint16Array(16384)          shards
 *   ┌──────┬──────┬─────┬──────┬─────┐       [0] primary 127.0.0.1:7001, replicas [7004]
 *   │  0   │  0   │ ... │  2   │ ... │  ──►  [1] primary 127.0.0.1:7002, replicas [7005]
 *   └──────┴──────┴─────┴──────┴─────┘       [2] primary 127.0.0.1:7003, replicas [7006]
 *    slot 0  slot 1      slot 16383          NO_SHARD (0xffff): nobody serves the slot
 * ```
 *
 * A refresh builds a new snapshot and swaps it in whole; commands never hold a snapshot
 * (only a slot number), so an old table is garbage as soon as it is replaced. The one
 * in-place change is `patchSlot`, which applies a `MOVED` at once, before the refresh that
 * the MOVED also triggers.
 */
import { SLOT_COUNT } from "../command/slot.js";

/** The `slotToShard` entry of a slot nobody serves. */
export const NO_SHARD = 0xffff;

/** A node's role in its shard. */
export type NodeRole = "primary" | "replica";
/** As `CLUSTER SHARDS` reports it; `CLUSTER SLOTS` lists only serving nodes, all "online". */
export type NodeHealth = "online" | "failed" | "loading";

/** One node as the cluster describes it (addresses already through `natMap`). */
export interface ClusterNode {
  /** The node's cluster id; empty when only known from a redirection. */
  readonly id: string;
  /** The host the client connects to. */
  readonly host: string;
  /** The port the client connects to. */
  readonly port: number;
  /** `host:port`: the key of the node's connection. */
  readonly address: string;
  /** Whether the node is its shard's primary or one of its replicas. */
  readonly role: NodeRole;
  /** The node's health as the cluster reports it; replicas not `online` are not read from. */
  readonly health: NodeHealth;
  /** Replication offset reported by the cluster (0 when unknown). */
  readonly replicationOffset: number;
  /** The node's announced hostname, if any. */
  readonly hostname: string | undefined;
  /**
   * The availability zone the cluster reports for the node (Valkey's `availability-zone`
   * field of CLUSTER SHARDS / CLUSTER SLOTS metadata), for `readFrom: "sameAz"`.
   */
  readonly availabilityZone?: string | undefined;
}

/** A primary, its replicas and the slots they serve. */
export interface Shard {
  /** The node that takes the shard's writes. */
  readonly primary: ClusterNode;
  /** Its replicas, in the order the cluster lists them. */
  readonly replicas: readonly ClusterNode[];
  /** Inclusive slot ranges, e.g. `[[0, 5460]]`. */
  readonly ranges: ReadonlyArray<readonly [number, number]>;
}

/** What a refresh changed, as the `topology` event reports it. */
export interface TopologyChange {
  /** Slots whose primary changed (or became served / unserved). */
  slotsMoved: number;
  /** Addresses (`host:port`) of the nodes that appeared. */
  nodesAdded: string[];
  /** Addresses of the nodes that left. */
  nodesRemoved: string[];
  /** Nodes that changed role (a failover). */
  rolesChanged: RoleChange[];
}

/** A node that changed role in a refresh (a failover: a replica promoted, a primary demoted). */
export interface RoleChange {
  /** The node (`host:port`). */
  address: string;
  /** Its role before the refresh. */
  from: NodeRole;
  /** Its role after. */
  to: NodeRole;
}

/** The cluster as one refresh saw it: its shards and the slot table built from them (replaced whole, never edited but by `patchSlot`). */
export class Topology {
  /** The shards; `slotToShard` holds indices into this array. */
  readonly shards: Shard[];
  /** Shard index per slot, NO_SHARD where unserved. */
  readonly slotToShard: Uint16Array;
  /** Every node by address. */
  readonly nodes: Map<string, ClusterNode>;
  /** What `patchSlot` overwrote, as the refresh read it: slot → shard index. */
  #slotsBeforePatch: Map<number, number> | undefined = undefined;
  /** What `patchSlot` overwrote: address → the node's entry, undefined if it had none. */
  #nodesBeforePatch: Map<string, ClusterNode | undefined> | undefined = undefined;

  constructor(shards: Shard[]) {
    this.shards = shards;
    this.slotToShard = new Uint16Array(SLOT_COUNT).fill(NO_SHARD);
    this.nodes = new Map();
    for (let index = 0; index < shards.length; index++) {
      const shard = shards[index]!;
      this.nodes.set(shard.primary.address, shard.primary);
      for (const replica of shard.replicas) this.nodes.set(replica.address, replica);
      for (const [start, end] of shard.ranges) this.slotToShard.fill(index, start, end + 1);
    }
  }

  /** The shard serving a slot, if any. */
  shardOf(slot: number): Shard | undefined {
    const index = this.slotToShard[slot]!;
    return index === NO_SHARD ? undefined : this.shards[index];
  }

  /** Number of slots with a shard. */
  get coveredSlots(): number {
    let covered = 0;
    for (let slot = 0; slot < SLOT_COUNT; slot++) if (this.slotToShard[slot] !== NO_SHARD) covered++;
    return covered;
  }

  /** Every primary, in shard order. */
  get primaries(): ClusterNode[] {
    return this.shards.map((shard) => shard.primary);
  }

  /**
   * Applies a `MOVED slot address` at once: the slot now belongs to the shard whose primary
   * is at `address`, or to a new one-node shard when the address is new to us (the refresh
   * that follows fills in the rest).
   */
  patchSlot(slot: number, node: ClusterNode): void {
    let index = this.shards.findIndex((shard) => shard.primary.address === node.address);
    if (index === -1) {
      if (this.shards.length >= NO_SHARD) return;
      index = this.shards.length;
      this.shards.push({ primary: node, replicas: [], ranges: [] });
      this.#nodesBeforePatch ??= new Map();
      if (!this.#nodesBeforePatch.has(node.address))
        this.#nodesBeforePatch.set(node.address, this.nodes.get(node.address));
      this.nodes.set(node.address, node);
    }
    this.#slotsBeforePatch ??= new Map();
    if (!this.#slotsBeforePatch.has(slot)) this.#slotsBeforePatch.set(slot, this.slotToShard[slot]!);
    this.slotToShard[slot] = index;
  }

  /**
   * The primary of `slot` as the refresh read it, before any `patchSlot`: what the next
   * refresh is compared with, so that a failover or a move that MOVED patched in first is
   * still reported when the refresh confirms it.
   */
  refreshedPrimaryOf(slot: number): string | undefined {
    const index = this.#slotsBeforePatch?.get(slot) ?? this.slotToShard[slot]!;
    return index === NO_SHARD ? undefined : this.shards[index]?.primary.address;
  }

  /** A node's entry as the refresh read it, before any `patchSlot` (see refreshedPrimaryOf). */
  refreshedNode(address: string): ClusterNode | undefined {
    const before = this.#nodesBeforePatch;
    return before?.has(address) ? before.get(address) : this.nodes.get(address);
  }

  /** The addresses of the nodes the refresh read (not those `patchSlot` added). */
  refreshedAddresses(): string[] {
    return [...this.nodes.keys()].filter((address) => this.refreshedNode(address) !== undefined);
  }

  /**
   * A canonical text of the slot → primary map and the replica sets: two views agree iff
   * their fingerprints are equal. Health is left out: nodes often differ on it for a moment,
   * which is no reason to distrust a view.
   */
  fingerprint(): string {
    const parts: string[] = [];
    let runStart = 0;
    for (let slot = 1; slot <= SLOT_COUNT; slot++) {
      if (slot < SLOT_COUNT && this.slotToShard[slot] === this.slotToShard[runStart]) continue;
      const shard = this.shardOf(runStart);
      parts.push(`${runStart}-${slot - 1}:${shard ? shard.primary.address : "-"}`);
      runStart = slot;
    }
    const replicas = this.shards
      .map((shard) => `${shard.primary.address}<${shard.replicas.map((replica) => replica.address).sort()}`)
      .sort();
    return `${parts.join(",")}|${replicas.join(",")}`;
  }
}

/**
 * The differences between two snapshots, for the `topology` event. `before` counts as its
 * refresh read it: what MOVED patched into it since is news the refresh confirms, not
 * something already known.
 */
export function diffTopology(before: Topology | undefined, after: Topology): TopologyChange {
  const change: TopologyChange = { slotsMoved: 0, nodesAdded: [], nodesRemoved: [], rolesChanged: [] };
  for (let slot = 0; slot < SLOT_COUNT; slot++) {
    const was = before?.refreshedPrimaryOf(slot);
    const is = after.shardOf(slot)?.primary.address;
    if (was !== is) change.slotsMoved++;
  }
  for (const [address, node] of after.nodes) {
    const old = before?.refreshedNode(address);
    if (old === undefined) change.nodesAdded.push(address);
    else if (old.role !== node.role) change.rolesChanged.push({ address, from: old.role, to: node.role });
  }
  if (before)
    for (const address of before.refreshedAddresses())
      if (!after.nodes.has(address)) change.nodesRemoved.push(address);
  return change;
}

/** True when a change is worth an event (anything at all moved). */
export function isEmptyChange(change: TopologyChange): boolean {
  return (
    change.slotsMoved === 0 &&
    change.nodesAdded.length === 0 &&
    change.nodesRemoved.length === 0 &&
    change.rolesChanged.length === 0
  );
}
