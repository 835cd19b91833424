/**
 * What the cluster's own view does not say about the nodes reads may go to:
 *
 * - whether a replica can serve: its `INFO replication` must show `master_link_status:up`
 *   and no sync in progress (`CLUSTER SHARDS` still calls a replica "online" while its link
 *   to the primary is down or it is loading a full sync). A replica is checked when it joins
 *   and on every periodic refresh; until its first check passes it gets no reads.
 * - how far each node is: a PING round trip, smoothed, for `readFrom: "nearest"`.
 * - which availability zone each node is in, for `readFrom: "sameAz"`: the topology's
 *   `availability-zone` where the cluster reports it (newer Valkey), else `INFO server`'s
 *   `availability_zone` (Valkey 8; Redis reports none), read when a node joins and on every
 *   periodic refresh (it is a runtime setting, `CONFIG SET availability-zone`).
 *
 * Only clients that read from replicas pay for this.
 *
 * Both need permissions a hardened ACL user may lack: `INFO` (for `INFO replication`) and
 * `PING`. Denied (`NOPERM`), a replica counts as not serving — reads fall back to primaries,
 * which is safe — and the denial is reported once per client (`onDenied`, the client's
 * `error` event) rather than leaving `readFrom: "replica"` silently degraded (issue 17.10).
 */
import { AuthError, ReplyError } from "../errors.js";
import type { NodeEntry, NodeRegistry } from "./nodes.js";
import type { ClusterNode, Topology } from "./topology.js";

/** Weight of a new RTT sample in the smoothed value. */
const RTT_SMOOTHING = 0.5;

/** Checks replicas' replication links and measures round trips, for clients that read from replicas. */
export class HealthMonitor {
  #registry: NodeRegistry;
  #timeoutMs: number;
  #sampleRtt: boolean;
  #readZones: boolean;
  #onChange: () => void;
  #onDenied: (error: AuthError) => void;
  /** Commands whose denial was reported already (once per client, not per node or check). */
  #deniedReported = new Set<string>();

  constructor(
    registry: NodeRegistry,
    timeoutMs: number,
    sampleRtt: boolean,
    onChange: () => void,
    onDenied: (error: AuthError) => void = () => {},
    readZones = false,
  ) {
    this.#registry = registry;
    this.#timeoutMs = timeoutMs;
    this.#sampleRtt = sampleRtt;
    this.#readZones = readZones;
    this.#onChange = onChange;
    this.#onDenied = onDenied;
  }

  /**
   * Checks the replicas of a topology about to be installed that were never checked (new
   * nodes, or nodes that just became replicas).
   */
  checkNew(topology: Topology): Promise<void> {
    const fresh: NodeEntry[] = [];
    for (const node of topology.nodes.values()) {
      if (node.role !== "replica" && !this.#readZones) continue;
      const entry = this.#registry.ensure(node.host, node.port, node.role);
      entry.setRole(node.role);
      this.#zoneFromTopology(entry, node);
      if ((node.role === "replica" && !entry.replicationChecked) || (this.#readZones && !entry.zoneChecked))
        fresh.push(entry);
    }
    return this.#run(fresh, false, false);
  }

  /** Checks every replica again, and samples every node's RTT when asked to. */
  checkAll(topology: Topology): Promise<void> {
    const entries: NodeEntry[] = [];
    for (const node of topology.nodes.values()) {
      const entry = this.#registry.get(node.address);
      if (entry === undefined) continue;
      this.#zoneFromTopology(entry, node);
      entries.push(entry);
    }
    return this.#run(entries, this.#sampleRtt, true);
  }

  /** A zone the topology reports is taken as is: no INFO needed for it. */
  #zoneFromTopology(entry: NodeEntry, node: ClusterNode): void {
    if (!this.#readZones) return;
    entry.zoneFromTopology = node.availabilityZone !== undefined;
    if (entry.zoneFromTopology) {
      entry.availabilityZone = node.availabilityZone;
      entry.zoneChecked = true;
    }
  }

  async #run(entries: NodeEntry[], sampleRtt: boolean, rereadZones: boolean): Promise<void> {
    if (entries.length === 0) return;
    const changed = await Promise.all(
      entries.map(async (entry) => {
        const linkDownBefore = entry.replicationLinkDown;
        const checkedBefore = entry.replicationChecked;
        const zoneBefore = entry.availabilityZone;
        if (entry.role === "replica") await this.#checkReplication(entry);
        if (this.#readZones && !entry.zoneFromTopology && (rereadZones || !entry.zoneChecked))
          await this.#readZone(entry);
        if (sampleRtt) await this.#measureRtt(entry);
        return (
          linkDownBefore !== entry.replicationLinkDown ||
          !checkedBefore ||
          sampleRtt ||
          zoneBefore !== entry.availabilityZone
        );
      }),
    );
    if (changed.some(Boolean)) this.#onChange();
  }

  async #checkReplication(entry: NodeEntry): Promise<void> {
    try {
      const info = await entry.connection.request("INFO", ["replication"], { timeoutMs: this.#timeoutMs });
      const text = typeof info === "string" ? info : String(info);
      const linkUp = /^master_link_status:up\s*$/m.test(text);
      const syncing = /^master_sync_in_progress:1\s*$/m.test(text);
      entry.replicationLinkDown = !linkUp || syncing;
    } catch (error) {
      // Unreachable or refusing: not a node to send reads to.
      entry.replicationLinkDown = true;
      this.#reportDenied(
        error,
        "INFO",
        entry,
        "so replicas cannot be checked and reads go to primaries; grant +info to read from replicas",
      );
    }
    entry.replicationChecked = true;
  }

  async #readZone(entry: NodeEntry): Promise<void> {
    try {
      const info = await entry.connection.request("INFO", ["server"], { timeoutMs: this.#timeoutMs });
      const text = typeof info === "string" ? info : String(info);
      const zone = /^availability_zone:(.*)$/m.exec(text)?.[1]?.trim();
      entry.availabilityZone = zone === undefined || zone === "" ? undefined : zone;
    } catch (error) {
      // Unknown: in no zone, so reads go by "nearest" (which is safe) until it answers.
      entry.availabilityZone = undefined;
      this.#reportDenied(
        error,
        "INFO",
        entry,
        'so its availability zone is unknown and readFrom "sameAz" falls back to "nearest"; grant +info',
      );
    }
    entry.zoneChecked = true;
  }

  async #measureRtt(entry: NodeEntry): Promise<void> {
    const startedAt = performance.now();
    try {
      await entry.connection.request("PING", [], { timeoutMs: this.#timeoutMs });
      const sample = performance.now() - startedAt;
      const previous = entry.rttMs;
      entry.rttMs =
        previous === undefined || !Number.isFinite(previous)
          ? sample
          : previous + RTT_SMOOTHING * (sample - previous);
    } catch (error) {
      entry.rttMs = Number.POSITIVE_INFINITY;
      this.#reportDenied(error, "PING", entry, 'so readFrom "nearest" cannot measure it; grant +ping');
    }
  }

  #reportDenied(error: unknown, command: string, entry: NodeEntry, consequence: string): void {
    if (!(error instanceof ReplyError) || error.code !== "NOPERM" || this.#deniedReported.has(command))
      return;
    this.#deniedReported.add(command);
    this.#onDenied(
      new AuthError(
        `the ACL user may not run ${command} on ${entry.address} (NOPERM), ${consequence}`,
        entry.address,
        { cause: error },
      ),
    );
  }
}
