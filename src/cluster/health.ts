/**
 * What the cluster's own view does not say about the nodes reads may go to:
 *
 * - whether a replica can serve: its `INFO replication` must show `master_link_status:up`
 *   and no sync in progress (`CLUSTER SHARDS` still calls a replica "online" while its link
 *   to the primary is down or it is loading a full sync). A replica is checked when it joins
 *   and on every periodic refresh; until its first check passes it gets no reads.
 * - how far each node is: a PING round trip, smoothed, for `readFrom: "nearest"`.
 *
 * Only clients that read from replicas pay for this.
 */
import type { NodeEntry, NodeRegistry } from "./nodes.js";
import type { Topology } from "./topology.js";

/** Weight of a new RTT sample in the smoothed value. */
const RTT_SMOOTHING = 0.5;

export class HealthMonitor {
  #registry: NodeRegistry;
  #timeoutMs: number;
  #sampleRtt: boolean;
  #onChange: () => void;

  constructor(registry: NodeRegistry, timeoutMs: number, sampleRtt: boolean, onChange: () => void) {
    this.#registry = registry;
    this.#timeoutMs = timeoutMs;
    this.#sampleRtt = sampleRtt;
    this.#onChange = onChange;
  }

  /**
   * Checks the replicas of a topology about to be installed that were never checked (new
   * nodes, or nodes that just became replicas).
   */
  checkNew(topology: Topology): Promise<void> {
    const fresh: NodeEntry[] = [];
    for (const node of topology.nodes.values()) {
      if (node.role !== "replica") continue;
      const entry = this.#registry.ensure(node.host, node.port, node.role);
      entry.setRole(node.role);
      if (!entry.replicationChecked) fresh.push(entry);
    }
    return this.#run(fresh, false);
  }

  /** Checks every replica again, and samples every node's RTT when asked to. */
  checkAll(topology: Topology): Promise<void> {
    const entries = [...topology.nodes.values()]
      .map((node) => this.#registry.get(node.address))
      .filter((entry): entry is NodeEntry => entry !== undefined);
    return this.#run(entries, this.#sampleRtt);
  }

  async #run(entries: NodeEntry[], sampleRtt: boolean): Promise<void> {
    if (entries.length === 0) return;
    const changed = await Promise.all(
      entries.map(async (entry) => {
        const linkDownBefore = entry.replicationLinkDown;
        const checkedBefore = entry.replicationChecked;
        if (entry.role === "replica") await this.#checkReplication(entry);
        if (sampleRtt) await this.#measureRtt(entry);
        return linkDownBefore !== entry.replicationLinkDown || !checkedBefore || sampleRtt;
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
    } catch {
      // Unreachable or refusing: not a node to send reads to.
      entry.replicationLinkDown = true;
    }
    entry.replicationChecked = true;
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
    } catch {
      entry.rttMs = Number.POSITIVE_INFINITY;
    }
  }
}
