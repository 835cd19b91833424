// @ts-check
/**
 * W7: client-side caching. 90% GET / 10% SET on a hot set of 1,000 keys, 64 in flight, in
 * operations per second, with the cache on and off, against node-redis with its
 * clientSideCache (cluster mode, RESP3) and Valkey GLIDE with its server-assisted cache (if
 * `@valkey/valkey-glide` loads here).
 *
 *   workers ── GET (90%) / SET (10%) of bench:w7:<0..999> ──► 3 primaries
 *                    │ reads answered from memory while the server has not invalidated them
 *
 * **Stale reads.** Every SET writes a new version number (one counter for the whole bench
 * process) at the start of its value; when a SET is acknowledged, its version becomes that
 * key's floor. A GET remembers the key's floor when it is issued; a reply whose version is
 * below it is a stale read (an older value than a write this process already saw
 * acknowledged). Before each run, every hot key is written afresh by the bench's own admin
 * client, whose writes count as acknowledged too. The check phase, the warm-up and the
 * measurement all count stale reads; a cache that serves them has failed the workload
 * however fast it is.
 *
 * Cross-check: the primaries must have executed at least as many SET as the client claims
 * (GETs answered from memory never reach them, so GETs are not checked).
 */
import { importRediscluster } from "./clients.mjs";
import { errorText, within } from "./outcome.mjs";
import { countsBetween } from "./server-count.mjs";
import { summarize } from "./stats.mjs";
import { drive } from "./workloads.mjs";

/**
 * @typedef {import("./report.mjs").ClientRun} ClientRun
 * @typedef {import("./server-count.mjs").CommandCounts} CommandCounts
 * @typedef {import("./stats.mjs").Summary} Summary
 */

/**
 * @typedef {object} CacheClient
 * @property {(key: string) => Promise<unknown>} get
 * @property {(key: string, value: string) => Promise<unknown>} set
 * @property {() => Promise<void>} close
 * @property {() => Record<string, number>} stats cache counters where the client has them
 */

/**
 * @typedef {object} CacheVariant
 * @property {string} id
 * @property {string} label
 * @property {string} packageName
 * @property {string} options as text
 * @property {(seeds: readonly string[]) => Promise<CacheClient>} connect
 */

export const CACHE_WORKLOAD = {
  id: /** @type {const} */ ("W7"),
  title: "GET 90% / SET 10% on 1,000 hot keys, 64 in flight",
  unit: "ops/s",
  inFlight: 64,
};

/** Issue 12's goals: the cached client ÷ itself uncached, and ÷ node-redis cached. */
export const CACHE_TARGETS = { vsUncached: 5, vsNodeRedisCached: 2 };

export const HOT_KEYS = 1_000;
/** `bench:w7:<n>`, no hash tags: spread over every primary. */
export const HOT_KEY_NAMES = Array.from({ length: HOT_KEYS }, (_, i) => `bench:w7:${i}`);
const VALUE_PADDING = "w".repeat(90);
const CACHE_ENTRIES = 10_000;
const CLIENT_TIMEOUT_MS = 15_000;

/** The next version any write of the bench writes (never reused within the process). */
let nextVersion = 1;

/** @param {number} version */
const encodeValue = (version) => `${version}:${VALUE_PADDING}`;

/**
 * The version a value carries; NaN for anything else.
 *
 * @param {unknown} value
 */
function decodeVersion(value) {
  const text = typeof value === "string" ? value : Buffer.isBuffer(value) ? value.toString() : "";
  const colon = text.indexOf(":");
  return colon > 0 ? Number(text.slice(0, colon)) : Number.NaN;
}

/**
 * Which operations write: 1 in 10, spread over the walk (a multiplicative hash of the cursor,
 * so that no worker only reads or only writes).
 *
 * @param {number} cursor
 */
const isWrite = (cursor) => Math.imul(cursor, 0x9e3779b1) >>> 0 < 0x1999999a;

/**
 * @param {Record<string, unknown>} stats
 * @returns {Record<string, number>}
 */
