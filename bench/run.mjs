// @ts-check
/**
 * `npm run bench`: rediscluster against ioredis (default and auto-pipelining), node-redis
 * and Valkey GLIDE (where it loads) on one cluster, in one run (issue 6, SPEC section 6).
 * See bench/README.md.
 *
 *   cluster (dev 3+3, or --seeds) ─► prefill 10,000 keys
 *     ─► rounds: ceiling (redis-benchmark -c 1; -c 50 -P 1; -c 50 -P 16; W1 and W3 on raw Node
 *        sockets, bench/floor.mjs), then W1..W5, W8, W9 and W10 (sharded
 *        Pub/Sub, bench/pubsub.mjs) × clients, the client order rotating each round; every run:
 *        fresh client, verify replies, warm-up, measure
 *     ─► W6: a fresh process per client (+ rediscluster with a reshard in the middle)
 *     ─► table on stdout, JSON + SVG chart on disk
 *
 * Run with --expose-gc (the npm script does): a full GC between runs keeps one client's
 * garbage from being collected on the next client's time.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, relative } from "node:path";
import { cacheReport, cacheVariants, formatCacheReport, runCacheOnce } from "./cache.mjs";
import { CEILING_VARIANTS, fillCeilingKeys, measureCeiling } from "./ceiling.mjs";
import { renderChart } from "./chart.mjs";
import { CLIENTS, installedVersion, loadableClients, REDISCLUSTER_ENTRY } from "./clients.mjs";
import { NODE_FLOOR } from "./floor.mjs";
import { BATCH_SIZE, buildBenchData, KEY_COUNT, VALUE_BYTES } from "./keys.mjs";
import { describeMachine, redisVersionFromInfo } from "./machine.mjs";
import { measureMemory } from "./memory.mjs";
import { parseOptions, USAGE } from "./options.mjs";
import { errorText, within } from "./outcome.mjs";
import { PUBSUB_WORKLOAD, runPubSubOnce } from "./pubsub.mjs";
import {
  ceilingReport,
  floorReport,
  formatReport,
  memoryReport,
  RESHARD_ENTRY,
  workloadReport,
} from "./report.mjs";
import { countsBetween, readPrimaryCounts } from "./server-count.mjs";
import { drive, verifyReplies, WORKLOADS } from "./workloads.mjs";

/**
 * @typedef {import("./report.mjs").ClientRun} ClientRun
 * @typedef {import("./report.mjs").BenchReport} BenchReport
 * @typedef {import("./keys.mjs").BenchData} BenchData
 * @typedef {import("./clients.mjs").ClientSpec} ClientSpec
 * @typedef {import("./workloads.mjs").Workload} Workload
 * @typedef {import("./ceiling.mjs").BenchmarkLine} BenchmarkLine
 * @typedef {import("../src/dev/index.js").DevCluster} DevCluster
 * @typedef {import("./server-count.mjs").CommandCounts} CommandCounts
 */

/** W6's concurrency. */
const MEMORY_IN_FLIGHT = 64;
/** W6's reshard: how many slots move away from the first primary, and back. */
const RESHARD_SLOTS = 500;
const REDIS_BENCHMARK = "redis-benchmark";

/** Creating a client (topology included) and closing it gracefully must each take less. */
const CLIENT_TIMEOUT_MS = 15_000;

/** A progress line on stderr: rewritten in place on a terminal, one line per step otherwise. */
class Progress {
  #done = 0;
  #total;
  #tty = process.stderr.isTTY === true;

  /** @param {number} total */
  constructor(total) {
    this.#total = total;
  }

