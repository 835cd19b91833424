// @ts-check
/**
 * W6, inside a fresh process (forked by memory.mjs with --expose-gc): one client does
 * `gets` GETs at 64 in flight, and the process reports its heap and RSS after a full GC at
 * three points: before the client module is even loaded, after a warm-up, and at the end.
 *
 * With `reshard`, the child asks its parent (over the IPC channel) to move ~500 slots away
 * when a third of the GETs are issued, and back when two thirds are; the GETs never pause.
 * The end is read once both moves are done, so the heap shows whatever the topology
 * changes left behind.
 *
 * Config: one JSON argument, see MemoryChildConfig in memory.mjs.
 */
import { CLIENTS } from "./clients.mjs";
import { buildBenchData, ORDER_MASK } from "./keys.mjs";
import { errorText } from "./outcome.mjs";

/**
 * @typedef {import("./memory.mjs").MemoryChildConfig} MemoryChildConfig
 * @typedef {import("./memory.mjs").MemorySnapshot} MemorySnapshot
 * @typedef {import("./memory.mjs").ParentMessage} ParentMessage
 */

const collect = globalThis.gc;
if (collect === undefined || process.send === undefined) {
  throw new Error("memory-child.mjs runs forked by memory.mjs, with --expose-gc");
}
const send = process.send.bind(process);

/** Two full collections: the second frees what finalizers of the first released. @returns {MemorySnapshot} */
function settledMemory() {
  collect?.();
  collect?.();
  const usage = process.memoryUsage();
  return {
    heapUsedBytes: usage.heapUsed,
    heapTotalBytes: usage.heapTotal,
    rssBytes: usage.rss,
    externalBytes: usage.external,
  };
}

const baseline = settledMemory();
/** @type {MemoryChildConfig} */
const config = JSON.parse(process.argv[2] ?? "{}");
const spec = CLIENTS.find((candidate) => candidate.id === config.clientId);
if (spec === undefined) throw new Error(`unknown client ${config.clientId}`);
const { keys, values, order } = buildBenchData();

/** Resolvers of the reshard steps asked for, by step. */
/** @type {Map<number, { resolve: () => void, reject: (error: Error) => void }>} */
const pendingSteps = new Map();
process.on("message", (/** @type {ParentMessage} */ message) => {
  const waiter = pendingSteps.get(message.step);
  if (waiter === undefined) return;
  pendingSteps.delete(message.step);
  if (message.type === "resharded") waiter.resolve();
  else waiter.reject(new Error(`reshard step ${message.step} failed: ${message.error}`));
});

/**
 * Asks the parent to run a reshard step; the promise settles when the parent is done.
 *
 * @param {number} step 1 = move slots away, 2 = move them back
 * @returns {Promise<void>}
 */
function requestReshard(step) {
  const done = new Promise((resolve, reject) => {
    pendingSteps.set(step, { resolve: () => resolve(undefined), reject });
  });
  send({ type: "reshard", step });
  return /** @type {Promise<void>} */ (done);
}

const client = await spec.connect(config.seeds);
const afterConnect = settledMemory();

/**
 * `total` GETs by `inFlight` workers; `onIssue` sees every GET's sequence number.
 *
 * @param {number} total
 * @param {(sequence: number) => void} [onIssue]
 */
async function runGets(total, onIssue) {
  let issued = 0;
  let errors = 0;
  let wrongReplies = 0;
  /** @type {string | undefined} */
  let firstError;
  const worker = async () => {
    while (issued < total) {
      const sequence = issued++;
      onIssue?.(sequence);
      try {
        const index = order[sequence & ORDER_MASK] ?? 0;
        const reply = await client.get(keys[index] ?? "");
        if (reply !== values[index]) wrongReplies++;
      } catch (error) {
        errors++;
        firstError ??= errorText(error);
      }
    }
  };
  const workers = [];
  for (let i = 0; i < config.inFlight; i++) workers.push(worker());
  await Promise.all(workers);
  return { errors, wrongReplies, firstError };
}

await runGets(config.warmupGets);
const afterWarmup = settledMemory();

/** @type {Promise<void>[]} */
const reshards = [];
const startedAt = performance.now();
const outcome = await runGets(
  config.gets,
  config.reshard
    ? (sequence) => {
        if (sequence === Math.floor(config.gets / 3)) reshards.push(requestReshard(1));
        else if (sequence === Math.floor((config.gets * 2) / 3)) reshards.push(requestReshard(2));
      }
    : undefined,
);
const elapsedMs = performance.now() - startedAt;
/** @type {string | undefined} */
let reshardError;
try {
  await Promise.all(reshards);
} catch (error) {
  reshardError = error instanceof Error ? error.message : String(error);
}
const end = settledMemory();

send({
  type: "result",
  result: {
    gets: config.gets,
    opsPerSecond: (config.gets / elapsedMs) * 1000,
    errors: outcome.errors,
    wrongReplies: outcome.wrongReplies,
    firstError: outcome.firstError,
    reshardSteps: reshards.length,
    reshardError,
    baseline,
    afterConnect,
    afterWarmup,
    end,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    clientStats: client.stats(),
  },
});
await client.close();
process.disconnect();
