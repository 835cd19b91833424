// @ts-check
/**
 * W10: sharded publish → subscribe throughput, in messages delivered per second.
 *
 *   publisher client (same package) ── SPUBLISH × 256 in flight ──► 3 primaries
 *                                                                       │ smessage
 *   subscriber client (same package, set up for sharded Pub/Sub) ◄──────┘ 64 channels, all slots
 *
 * One run: a fresh subscriber subscribes to the 64 channels (spread over the slots by
 * CRC16, so over every primary), a fresh publisher of the same package SPUBLISHes to them
 * round-robin with 256 workers; first 16 messages are checked (right channel, right payload,
 * each once), then a warm-up, then the measurement: messages the subscriber's listener got
 * during the fixed duration. Both clients are what that package's users would run: the
 * rate is what a user gets end to end, publishing included.
 *
 * Cross-check: the primaries must have executed at least as many SPUBLISH as the messages
 * the subscriber claims (INFO commandstats, as for the other workloads).
 */

import { errorText, within } from "./outcome.mjs";
import { countsBetween } from "./server-count.mjs";
import { drive } from "./workloads.mjs";

/**
 * @typedef {import("./clients.mjs").ClientSpec} ClientSpec
 * @typedef {import("./report.mjs").ClientRun} ClientRun
 * @typedef {import("./server-count.mjs").CommandCounts} CommandCounts
 */

/** The workload, as the report and the chart read it. */
export const PUBSUB_WORKLOAD = {
  id: /** @type {const} */ ("W10"),
  title: "sharded SPUBLISH → SSUBSCRIBE, 64 channels, 256 in flight",
  unit: "msgs/s",
  inFlight: 256,
  keysPerOperation: 1,
  latency: false,
  // Issue 11's goal: at least twice the best other client (checked against each in the summary).
  targetVsIoredis: 2.0,
  targetVs: /** @type {const} */ ("best"),
};

const CHANNEL_COUNT = 64;
/** `bench:ps:<n>`, no hash tags: spread over the slots, hence over every primary. */
export const CHANNELS = Array.from({ length: CHANNEL_COUNT }, (_, i) => `bench:ps:${i}`);
/** 64-byte payloads. */
const PAYLOAD = "p".repeat(64);
const CHECKED_MESSAGES = 16;
const CHECK_TIMEOUT_MS = 10_000;
const CLIENT_TIMEOUT_MS = 15_000;

/**
 * One W10 run of one package.
 *
 * @param {ClientSpec} spec
 * @param {readonly string[]} seeds
 * @param {{ durationMs: number, warmupMs: number }} timing
 * @param {number} round
 * @param {() => Promise<CommandCounts>} readCounts
 * @returns {Promise<ClientRun>}
 */
export async function runPubSubOnce(spec, seeds, timing, round, readCounts) {
  globalThis.gc?.();
  const before = await readCounts();
  /** @type {ClientRun} */
  let run;
  /** @type {import("./clients.mjs").ShardedSubscriber | undefined} */
  let subscriber;
  /** @type {import("./clients.mjs").BenchClient | undefined} */
  let publisher;
  try {
    subscriber = await within(spec.connectSubscriber(seeds), CLIENT_TIMEOUT_MS, "connecting the subscriber");
    publisher = await within(spec.connect(seeds), CLIENT_TIMEOUT_MS, "connecting the publisher");
    let delivered = 0;
    /** @type {Map<string, number> | undefined} the check phase: channel → arrivals of its message */
    let checking = new Map();
    let wrong = 0;
    await within(
      subscriber.ssubscribe(CHANNELS, (channel, message) => {
        delivered++;
        if (checking === undefined) return;
        if (message !== `check:${channel}`) wrong++;
        checking.set(channel, (checking.get(channel) ?? 0) + 1);
      }),
      CLIENT_TIMEOUT_MS,
      "subscribing",
    );
    const pub = publisher;
    const checked = CHANNELS.slice(0, CHECKED_MESSAGES);
    for (const channel of checked) await pub.spublish(channel, `check:${channel}`);
    const checkedBy = performance.now() + CHECK_TIMEOUT_MS;
    while (checked.some((channel) => checking?.get(channel) !== 1) && performance.now() < checkedBy) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const arrivals = checked.map((channel) => checking?.get(channel) ?? 0);
    checking = undefined;
    if (wrong > 0 || arrivals.some((count) => count !== 1)) {
      throw new Error(
        `wrong deliveries in the check: arrivals ${arrivals.join(",")}, ${wrong} wrong payloads`,
      );
    }

    const operation = (/** @type {number} */ cursor) =>
      pub.spublish(/** @type {string} */ (CHANNELS[cursor % CHANNEL_COUNT]), PAYLOAD);
    if (timing.warmupMs > 0) await drive(operation, PUBSUB_WORKLOAD.inFlight, timing.warmupMs, false);
    const startCount = delivered;
    let endCount = Number.NaN;
    const snapshot = setTimeout(() => {
      endCount = delivered;
    }, timing.durationMs);
    const result = await drive(operation, PUBSUB_WORKLOAD.inFlight, timing.durationMs, false);
    clearTimeout(snapshot);
    if (Number.isNaN(endCount)) endCount = delivered;
    const messages = endCount - startCount;
    run = {
      round,
      rate: (messages / timing.durationMs) * 1000,
      operations: messages,
      errors: result.errors,
    };
    if (result.firstError !== undefined) run.firstError = result.firstError;
  } catch (error) {
    run = { round, rate: null, operations: 0, errors: 0, failure: errorText(error) };
  } finally {
    for (const client of [publisher, subscriber]) {
      if (client !== undefined) await within(client.close(), CLIENT_TIMEOUT_MS, "closing").catch(() => {});
    }
  }
  const served = countsBetween(before, await readCounts());
  run.served = served;
  if (served.spublish < run.operations) {
    run.suspect = `the servers executed ${served.spublish} SPUBLISH, the subscriber claims ${run.operations} messages`;
  }
  return run;
}