  /** @param {string} text */
  start(text) {
    if (this.#tty) process.stderr.write(`\r\x1b[2K[${this.#done + 1}/${this.#total}] ${text} …`);
  }

  /** @param {string} text */
  finish(text) {
    this.#done++;
    if (this.#tty) process.stderr.write(`\r\x1b[2K[${this.#done}/${this.#total}] ${text}`);
    else process.stderr.write(`[${this.#done}/${this.#total}] ${text}\n`);
  }

  end() {
    if (this.#tty) process.stderr.write("\n");
  }
}

/** The workloads the Node floor runs (floor.mjs). */
const FLOOR_WORKLOADS = WORKLOADS.filter((workload) => workload.id === "W1" || workload.id === "W3");

/** @param {number} value */
const whole = (value) => Math.round(value).toLocaleString("en-US");

/**
 * One measured run: a fresh client, a check of its replies, a warm-up, the measurement,
 * a graceful close; then a cross-check against what the servers executed.
 *
 * @param {Pick<ClientSpec, "connect">} spec a client, or the Node floor (floor.mjs)
 * @param {Workload} workload
 * @param {BenchData} data
 * @param {readonly string[]} seeds
 * @param {{ durationMs: number, warmupMs: number }} timing
 * @param {number} round
 * @param {() => Promise<CommandCounts>} readCounts
 * @returns {Promise<ClientRun>}
 */
async function runOnce(spec, workload, data, seeds, timing, round, readCounts) {
  globalThis.gc?.();
  const before = await readCounts();
  /** @type {ClientRun} */
  let run;
  /** @type {import("./clients.mjs").BenchClient | undefined} */
  let client;
  try {
    client = await within(spec.connect(seeds), CLIENT_TIMEOUT_MS, "connecting");
    const operation = workload.operation(client, data);
    await verifyReplies(workload, operation, data);
    if (timing.warmupMs > 0) await drive(operation, workload.inFlight, timing.warmupMs, false);
    const cpuBefore = process.cpuUsage();
    const result = await drive(operation, workload.inFlight, timing.durationMs, workload.latency);
    const cpu = process.cpuUsage(cpuBefore);
    const commands = result.operations * workload.keysPerOperation;
    run = {
      round,
      rate: (commands / timing.durationMs) * 1000,
      operations: result.operations,
      errors: result.errors,
      // The whole process's CPU (the workers' loop included, the same for every client) over
      // the measured window and the drain of what was in flight at its end, per key served.
      cpuUsPerCommand: commands > 0 ? (cpu.user + cpu.system) / commands : null,
    };
    if (result.firstError !== undefined) run.firstError = result.firstError;
    if (result.latencies !== undefined) {
      run.p50Ms = result.latencies.percentile(0.5);
      run.p99Ms = result.latencies.percentile(0.99);
    }
  } catch (error) {
    run = { round, rate: null, operations: 0, errors: 0, failure: errorText(error) };
  } finally {
    // A client that cannot close is left behind (its run still counts): the bench goes on.
    if (client !== undefined) await within(client.close(), CLIENT_TIMEOUT_MS, "closing").catch(() => {});
  }
  const served = countsBetween(before, await readCounts());
  run.served = served;
  const [servedCommands, claimedCommands] =
    workload.servedAs === "mget"
      ? [served.mget, run.operations]
      : workload.servedAs === "exec"
        ? [served.exec, run.operations]
        : workload.servedAs === "script"
          ? [served.evalsha + served.eval, run.operations]
          : [served.get + served.set, run.operations * workload.keysPerOperation];
  if (servedCommands < claimedCommands) {
    run.suspect = `the servers executed ${servedCommands} ${workload.servedAs} commands, the client claims ${claimedCommands}`;
  }
  return run;
}

/**
 * The cluster to measure: the given seeds, or a fresh local 3+3 dev cluster.
 *
 * @param {string[] | undefined} seeds
 * @returns {Promise<{ seeds: string[], dev: DevCluster | undefined, description: string }>}
 */
async function openCluster(seeds) {
  if (seeds !== undefined) return { seeds, dev: undefined, description: `cluster at ${seeds[0]}` };
  /** @type {typeof import("../src/dev/index.js")} */
  const devModule = await import(new URL("../dist/esm/dev/index.js", import.meta.url).href);
  const dev = await devModule.startDevCluster({ primaries: 3, replicasPerPrimary: 1 });
  return { seeds: [...dev.seeds], dev, description: "local 3+3 dev cluster" };
}

/**
 * Writes the 10,000 keys (with rediscluster: MSET split per slot), reads the server version,
 * and counts how many primaries the emptiest W4/W5 batch touches. The client stays open:
 * it reads the servers' command counts around every run (the caller closes it).
 *
 * @param {readonly string[]} seeds
 * @param {BenchData} data
 */
async function prefill(seeds, data) {
  /** @type {typeof import("../src/index.js")} */
  const { RedisCluster, keySlot } = await import(REDISCLUSTER_ENTRY.href);
  const admin = new RedisCluster({ nodes: [...seeds] });
  try {
    await admin.connect();
    for (let start = 0; start < KEY_COUNT; start += 1_000) {
      /** @type {string[]} */
      const pairs = [];
      for (let index = start; index < Math.min(KEY_COUNT, start + 1_000); index++) {
        pairs.push(data.keys[index] ?? "", data.values[index] ?? "");
      }
      await admin.mset(...pairs);
    }
    const primaries = admin.nodes("primary");
    const info = await primaries[0]?.call("INFO", "server");
    // CLUSTER SLOTS: [first, last, [host, port, id], replicas...] per range; a primary may own several.
    const ranges = /** @type {Array<[number, number, [string, number, ...unknown[]]]>} */ (
      await admin.call("CLUSTER", "SLOTS")
    );
    /** @type {string[]} */
    const ownerBySlot = new Array(16_384).fill("");
    for (const [first, last, [host, port]] of ranges) ownerBySlot.fill(`${host}:${port}`, first, last + 1);
    let fewest = Number.POSITIVE_INFINITY;
    for (const batch of data.batches) {
      fewest = Math.min(fewest, new Set(batch.map((key) => ownerBySlot[keySlot(key)])).size);
    }
    return {
      admin,
      redisVersion: redisVersionFromInfo(info),
      batchPrimaries: { min: fewest, of: primaries.length },
    };
  } catch (error) {
    await admin.close();
    throw error;
  }
}

/**
 * W6's reshard steps on a dev cluster: step 1 moves RESHARD_SLOTS slots from the first
 * primary to the second, step 2 moves them back. Steps run one after the other.
 *
 * @param {DevCluster} dev
 * @returns {Promise<(step: number) => Promise<void>>}
 */
async function reshardSteps(dev) {
  const primaries = (await dev.refresh()).filter((node) => node.role === "primary");
  const [source, target] = primaries;
  const range = source?.slots[0];
  if (source === undefined || target === undefined || range === undefined) {
    throw new Error("the dev cluster needs two primaries with slots to reshard");
  }
  const count = Math.min(RESHARD_SLOTS, range[1] - range[0] + 1);
  const slots = Array.from({ length: count }, (_, i) => range[0] + i);
  /** @type {Promise<void>} */
  let previous = Promise.resolve();
  return (step) => {
    const run = previous.then(() =>
      step === 1
        ? dev.migrateSlots(source.port, target.port, slots)
        : dev.migrateSlots(target.port, source.port, slots),
    );
    previous = run.catch(() => {});
    return run;
  };
}

async function main() {
  const settings = parseOptions(process.argv.slice(2));
  if (settings.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const startedAt = new Date();
  // A client whose package does not load here (GLIDE without its native binary) is left out.
  const { clients, leftOut } = await loadableClients(
    CLIENTS.filter((spec) => settings.clientIds.includes(spec.id)),
  );
  for (const { note } of leftOut) process.stderr.write(`note: ${note}\n`);
  const workloads = WORKLOADS.filter((workload) => settings.sections.includes(workload.id));
  const withPubSub = settings.sections.includes("W10");
  const withCache = settings.sections.includes("W7");
  // W7 runs its own variants (cache on and off; --clients does not apply to it).
  const cache = withCache ? await cacheVariants() : { variants: [], glideNote: "" };
  const withCeiling = settings.sections.includes("ceiling");
  const withMemory = settings.sections.includes("W6");
  if (globalThis.gc === undefined) process.stderr.write("note: run with --expose-gc for a GC between runs\n");

  const data = buildBenchData();
  process.stderr.write("starting the cluster and writing 10,000 keys …\n");
  const cluster = await openCluster(settings.seeds);
  /** @type {{ close(): Promise<void> } | undefined} */
  let adminClient;
  try {
    const { admin, redisVersion, batchPrimaries } = await prefill(cluster.seeds, data);
    adminClient = admin;
    const readCounts = () => readPrimaryCounts(admin);
    const machine = describeMachine(redisVersion);

    const memoryRuns = withMemory
      ? clients.length + (clients.some((spec) => spec.id === "rediscluster") ? 1 : 0)
      : 0;
    const progress = new Progress(
      settings.rounds *
        ((workloads.length + (withPubSub ? 1 : 0)) * clients.length +
          cache.variants.length +
          (withCeiling ? CEILING_VARIANTS.length + FLOOR_WORKLOADS.length : 0)) +
        memoryRuns,
    );

    /** @type {Map<string, Map<string, ClientRun[]>>} */
    const runs = new Map(
      [...workloads, ...(withPubSub ? [PUBSUB_WORKLOAD] : [])].map((workload) => [
        workload.id,
        new Map(clients.map((spec) => [spec.id, []])),
      ]),
    );
    /** @type {Map<string, import("./cache.mjs").CacheRun[]>} */
    const cacheRuns = new Map(cache.variants.map((variant) => [variant.id, []]));
    /** @type {Map<string, { lines: BenchmarkLine[], failures: string[] }>} */
    const ceiling = new Map(CEILING_VARIANTS.map((variant) => [variant.id, { lines: [], failures: [] }]));
    /** @type {Map<string, ClientRun[]>} the Node floor's runs, by workload */
    const floorRuns = new Map(FLOOR_WORKLOADS.map((workload) => [workload.id, []]));
    if (withCeiling) {
      await fillCeilingKeys(REDIS_BENCHMARK, /** @type {string} */ (cluster.seeds[0])).catch((error) => {
        ceiling.get("P1")?.failures.push(`filling redis-benchmark's keys: ${errorText(error)}`);
      });
    }

    for (let round = 1; round <= settings.rounds; round++) {
      if (withCeiling) {
        for (const variant of CEILING_VARIANTS) {
          const requests = Math.max(2_000, settings.durationMs * variant.requestsPerMs);
          const label = `round ${round}  ceiling redis-benchmark -c ${variant.connections} -P ${variant.pipeline}`;
          const entry = /** @type {{ lines: BenchmarkLine[], failures: string[] }} */ (
            ceiling.get(variant.id)
          );
          progress.start(label);
          try {
            const line = await measureCeiling(
              REDIS_BENCHMARK,
              /** @type {string} */ (cluster.seeds[0]),
              variant,
              requests,
            );
            entry.lines.push(line);
            progress.finish(`${label}: ${whole(line.opsPerSecond)} GET/s`);
          } catch (error) {
            entry.failures.push(errorText(error));
            progress.finish(`${label}: failed: ${errorText(error)}`);
          }
        }
        for (const workload of FLOOR_WORKLOADS) {
          const label = `round ${round}  ceiling ${workload.id} on ${NODE_FLOOR.label}`;
          progress.start(label);
          const run = await runOnce(NODE_FLOOR, workload, data, cluster.seeds, settings, round, readCounts);
          floorRuns.get(workload.id)?.push(run);
          progress.finish(
            run.rate === null ? `${label}: failed: ${run.failure}` : `${label}: ${whole(run.rate)} GET/s`,
          );
        }
      }
      for (const workload of workloads) {
        // Rotate who goes first, so that no client always runs right after the same other one.
        for (let i = 0; i < clients.length; i++) {
          const spec = /** @type {ClientSpec} */ (clients[(i + round - 1) % clients.length]);
          const label = `round ${round}  ${workload.id} ${spec.label}`;
          progress.start(label);
          const run = await runOnce(spec, workload, data, cluster.seeds, settings, round, readCounts);
          runs.get(workload.id)?.get(spec.id)?.push(run);
          progress.finish(
            run.rate === null
              ? `${label}: failed: ${run.failure}`
              : `${label}: ${whole(run.rate)} ${workload.unit}` +
                  (run.errors > 0 ? ` (${run.errors} errors: ${run.firstError})` : "") +
                  (run.suspect === undefined ? "" : ` SUSPECT: ${run.suspect}`),
          );
        }
      }
      for (let i = 0; i < cache.variants.length; i++) {
        const variant = /** @type {import("./cache.mjs").CacheVariant} */ (
          cache.variants[(i + round - 1) % cache.variants.length]
        );
        const label = `round ${round}  W7 ${variant.label}`;
        progress.start(label);
        const run = await runCacheOnce(variant, cluster.seeds, settings, round, readCounts, admin);
        cacheRuns.get(variant.id)?.push(run);
        progress.finish(
          run.rate === null
            ? `${label}: failed: ${run.failure}`
            : `${label}: ${whole(run.rate)} ops/s, ${run.staleReads} stale reads` +
                (run.errors > 0 ? ` (${run.errors} errors: ${run.firstError})` : "") +
                (run.suspect === undefined ? "" : ` SUSPECT: ${run.suspect}`),
        );
      }
      if (withPubSub) {
        for (let i = 0; i < clients.length; i++) {
          const spec = /** @type {ClientSpec} */ (clients[(i + round - 1) % clients.length]);
          const label = `round ${round}  W10 ${spec.label}`;
          progress.start(label);
          const run = await runPubSubOnce(spec, cluster.seeds, settings, round, readCounts);
          runs.get("W10")?.get(spec.id)?.push(run);
          progress.finish(
            run.rate === null
              ? `${label}: failed: ${run.failure}`
              : `${label}: ${whole(run.rate)} msgs/s` +
                  (run.errors > 0 ? ` (${run.errors} errors: ${run.firstError})` : "") +
                  (run.suspect === undefined ? "" : ` SUSPECT: ${run.suspect}`),
          );
        }
      }
    }

    /** @type {Array<{ id: string, label: string, result?: import("./memory.mjs").MemoryResult, failure?: string }>} */
    const memoryEntries = [];
    if (withMemory) {
      const reshard = cluster.dev === undefined ? undefined : await reshardSteps(cluster.dev);
      const variants = clients.map((spec) => ({ spec, id: spec.id, label: spec.label, reshard: false }));
      const base = clients.find((spec) => spec.id === "rediscluster");
      if (base !== undefined) {
        variants.push({ spec: base, id: RESHARD_ENTRY, label: "rediscluster + reshard", reshard: true });
      }
      for (const variant of variants) {
        const label = `W6 ${variant.label}: ${whole(settings.memoryGets)} GETs in a fresh process`;
        progress.start(label);
        if (variant.reshard && reshard === undefined) {
          memoryEntries.push({
            id: variant.id,
            label: variant.label,
            failure: "skipped: --seeds cluster, no reshard",
          });
          progress.finish(
            `${label}: skipped (the bench did not start this cluster, so it does not reshard it)`,
          );
          continue;
        }
        try {
          const result = await measureMemory(
            {
              clientId: variant.spec.id,
              seeds: cluster.seeds,
              gets: settings.memoryGets,
              warmupGets: settings.memoryWarmupGets,
              inFlight: MEMORY_IN_FLIGHT,
              reshard: variant.reshard,
            },
            variant.reshard ? reshard : undefined,
            120_000 + settings.memoryGets / 2,
          );
          memoryEntries.push({ id: variant.id, label: variant.label, result });
          progress.finish(
            `${label}: RSS ${(result.end.rssBytes / 1_048_576).toFixed(1)} MB, heap ${(result.afterWarmup.heapUsedBytes / 1_048_576).toFixed(1)} → ${(result.end.heapUsedBytes / 1_048_576).toFixed(1)} MB`,
          );
        } catch (error) {
          memoryEntries.push({
            id: variant.id,
            label: variant.label,
            failure: `failed: ${errorText(error)}`,
          });
          progress.finish(`${label}: failed: ${errorText(error)}`);
        }
      }
    }
    progress.end();

    /** @type {BenchReport} */
    const report = {
      version: 1,
      startedAt: startedAt.toISOString(),
      elapsedSeconds: Math.round((Date.now() - startedAt.getTime()) / 100) / 10,
      machine,
      settings: {
        rounds: settings.rounds,
        durationMs: settings.durationMs,
        warmupMs: settings.warmupMs,
        quick: settings.quick,
        cluster: cluster.description,
        keys: KEY_COUNT,
        valueBytes: VALUE_BYTES,
        batchPrimaries: workloads.some((workload) => workload.keysPerOperation === BATCH_SIZE)
          ? batchPrimaries
          : null,
      },
      clients: clients.map((spec) => ({
        id: spec.id,
        label: spec.label,
        packageName: spec.packageName,
        version: installedVersion(spec.packageName),
        options: spec.options,
      })),
      leftOut,
      workloads: [
        ...workloads.map((workload) => workloadReport(workload, clients, runs.get(workload.id) ?? new Map())),
        ...(withPubSub ? [workloadReport(PUBSUB_WORKLOAD, clients, runs.get("W10") ?? new Map())] : []),
      ],
      ceiling: withCeiling
        ? CEILING_VARIANTS.map((variant) =>
            ceilingReport(
              variant,
              Math.max(2_000, settings.durationMs * variant.requestsPerMs),
              ceiling.get(variant.id)?.lines ?? [],
              ceiling.get(variant.id)?.failures ?? [],
            ),
          )
        : [],
      floor: withCeiling ? floorReport(floorRuns) : undefined,
      memory: withMemory ? memoryReport(settings.memoryGets, MEMORY_IN_FLIGHT, memoryEntries) : undefined,
      cache: withCache ? cacheReport(cache.variants, cacheRuns, cache.glideNote) : undefined,
    };

    process.stdout.write(`\n${formatReport(report)}\n\n`);
    if (report.cache !== undefined) process.stdout.write(`${formatCacheReport(report.cache)}\n\n`);
    mkdirSync(dirname(settings.jsonPath), { recursive: true });
    writeFileSync(settings.jsonPath, `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(settings.svgPath, renderChart(report));
    const shown = (/** @type {string} */ path) =>
      path.startsWith(process.cwd()) ? relative(process.cwd(), path) : path;
    process.stdout.write(
      `results: ${shown(settings.jsonPath)}, chart: ${shown(settings.svgPath)} (${report.elapsedSeconds} s)\n`,
    );
  } finally {
    await adminClient?.close();
    await cluster.dev?.stop();
  }
}

main().catch((error) => {
  process.stderr.write(
    `\nbench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
