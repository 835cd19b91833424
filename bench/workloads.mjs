// @ts-check
/**
 * The throughput workloads W1–W5, W8 and W9, and the loop that drives them.
 *
 * Every client runs the same concurrency model: N async workers, each awaiting its own
 * operation in a loop. An operation counts if it completed before the run's end; whatever is
 * still in flight at the end is awaited but not counted. So a rate is completed operations
 * (× keys per operation) divided by the fixed duration.
 *
 * The targets are issue 6's bars, as the ratio rediscluster ÷ ioredis (default) in the same
 * run — W8's is issue 10's, against the best of the other clients; the bench prints whether
 * each one is met.
 */
import { BATCH_MASK, BATCH_SIZE, ORDER_MASK } from "./keys.mjs";
import { errorText } from "./outcome.mjs";
import { LatencyLog } from "./stats.mjs";

/**
 * @typedef {import("./clients.mjs").BenchClient} BenchClient
 * @typedef {import("./keys.mjs").BenchData} BenchData
 * @typedef {(cursor: number) => Promise<unknown>} Operation
 */

/**
 * @typedef {object} Workload
 * @property {"W1" | "W2" | "W3" | "W4" | "W5" | "W8" | "W9"} id
 * @property {string} title
 * @property {"ops/s" | "keys/s"} unit
 * @property {number} inFlight concurrent workers
 * @property {number} keysPerOperation 1, or 100 for pipelines and MGET
 * @property {"get+set" | "mget" | "exec" | "script"} servedAs the commands the servers must have
 *   executed: at least one GET or SET per key, or one MGET per operation (W5, where clients
 *   split differently), one EXEC per transaction (W8), one EVALSHA or EVAL per call (W9)
 * @property {boolean} latency record per-operation latency (p50/p99)
 * @property {number} targetVsIoredis the bar: rediscluster ÷ ioredis default (issue 6), or ÷ the
 *   best other client when `targetVs` is "best" (issue 10's W8)
 * @property {"ioredis" | "best"} [targetVs] what the bar is measured against (default "ioredis")
 * @property {(client: BenchClient, data: BenchData) => Operation} operation
 * @property {(reply: unknown, data: BenchData, cursor: number) => boolean} isValidReply whether the
 *   operation at `cursor` answered what the cluster holds
 */

/**
 * GET's reply: the value of the key at `cursor` in the walk.
 *
 * @param {unknown} reply
 * @param {BenchData} data
 * @param {number} cursor
 */
const isValueAt = (reply, { values, order }, cursor) => reply === values[order[cursor & ORDER_MASK] ?? 0];

/**
 * Pipeline's or MGET's reply: the values of the batch's keys, in the batch's order.
 *
 * @param {unknown} reply
 * @param {BenchData} data
 * @param {number} cursor
 */
const isBatchValues = (reply, { batchValues }, cursor) => {
  const expected = batchValues[cursor & BATCH_MASK] ?? [];
  return (
    Array.isArray(reply) &&
    reply.length === BATCH_SIZE &&
    reply.every((value, index) => value === expected[index])
  );
};

/** @type {readonly Workload[]} */
export const WORKLOADS = [
  {
    id: "W1",
    title: "GET, 1 in flight",
    unit: "ops/s",
    inFlight: 1,
    keysPerOperation: 1,
    servedAs: "get+set",
    latency: true,
    targetVsIoredis: 1.0,
    operation:
      (client, { keys, order }) =>
      (cursor) =>
        client.get(keys[order[cursor & ORDER_MASK] ?? 0] ?? ""),
    isValidReply: isValueAt,
  },
  {
    id: "W2",
    title: "GET/SET 50/50, 64 in flight",
    unit: "ops/s",
    inFlight: 64,
    keysPerOperation: 1,
    servedAs: "get+set",
    latency: false,
    targetVsIoredis: 2.2,
    operation:
      (client, { keys, values, order }) =>
      (cursor) => {
        const index = order[cursor & ORDER_MASK] ?? 0;
        // SET writes the value the key already has, so that every GET stays checkable.
        return (cursor & 1) === 0
          ? client.get(keys[index] ?? "")
          : client.set(keys[index] ?? "", values[index] ?? "");
      },
    isValidReply: (reply, data, cursor) =>
      (cursor & 1) === 0 ? isValueAt(reply, data, cursor) : reply === "OK",
  },
  {
    id: "W3",
    title: "GET, 1,024 in flight",
    unit: "ops/s",
    inFlight: 1024,
    keysPerOperation: 1,
    servedAs: "get+set",
    latency: false,
    targetVsIoredis: 2.9,
    operation:
      (client, { keys, order }) =>
      (cursor) =>
        client.get(keys[order[cursor & ORDER_MASK] ?? 0] ?? ""),
    isValidReply: isValueAt,
  },
  {
    id: "W4",
    title: "pipeline of 100 GETs over all primaries, 1 in flight",
    unit: "keys/s",
    inFlight: 1,
    keysPerOperation: BATCH_SIZE,
    servedAs: "get+set",
    latency: false,
    targetVsIoredis: 1.7,
    operation:
      (client, { batches }) =>
      (cursor) =>
        client.pipelineGet(batches[cursor & BATCH_MASK] ?? []),
    isValidReply: isBatchValues,
  },
  {
    id: "W5",
    title: "MGET of 100 keys across slots, 1 in flight",
    unit: "keys/s",
    inFlight: 1,
    keysPerOperation: BATCH_SIZE,
    servedAs: "mget",
    latency: false,
    targetVsIoredis: 3.3,
    operation:
      (client, { batches }) =>
      (cursor) =>
        client.mget(batches[cursor & BATCH_MASK] ?? []),
    isValidReply: isBatchValues,
  },
  {
    id: "W8",
    title: "MULTI/INCR/EXPIRE/EXEC on random slots, 64 in flight",
    unit: "ops/s",
    inFlight: 64,
    keysPerOperation: 1,
    servedAs: "exec",
    latency: false,
    targetVsIoredis: 2.0,
    targetVs: "best",
    operation:
      (client, { counterKeys, order }) =>
      (cursor) =>
        client.transaction(counterKeys[order[cursor & ORDER_MASK] ?? 0] ?? ""),
    // [the counter after INCR, EXPIRE's 1]: a transaction that ran whole.
    isValidReply: (reply) =>
      Array.isArray(reply) &&
      reply.length === 2 &&
      typeof reply[0] === "number" &&
      reply[0] > 0 &&
      reply[1] === 1,
  },
  {
    id: "W9",
    title: "EVALSHA of a small script (GET), 64 in flight",
    unit: "ops/s",
    inFlight: 64,
    keysPerOperation: 1,
    servedAs: "script",
    latency: false,
    targetVsIoredis: 1.0,
    operation:
      (client, { keys, order }) =>
      (cursor) =>
        client.script(keys[order[cursor & ORDER_MASK] ?? 0] ?? ""),
    isValidReply: isValueAt,
  },
];