function cacheCounters(stats) {
  const cache = /** @type {Record<string, number> | undefined} */ (stats.cache);
  return cache === undefined ? {} : { ...cache };
}

/**
 * @param {boolean} cached
 * @returns {CacheVariant}
 */
function redisclusterVariant(cached) {
  return {
    id: cached ? "rediscluster" : "rediscluster-uncached",
    label: cached ? "rediscluster cached" : "rediscluster",
    packageName: "rediscluster",
    options: cached ? `{ protocol: 3, clientCache: { maxEntries: ${CACHE_ENTRIES} } }` : "defaults",
    async connect(seeds) {
      const { RedisCluster } = await importRediscluster();
      const client = cached
        ? new RedisCluster({ nodes: [...seeds], protocol: 3, clientCache: { maxEntries: CACHE_ENTRIES } })
        : new RedisCluster({ nodes: [...seeds] });
      client.on("error", () => {});
      await client.connect();
      return {
        get: (key) => client.get(key),
        set: (key, value) => client.set(key, value),
        close: () => client.close(),
        stats: () =>
          cacheCounters(/** @type {Record<string, unknown>} */ (/** @type {unknown} */ (client.stats()))),
      };
    },
  };
}

/**
 * @param {boolean} cached
 * @returns {CacheVariant}
 */
function nodeRedisVariant(cached) {
  return {
    id: cached ? "node-redis-cached" : "node-redis",
    label: cached ? "node-redis cached" : "node-redis",
    packageName: "redis",
    options: cached
      ? `createCluster({ RESP: 3, clientSideCache: { maxEntries: ${CACHE_ENTRIES}, evictPolicy: "LRU" } })`
      : "defaults",
    async connect(seeds) {
      const { createCluster } = await import("redis");
      const rootNodes = seeds.map((address) => ({ url: `redis://${address}` }));
      const client = cached
        ? createCluster({
            rootNodes,
            RESP: 3,
            clientSideCache: { ttl: 0, maxEntries: CACHE_ENTRIES, evictPolicy: "LRU" },
          })
        : createCluster({ rootNodes });
      client.on("error", () => {});
      await client.connect();
      return {
        get: (key) => client.get(key),
        set: (key, value) => client.set(key, value),
        async close() {
          await client.close();
        },
        /** @returns {Record<string, number>} */
        stats() {
          const cache = client.clientSideCache;
          if (cache === undefined) return {};
          const stats = cache.stats();
          return { hits: stats.hitCount, misses: stats.missCount };
        },
      };
    },
  };
}

/** @type {CacheVariant} */
const glideVariant = {
  id: "glide-cached",
  label: "GLIDE cached",
  packageName: "@valkey/valkey-glide",
  options: `GlideClusterClient({ protocol: RESP3, clientSideCache: { maxCacheKb: 16384, entryTtlMs: 0, serverAssisted: true } })`,
  async connect(seeds) {
    const glide = await import("@valkey/valkey-glide");
    const client = await glide.GlideClusterClient.createClient({
      addresses: seeds.map((address) => {
        const colon = address.lastIndexOf(":");
        return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
      }),
      protocol: glide.ProtocolVersion.RESP3,
      clientSideCache: new glide.ClientSideCache({
        maxCacheKb: 16_384,
        entryTtlMs: 0,
        serverAssisted: true,
        enableMetrics: true,
      }),
    });
    return {
      get: (key) => client.get(key),
      set: (key, value) => client.set(key, value),
      async close() {
        client.close();
      },
      stats: () => ({}),
    };
  },
};

/**
 * The variants of W7, the cached rediscluster first (the ratios are it ÷ each other); GLIDE
 * only if its package loads on this machine.
 *
 * @returns {Promise<{ variants: CacheVariant[], glideNote: string }>}
 */
export async function cacheVariants() {
  const variants = [
    redisclusterVariant(true),
    redisclusterVariant(false),
    nodeRedisVariant(true),
    nodeRedisVariant(false),
  ];
  try {
    await import("@valkey/valkey-glide");
    variants.push(glideVariant);
    return { variants, glideNote: "GLIDE measured" };
  } catch (error) {
    return {
      variants,
      glideNote: `GLIDE left out: @valkey/valkey-glide does not load here (${errorText(error)})`,
    };
  }
}

