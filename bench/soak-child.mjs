// @ts-check
/**
 * The soak's application process (bench/soak.mjs forks it with --expose-gc): one client,
 * many concurrent workers, memory sampled on a timer, file descriptors counted before the
 * client exists and after it is closed, and every issued command accounted for.
 *
 *   parent → child  { type: "start", seeds, workers, sampleMs, leakEvery }
 *   child → parent  { type: "sample", atMs, heapUsed, external, rss }     every sampleMs
 *   parent → child  { type: "stop" }
 *   child → parent  { type: "done", issued, settled, errors, fds, unhandled, stats }
 *
 * A separate process, so that its heap, RSS and descriptors are the client's alone (the dev
 * cluster's own connections live in the parent).
 */
import { readdirSync } from "node:fs";
import { REDISCLUSTER_ENTRY } from "./clients.mjs";

/** Keys of the load: counters and strings, spread over every slot. */
const KEYS = 20_000;
/** How long the workers get to finish after "stop": well past one commandTimeout. */
const STOP_BUDGET_MS = 15_000;

const openFds = () => readdirSync("/proc/self/fd").length;
const sleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The parent gone (killed, Ctrl-C): nobody will say stop, and the cluster is gone too.
process.on("disconnect", () => process.exit(1));

let unhandled = 0;
process.on("unhandledRejection", () => unhandled++);

/** @type {typeof import("../src/index.js")} */
const { RedisCluster, RedisClusterError } = await import(REDISCLUSTER_ENTRY.href);

/** `--inject-leak` (a check of the verdict itself): what the fake leak keeps alive. */
const leaked = [];
let leakEvery = 0;

let stopping = false;
let issued = 0;
let settled = 0;
/** @type {Record<string, number>} */
const errors = {};

/**
 * Counts a command from issue to settlement, whatever its outcome.
 *
 * @param {() => Promise<unknown>} call
 */
async function tracked(call) {
  issued++;
  if (leakEvery > 0 && issued % leakEvery === 0) leaked.push(Buffer.alloc(1024, 1));
  try {
    await call();
  } catch (error) {
    // Typed errors are expected around a failover; anything else is reported by name.
    const name = error instanceof RedisClusterError ? error.name : `untyped ${String(error)}`;
    errors[name] = (errors[name] ?? 0) + 1;
  } finally {
    settled++;
  }
}

/**
 * One worker: a mix of single commands, a cross-slot MGET and a small pipeline.
 *
 * @param {import("../src/index.js").RedisCluster} client
 * @param {number} worker
 */
async function work(client, worker) {
  for (let n = worker; !stopping; n += 9973) {
    const key = `soak:${n % KEYS}`;
    switch (n % 8) {
      case 0:
      case 1:
      case 2:
        await tracked(() => client.get(key));
        break;
      case 3:
      case 4:
        await tracked(() => client.set(key, `v${n}`));
        break;
      case 5:
        await tracked(() => client.incr(`soak:counter:${n % 1000}`));
        break;
      case 6:
        await tracked(() => client.mget(key, `soak:${(n + 1) % KEYS}`, `soak:${(n + 2) % KEYS}`));
        break;
      default:
        await tracked(() =>
          client
            .pipeline()
            .get(key)
            .set(`soak:${(n + 3) % KEYS}`, "p")
            .get(`soak:${(n + 5) % KEYS}`)
            .exec(),
        );
    }
  }
}

process.on("message", async (/** @type {any} */ message) => {
  if (message.type === "start") {
    leakEvery = message.leakEvery ?? 0;
    globalThis.gc?.();
    const fdsBefore = openFds();
    const startedAt = performance.now();
    const client = new RedisCluster({ nodes: message.seeds });
    client.on("error", () => {}); // background refresh failures around a failover: counted in stats
    await client.connect();
    const sampler = setInterval(() => {
      globalThis.gc?.();
      const { heapUsed, external, rss } = process.memoryUsage();
      process.send?.({ type: "sample", atMs: performance.now() - startedAt, heapUsed, external, rss });
    }, message.sampleMs);
    const workers = Array.from({ length: message.workers }, (_, worker) => work(client, worker));
    process.once("message", async (/** @type {any} */ stop) => {
      if (stop.type !== "stop") return;
      clearInterval(sampler);
      stopping = true;
      // Every command keeps its deadline (5 s by default): by then each worker has ended,
      // unless a command never settles — which the counts below then show.
      await Promise.race([Promise.all(workers), sleep(STOP_BUDGET_MS)]);
      const stats = client.stats();
      await client.close();
      // Sockets are closed by now; their descriptors go as the handles close (a tick or two).
      let fdsAfter = openFds();
      for (let wait = 0; wait < 50 && fdsAfter > fdsBefore; wait++) {
        await sleep(20);
        fdsAfter = openFds();
      }
      process.send?.(
        {
          type: "done",
          issued,
          settled,
          errors,
          fds: { before: fdsBefore, after: fdsAfter },
          unhandled,
          stats,
        },
        () => process.exit(0),
      );
    });
  }
});
process.send?.({ type: "loaded" });