/** W9's script: the value of its one key, as GET answers it. */
export const W9_SCRIPT = "return redis.call('GET', KEYS[1])";

/**
 * Where each worker starts in the shuffled walk: far enough apart that concurrent workers
 * read different keys, and a multiple of 2 so that W2 keeps its GET/SET alternation.
 */
const WORKER_STRIDE = 64;

/**
 * How long after the end the operations still in flight may take. A client that never
 * settles a command must fail its run, not hang the bench.
 */
export const DRAIN_GRACE_MS = 15_000;

/**
 * @typedef {object} DriveResult
 * @property {number} operations completed within the duration
 * @property {number} errors operations that rejected within the duration
 * @property {string | undefined} firstError the first rejection's message
 * @property {LatencyLog | undefined} latencies per-operation latencies in ms (if asked for)
 */

/**
 * Runs `inFlight` workers for `durationMs` and counts what completed in that time. Rejects
 * if operations are still pending DRAIN_GRACE_MS after the end.
 *
 * @param {Operation} operation
 * @param {number} inFlight
 * @param {number} durationMs
 * @param {boolean} recordLatency
 * @returns {Promise<DriveResult>}
 */
export async function drive(operation, inFlight, durationMs, recordLatency) {
  let operations = 0;
  let errors = 0;
  /** @type {string | undefined} */
  let firstError;
  const latencies = recordLatency ? new LatencyLog() : undefined;
  const endAt = performance.now() + durationMs;

  /** @param {unknown} error */
  const fail = (error) => {
    errors++;
    firstError ??= errorText(error);
  };

  /** @param {number} worker */
  const throughputWorker = async (worker) => {
    for (let cursor = worker * WORKER_STRIDE; ; cursor++) {
      let ok = true;
      try {
        await operation(cursor);
      } catch (error) {
        ok = false;
        if (performance.now() < endAt) fail(error);
      }
      if (performance.now() >= endAt) return;
      if (ok) operations++;
    }
  };

  /**
   * @param {number} worker
   * @param {LatencyLog} log
   */
  const latencyWorker = async (worker, log) => {
    for (let cursor = worker * WORKER_STRIDE; ; cursor++) {
      const sentAt = performance.now();
      let ok = true;
      try {
        await operation(cursor);
      } catch (error) {
        ok = false;
        if (performance.now() < endAt) fail(error);
      }
      const doneAt = performance.now();
      if (doneAt >= endAt) return;
      if (ok) {
        operations++;
        log.record(doneAt - sentAt);
      }
    }
  };

  /** @type {Promise<void>[]} */
  const workers = [];
  for (let worker = 0; worker < inFlight; worker++) {
    workers.push(latencies === undefined ? throughputWorker(worker) : latencyWorker(worker, latencies));
  }
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  const stalled = new Promise((resolve) => {
    timer = setTimeout(resolve, durationMs + DRAIN_GRACE_MS, "stalled");
  });
  const outcome = await Promise.race([Promise.all(workers), stalled]);
  clearTimeout(timer);
  if (outcome === "stalled") {
    throw new Error(`operations were still pending ${DRAIN_GRACE_MS} ms after the end of the run`);
  }
  return { operations, errors, firstError, latencies };
}

/**
 * Checks a few replies before anything is measured: a client that answers wrongly (or not
 * at all) must not be timed. Throws with what was wrong.
 *
 * @param {Workload} workload
 * @param {Operation} operation
 * @param {BenchData} data
 */
export async function verifyReplies(workload, operation, data) {
  for (let cursor = 0; cursor < 16; cursor++) {
    const reply = await operation(cursor);
    if (!workload.isValidReply(reply, data, cursor)) {
      const shown = JSON.stringify(reply)?.slice(0, 120);
      throw new Error(`${workload.id}: unexpected reply at step ${cursor}: ${shown}`);
    }
  }
}