/**
 * @typedef {ClientRun & { staleReads: number, wrongReplies: number, reads: number, writes: number, cache: Record<string, number> }} CacheRun
 */

/**
 * One W7 run of one variant.
 *
 * @param {CacheVariant} variant
 * @param {readonly string[]} seeds
 * @param {{ durationMs: number, warmupMs: number }} timing
 * @param {number} round
 * @param {() => Promise<CommandCounts>} readCounts
 * @param {{ set(key: string, value: string): Promise<unknown> }} admin writes the hot keys afresh
 * @returns {Promise<CacheRun>}
 */
export async function runCacheOnce(variant, seeds, timing, round, readCounts, admin) {
  globalThis.gc?.();
  /** The version of the last acknowledged write of each hot key. */
  const floors = new Float64Array(HOT_KEYS);
  await Promise.all(
    HOT_KEY_NAMES.map(async (key, index) => {
      const version = nextVersion++;
      await admin.set(key, encodeValue(version));
      floors[index] = Math.max(floors[index] ?? 0, version);
    }),
  );
  const before = await readCounts();
  let staleReads = 0;
  let wrongReplies = 0;
  let reads = 0;
  let writes = 0;
  /** @type {CacheRun} */
  let run;
  /** @type {CacheClient | undefined} */
  let client;
  try {
    client = await within(variant.connect(seeds), CLIENT_TIMEOUT_MS, "connecting");
    const c = client;
    const operation = async (/** @type {number} */ cursor) => {
      // The walk visits the hot keys in a scrambled order (an odd multiplier mod 1,000).
      const index = (Math.imul(cursor, 7919) >>> 0) % HOT_KEYS;
      const key = /** @type {string} */ (HOT_KEY_NAMES[index]);
      if (isWrite(cursor)) {
        const version = nextVersion++;
        await c.set(key, encodeValue(version));
        writes++;
        if (version > (floors[index] ?? 0)) floors[index] = version;
        return;
      }
      const floor = floors[index] ?? 0;
      const reply = await c.get(key);
      reads++;
      const version = decodeVersion(reply);
      if (Number.isNaN(version)) wrongReplies++;
      else if (version < floor) staleReads++;
    };
    for (let cursor = 0; cursor < 64; cursor++) await operation(cursor);
    if (wrongReplies > 0) throw new Error(`${wrongReplies} replies without a version in the check`);
    if (timing.warmupMs > 0) await drive(operation, CACHE_WORKLOAD.inFlight, timing.warmupMs, false);
    const writesBefore = writes;
    const result = await drive(operation, CACHE_WORKLOAD.inFlight, timing.durationMs, false);
    run = {
      round,
      rate: (result.operations / timing.durationMs) * 1000,
      operations: result.operations,
      errors: result.errors,
      staleReads: 0,
      wrongReplies: 0,
      reads: 0,
      writes: writes - writesBefore,
      cache: client.stats(),
    };
    if (result.firstError !== undefined) run.firstError = result.firstError;
  } catch (error) {
    run = {
      round,
      rate: null,
      operations: 0,
      errors: 0,
      failure: errorText(error),
      staleReads: 0,
      wrongReplies: 0,
      reads: 0,
      writes: 0,
      cache: {},
    };
  } finally {
    if (client !== undefined) await within(client.close(), CLIENT_TIMEOUT_MS, "closing").catch(() => {});
  }
  // Counted over the whole run (check, warm-up, measurement), in-flight stragglers included.
  run.staleReads = staleReads;
  run.wrongReplies = wrongReplies;
  run.reads = reads;
  const served = countsBetween(before, await readCounts());
  run.served = served;
  if (served.set < run.writes) {
    run.suspect = `the servers executed ${served.set} SET, the client claims ${run.writes}`;
  }
  return run;
}

