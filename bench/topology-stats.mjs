// @ts-check
/**
 * What the servers say about topology requests: `INFO commandstats` counts the calls of
 * every command per node since it started (Redis 7 names subcommands `cluster|shards`).
 * Summed over the nodes and read once a second, the differences are the topology requests
 * a fleet of clients sends per second, whoever sends them (the fleet script itself sends
 * none during its measurement: it reads INFO and moves slots with SETSLOT/MIGRATE).
 */

/** The commands a client reads the topology with. */
export const TOPOLOGY_COMMANDS = /** @type {const} */ (["cluster|shards", "cluster|slots", "cluster|nodes"]);

/**
 * @typedef {{ "cluster|shards": number, "cluster|slots": number, "cluster|nodes": number, "cluster|info": number }} TopologyCalls
 *   calls per command; `cluster|info` apart (a tie-break read, not a topology request)
 */

/** @returns {TopologyCalls} */
export function noCalls() {
  return { "cluster|shards": 0, "cluster|slots": 0, "cluster|nodes": 0, "cluster|info": 0 };
}

/**
 * The topology commands' call counts in one `INFO commandstats` reply.
 *
 * @param {string} info
 * @returns {TopologyCalls}
 */
export function parseTopologyCalls(info) {
  const calls = noCalls();
  for (const match of info.matchAll(/^cmdstat_(cluster\|(?:shards|slots|nodes|info)):calls=(\d+)/gm)) {
    const name = /** @type {keyof TopologyCalls} */ (match[1]);
    calls[name] += Number(match[2]);
  }
  return calls;
}

/**
 * @param {TopologyCalls[]} list
 * @returns {TopologyCalls}
 */
export function sumCalls(list) {
  const total = noCalls();
  for (const calls of list) {
    for (const name of /** @type {Array<keyof TopologyCalls>} */ (Object.keys(total)))
      total[name] += calls[name];
  }
  return total;
}

/**
 * Topology requests (shards + slots + nodes) in a reading.
 *
 * @param {TopologyCalls} calls
 */
export function topologyRequests(calls) {
  return TOPOLOGY_COMMANDS.reduce((sum, name) => sum + calls[name], 0);
}

/**
 * @typedef {{ atMs: number, byNode: Record<string, TopologyCalls> }} Reading
 *   cumulative counts per node (by address), `atMs` from the start of the run
 * @typedef {{ fromMs: number, toMs: number, requests: number, calls: TopologyCalls }} Interval
 *   what all nodes served between two readings
 */

/**
 * The calls between consecutive readings, summed over the nodes. A node's counter that went
 * down (it restarted and counts from zero) counts from zero: its new value is what it served
 * since. A node missing from one of the two readings (it did not answer) adds nothing.
 *
 * @param {Reading[]} readings in time order
 * @returns {Interval[]}
 */
export function intervals(readings) {
  /** @type {Interval[]} */
  const result = [];
  for (let i = 1; i < readings.length; i++) {
    const before = /** @type {Reading} */ (readings[i - 1]);
    const after = /** @type {Reading} */ (readings[i]);
    const calls = noCalls();
    for (const [node, now] of Object.entries(after.byNode)) {
      const then = before.byNode[node];
      if (then === undefined) continue;
      for (const name of /** @type {Array<keyof TopologyCalls>} */ (Object.keys(calls))) {
        const delta = now[name] - then[name];
        calls[name] += delta >= 0 ? delta : now[name];
      }
    }
    result.push({ fromMs: before.atMs, toMs: after.atMs, requests: topologyRequests(calls), calls });
  }
  return result;
}

/**
 * Requests in intervals that end within [fromMs, toMs).
 *
 * @param {Interval[]} list
 * @param {number} fromMs
 * @param {number} toMs
 */
export function requestsBetween(list, fromMs, toMs) {
  return list
    .filter((item) => item.toMs > fromMs && item.toMs <= toMs)
    .reduce((sum, item) => sum + item.requests, 0);
}

/**
 * Requests per whole second of the run: bin `i` holds what the intervals ending in
 * (i s, i+1 s] served. Extra readings (taken at events) just split a bin's intervals.
 *
 * @param {Interval[]} list
 * @returns {number[]}
 */
export function perSecondBins(list) {
  /** @type {number[]} */
  const bins = [];
  for (const item of list) {
    const bin = Math.max(0, Math.ceil(item.toMs / 1000) - 1);
    while (bins.length <= bin) bins.push(0);
    bins[bin] = (bins[bin] ?? 0) + item.requests;
  }
  return bins;
}

/**
 * Quantile of a list (nearest rank); undefined for an empty list.
 *
 * @param {readonly number[]} values
 * @param {number} q 0..1
 */
export function quantile(values, q) {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
