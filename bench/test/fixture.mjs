// @ts-check
/** A small, hand-made report for the report and chart tests. */
import { CLIENTS } from "../clients.mjs";
import { ceilingReport, floorReport, memoryReport, RESHARD_ENTRY, workloadReport } from "../report.mjs";
import { WORKLOADS } from "../workloads.mjs";

/**
 * @typedef {import("../report.mjs").ClientRun} ClientRun
 * @typedef {import("../report.mjs").BenchReport} BenchReport
 * @typedef {import("../memory.mjs").MemoryResult} MemoryResult
 */

/**
 * Runs with these rates, one per round.
 *
 * @param {number[]} rates
 * @param {Partial<ClientRun>} [extra]
 * @returns {ClientRun[]}
 */
export function runs(rates, extra = {}) {
  return rates.map((rate, index) => ({ round: index + 1, rate, operations: rate, errors: 0, ...extra }));
}

/**
 * A memory result with these heap readings (MB) and end RSS (MB).
 *
 * @param {number} heapAfterWarmupMb
 * @param {number} heapEndMb
 * @param {number} rssEndMb
 * @returns {MemoryResult}
 */
export function memoryResult(heapAfterWarmupMb, heapEndMb, rssEndMb) {
  const snapshot = (/** @type {number} */ heapMb, /** @type {number} */ rssMb) => ({
    heapUsedBytes: heapMb * 1_048_576,
    heapTotalBytes: heapMb * 2 * 1_048_576,
    rssBytes: rssMb * 1_048_576,
    externalBytes: 1_048_576,
  });
  return {
    gets: 1_000_000,
    opsPerSecond: 100_000,
    errors: 0,
    wrongReplies: 0,
    firstError: undefined,
    reshardSteps: 0,
    reshardError: undefined,
    baseline: snapshot(3, 40),
    afterConnect: snapshot(4, 45),
    afterWarmup: snapshot(heapAfterWarmupMb, rssEndMb - 1),
    end: snapshot(heapEndMb, rssEndMb),
    maxRssBytes: (rssEndMb + 5) * 1_048_576,
    clientStats: { moved: 12, ask: 30, refreshes: 3 },
  };
}

/** @returns {BenchReport} */
export function sampleReport() {
  const w1 = /** @type {import("../workloads.mjs").Workload} */ (WORKLOADS[0]);
  const w3 = /** @type {import("../workloads.mjs").Workload} */ (WORKLOADS[2]);
  return {
    version: 1,
    startedAt: "2025-01-02T03:04:05.000Z",
    elapsedSeconds: 321,
    machine: {
      cpuModel: "Test CPU <fast> & small",
      cores: 2,
      totalMemoryBytes: 8e9,
      os: "linux test",
      node: "v20.0.0",
      redisServer: "7.0.15",
      clients: { rediscluster: "0.1.0", ioredis: "6.0.0", redis: "6.3.1", "@valkey/valkey-glide": "2.5.2" },
      commit: "abc1234",
    },
    settings: {
      rounds: 3,
      durationMs: 2000,
      warmupMs: 500,
      quick: false,
      cluster: "local 3+3 dev cluster",
      keys: 10_000,
      valueBytes: 100,
      batchPrimaries: { min: 3, of: 3 },
    },
    clients: CLIENTS.map((spec) => ({
      id: spec.id,
      label: spec.label,
      packageName: spec.packageName,
      version: "1.0.0",
      options: spec.options,
    })),
    workloads: [
      workloadReport(
        w1,
        CLIENTS,
        new Map([
          ["rediscluster", runs([20_000, 22_000, 21_000], { p50Ms: 0.04, p99Ms: 0.1, cpuUsPerCommand: 1.5 })],
          ["ioredis", runs([18_000, 19_000, 20_000], { p50Ms: 0.05, p99Ms: 0.2 })],
          ["ioredis-auto", runs([17_000, 17_500, 18_000], { p50Ms: 0.05, p99Ms: 0.2 })],
          ["node-redis", runs([25_000, 24_000, 26_000], { p50Ms: 0.03, p99Ms: 0.09 })],
          ["glide", runs([15_000, 16_000, 14_000], { p50Ms: 0.06, p99Ms: 0.3 })],
        ]),
      ),
      workloadReport(
        w3,
        CLIENTS,
        new Map([
          ["rediscluster", runs([300_000, 310_000, 290_000])],
          ["ioredis", runs([50_000, 60_000, 55_000])],
          ["ioredis-auto", runs([100_000, 90_000, 80_000])],
          ["node-redis", [{ round: 1, rate: null, operations: 0, errors: 0, failure: "Error: boom" }]],
          ["glide", runs([40_000, 45_000, 42_000])],
        ]),
      ),
    ],
    ceiling: [
      ceilingReport(
        { id: "c1", connections: 1, pipeline: 1 },
        50_000,
        [{ test: "GET", opsPerSecond: 20_000, p50Ms: 0.04, p99Ms: 0.08 }],
        [],
      ),
      ceilingReport(
        { id: "P1", connections: 50, pipeline: 1 },
        160_000,
        [{ test: "GET", opsPerSecond: 80_000, p50Ms: 0.3, p99Ms: 1.2 }],
        [],
      ),
      ceilingReport(
        { id: "P16", connections: 50, pipeline: 16 },
        800_000,
        [],
        ["redis-benchmark exited with 1"],
      ),
    ],
    floor: floorReport(
      new Map([
        ["W1", runs([15_000, 16_000, 17_000], { p50Ms: 0.06, p99Ms: 0.12, cpuUsPerCommand: 40 })],
        ["W3", runs([400_000, 420_000, 410_000], { cpuUsPerCommand: 2 })],
      ]),
    ),
    memory: memoryReport(1_000_000, 64, [
      { id: "rediscluster", label: "rediscluster", result: memoryResult(5, 5.2, 60) },
      { id: "ioredis", label: "ioredis", result: memoryResult(6, 6.5, 90) },
      { id: "ioredis-auto", label: "ioredis auto", result: memoryResult(6, 6.6, 96) },
      { id: "node-redis", label: "node-redis", failure: "failed: the child exited (1) without a result" },
      { id: "glide", label: "GLIDE", result: memoryResult(4, 4.1, 110) },
      { id: RESHARD_ENTRY, label: "rediscluster + reshard", result: memoryResult(5, 5.3, 61) },
    ]),
  };
}