/**
 * @typedef {object} CacheReport
 * @property {string} id
 * @property {string} title
 * @property {string} unit
 * @property {number} inFlight
 * @property {string} glideNote
 * @property {Array<{ id: string, label: string, packageName: string, options: string }>} variants
 * @property {Record<string, { rate: Summary, staleReads: number, wrongReplies: number, failedRuns: number, runs: CacheRun[] }>} clients
 * @property {Record<string, number | null>} ratios cached rediscluster ÷ each variant
 * @property {{ vsUncached: number, vsNodeRedisCached: number, met: boolean | null }} target
 */

/**
 * @param {readonly CacheVariant[]} variants
 * @param {Map<string, CacheRun[]>} runsByVariant
 * @param {string} glideNote
 * @returns {CacheReport}
 */
export function cacheReport(variants, runsByVariant, glideNote) {
  /** @type {CacheReport["clients"]} */
  const clients = {};
  for (const variant of variants) {
    const runs = runsByVariant.get(variant.id) ?? [];
    const measured = runs.filter((run) => run.rate !== null && run.suspect === undefined);
    clients[variant.id] = {
      rate: summarize(measured.map((run) => /** @type {number} */ (run.rate))),
      staleReads: runs.reduce((sum, run) => sum + run.staleReads, 0),
      wrongReplies: runs.reduce((sum, run) => sum + run.wrongReplies, 0),
      failedRuns: runs.length - measured.length,
      runs,
    };
  }
  const base = clients.rediscluster?.rate.median ?? Number.NaN;
  /** @type {Record<string, number | null>} */
  const ratios = {};
  for (const variant of variants) {
    if (variant.id === "rediscluster") continue;
    const other = clients[variant.id]?.rate.median ?? Number.NaN;
    ratios[variant.id] = Number.isFinite(base) && Number.isFinite(other) && other > 0 ? base / other : null;
  }
  const vsUncached = ratios["rediscluster-uncached"] ?? null;
  const vsNodeRedis = ratios["node-redis-cached"] ?? null;
  const clean =
    (clients.rediscluster?.staleReads ?? 1) === 0 && (clients.rediscluster?.wrongReplies ?? 1) === 0;
  const met =
    vsUncached === null || vsNodeRedis === null
      ? null
      : clean && vsUncached >= CACHE_TARGETS.vsUncached && vsNodeRedis >= CACHE_TARGETS.vsNodeRedisCached;
  return {
    ...CACHE_WORKLOAD,
    glideNote,
    variants: variants.map(({ id, label, packageName, options }) => ({ id, label, packageName, options })),
    clients,
    ratios,
    target: { ...CACHE_TARGETS, met },
  };
}

const whole = (/** @type {number} */ value) =>
  Number.isFinite(value) ? Math.round(value).toLocaleString("en-US") : "—";

/**
 * The W7 table: per variant its median (range), stale reads, and the cached rediscluster's
 * ratio to it; then the verdict.
 *
 * @param {CacheReport} report
 * @returns {string}
 */
export function formatCacheReport(report) {
  const lines = [`${report.id}  ${report.title} (${report.unit}; medians of the rounds)`];
  for (const variant of report.variants) {
    const result = report.clients[variant.id];
    if (result === undefined) continue;
    const { median, min, max } = result.rate;
    const ratio = report.ratios[variant.id];
    lines.push(
      `  ${variant.label.padEnd(22)} ${whole(median).padStart(10)} (${whole(min)}–${whole(max)})` +
        `  stale reads ${result.staleReads}` +
        (result.wrongReplies > 0 ? `, wrong replies ${result.wrongReplies}` : "") +
        (result.failedRuns > 0 ? `, failed runs ${result.failedRuns}` : "") +
        (ratio === undefined
          ? ""
          : `  cached rediscluster ÷ it: ${ratio === null ? "—" : `${ratio.toFixed(2)}×`}`),
    );
  }
  const { vsUncached, vsNodeRedisCached, met } = report.target;
  lines.push(
    `  goal: ≥ ${vsUncached}× uncached and ≥ ${vsNodeRedisCached}× node-redis cached, zero stale reads: ${met === null ? "not measured" : met ? "met" : "NOT met"}`,
  );
  lines.push(`  ${report.glideNote}`);
  return lines.join("\n");
}
