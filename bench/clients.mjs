// @ts-check
/**
 * The five contenders behind one small interface, each used the way its own users use it
 * (default options unless named), so that the workloads are the same code for everyone.
 *
 * Every client module is imported lazily, inside `connect`: the memory workload runs one
 * client per fresh process and must not load the others. GLIDE (`@valkey/valkey-glide`, a
 * Rust core with a native binary per platform) is optional: where it does not load, the bench
 * leaves it out with a note (`loadableClients`).
 *
 * Where a client cannot do a workload itself, the adapter does what that client's users do,
 * and says so in `pipelineNote` / `mgetNote` (printed by the bench and kept in its JSON):
 *   - ioredis pipelines must stay on one node ("same slots allocation group"): the keys are
 *     grouped by the node that `cluster.slots` names and one `pipeline()` goes to each node.
 *   - ioredis and node-redis reject MGET across slots: the keys are grouped by slot with the
 *     `cluster-key-slot` package (the one ioredis itself uses) and the per-slot MGETs are
 *     sent together with Promise.all.
 *   - node-redis has no cross-node pipeline: its users send the GETs with Promise.all, which
 *     node-redis writes per node in one batch (it queues commands until the next tick).
 *   - GLIDE needs no emulation: its non-atomic ClusterBatch is routed per key and its mget is
 *     split per slot by the client itself.
 * Results always come back in key order, as the user asked for them.
 */
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { errorText } from "./outcome.mjs";
import { W9_SCRIPT } from "./workloads.mjs";

const require = createRequire(import.meta.url);

/**
 * @typedef {object} BenchClient
 * @property {(key: string) => Promise<unknown>} get
 * @property {(key: string, value: string) => Promise<unknown>} set
 * @property {(keys: readonly string[]) => Promise<unknown[]>} pipelineGet W4: 100 GETs in pipelines
 * @property {(keys: readonly string[]) => Promise<unknown[]>} mget W5: the values of keys across slots
 * @property {(channel: string, message: string) => Promise<unknown>} spublish W10: SPUBLISH
 * @property {(key: string) => Promise<unknown[]>} transaction W8: MULTI, INCR key, EXPIRE key 3600,
 *   EXEC; the replies as `[counter, 1]`
 * @property {(key: string) => Promise<unknown>} script W9: W9_SCRIPT on `key` (EVALSHA, as each
 *   client's own script helper sends it)
 * @property {() => Promise<void>} close graceful close
 * @property {() => Record<string, number>} stats client counters where the client has them (else `{}`)
 */

/**
 * @typedef {object} ClientSpec
 * @property {string} id stable id used in the JSON and on the command line
 * @property {string} label column title
 * @property {string} packageName the npm package measured
 * @property {string} options the options it runs with, as text
 * @property {string} pipelineNote how W4 is done with it
 * @property {string} mgetNote how W5 is done with it
 * @property {(seeds: readonly string[]) => Promise<BenchClient>} connect creates the client and
 *   resolves once it knows the cluster's topology
 * @property {string} subscribeNote how W10 subscribes with it
 * @property {(seeds: readonly string[]) => Promise<ShardedSubscriber>} connectSubscriber W10: a
 *   client set up for sharded Pub/Sub, the way that client's users do it
 * @property {() => Promise<unknown>} [probe] for a client that may not install everywhere (a
 *   native binary): loads its package, and rejects where it does not load
 */

/**
 * @typedef {object} ShardedSubscriber
 * @property {(channels: readonly string[], onMessage: (channel: string, message: string) => void) => Promise<void>} ssubscribe
 *   resolves once every channel is subscribed
 * @property {() => Promise<void>} close
 */

/** The built ESM entry of this package: the bench measures what users install. */
export const REDISCLUSTER_ENTRY = new URL("../dist/esm/index.js", import.meta.url);

/**
 * This package as built (`dist/esm`), with a clear error when it was not built.
 *
 * @returns {Promise<typeof import("../src/index.js")>}
 */
export async function importRediscluster() {
  if (!existsSync(REDISCLUSTER_ENTRY)) {
    throw new Error("dist/esm/index.js is missing: run `npm run build` first (npm run bench does)");
  }
  return import(REDISCLUSTER_ENTRY.href);
}

/** @type {((key: string) => number) | undefined} */
let clusterKeySlot;

/**
 * CRC16 slot of a key, as the ioredis and node-redis emulations compute it: with the
 * `cluster-key-slot` package that ioredis depends on (resolved through ioredis, which is a
 * devDependency, rather than relied on as a hoisted package).
 *
 * @param {string} key
 */
export function slotOf(key) {
  if (clusterKeySlot === undefined) {
    const fromIoredis = createRequire(require.resolve("ioredis"));
    clusterKeySlot = /** @type {(key: string) => number} */ (fromIoredis("cluster-key-slot"));
  }
  return clusterKeySlot(key);
}

/**
 * Groups key positions by a label (slot or node), preserving order within a group.
 *
 * @template T
 * @param {readonly string[]} keys
 * @param {(key: string) => T} labelOf
 * @returns {number[][]} the key positions of each group
 */
export function groupPositions(keys, labelOf) {
  /** @type {Map<T, number[]>} */
  const groups = new Map();
  for (let i = 0; i < keys.length; i++) {
    const label = labelOf(/** @type {string} */ (keys[i]));
    const group = groups.get(label);
    if (group === undefined) groups.set(label, [i]);
    else group.push(i);
  }
  return [...groups.values()];
}

/**
 * Runs one request per group concurrently and writes each group's replies back at their
 * keys' positions: the cross-slot MGET (or cross-node pipeline) that users write by hand.
 *
 * @param {readonly string[]} keys
 * @param {number[][]} groups
 * @param {(groupKeys: string[]) => Promise<readonly unknown[]>} request
 * @returns {Promise<unknown[]>}
 */
export async function scatterGather(keys, groups, request) {
  /** @type {unknown[]} */
  const results = new Array(keys.length);
  await Promise.all(
    groups.map(async (positions) => {
      const replies = await request(positions.map((position) => /** @type {string} */ (keys[position])));
      for (let i = 0; i < positions.length; i++) results[/** @type {number} */ (positions[i])] = replies[i];
    }),
  );
  return results;
}

/**
 * `host:port` → `{ host, port }`.
 *
 * @param {string} address
 */
export function parseAddress(address) {
  const colon = address.lastIndexOf(":");
  const port = Number(address.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port <= 0 || port > 65_535) {
    throw new Error(`not a host:port address: ${address}`);
  }
  return { host: address.slice(0, colon), port };
}

/**
 * rediscluster's stats as flat numbers: the cache's counters (when caching is on) as
 * `cache.hits`, `cache.misses`, ...
 * @param {import("../dist/esm/index.js").ClusterStats} stats
 * @returns {Record<string, number>}
 */
function flatStats(stats) {
  const { cache, ...counters } = stats;
  /** @type {Record<string, number>} */
  const flat = { ...counters };
  if (cache !== undefined) for (const [name, value] of Object.entries(cache)) flat[`cache.${name}`] = value;
  return flat;
}

/** @type {ClientSpec} */
const rediscluster = {
  id: "rediscluster",
  label: "rediscluster",
  packageName: "rediscluster",
  options: "defaults",
  pipelineNote: "cluster.pipeline() with 100 GETs (split per node by the client)",
  mgetNote: "cluster.mget(...100 keys) (split per slot by the client)",
  async connect(seeds) {
    const { RedisCluster } = await importRediscluster();
    const client = new RedisCluster({ nodes: [...seeds] });
    client.on("error", () => {});
    await client.connect();
    const getScript = client.defineScript({ lua: W9_SCRIPT, numberOfKeys: 1 });
    return {
      get: (key) => client.get(key),
      set: (key, value) => client.set(key, value),
      pipelineGet(keys) {
        const pipeline = client.pipeline();
        for (const key of keys) pipeline.get(key);
        return pipeline.exec();
      },
      mget: (keys) => client.mget(/** @type {string} */ (keys[0]), ...keys.slice(1)),
      spublish: (channel, message) => client.spublish(channel, message),
      transaction: (key) =>
        /** @type {Promise<unknown[]>} */ (client.multi().incr(key).expire(key, 3600).exec()),
      script: (key) => getScript(key),
      close: () => client.close(),
      stats: () => flatStats(client.stats()),
    };
  },
  subscribeNote: "cluster.ssubscribe(channels, listener): one subscriber connection per primary",
  async connectSubscriber(seeds) {
    const { RedisCluster } = await importRediscluster();
    const client = new RedisCluster({ nodes: [...seeds] });
    client.on("error", () => {});
    await client.connect();
    return {
      async ssubscribe(channels, onMessage) {
        await client.ssubscribe(channels, (message, channel) => onMessage(channel, message));
      },
      close: () => client.close(),
    };
  },
};

/**
 * ioredis `Cluster`, with or without its auto-pipelining.
 *
 * @param {boolean} enableAutoPipelining
 * @returns {ClientSpec}
 */
function ioredisSpec(enableAutoPipelining) {
  return {
    id: enableAutoPipelining ? "ioredis-auto" : "ioredis",
    label: enableAutoPipelining ? "ioredis auto" : "ioredis",
    packageName: "ioredis",
    options: enableAutoPipelining ? "{ enableAutoPipelining: true }" : "defaults",
    pipelineNote: "one pipeline() per node (keys grouped by cluster.slots), Promise.all",
    mgetNote: "keys grouped by slot (cluster-key-slot), one mget per slot, Promise.all",
    async connect(seeds) {
      const { Cluster } = await import("ioredis");
      const client = new Cluster(
        seeds.map(parseAddress),
        enableAutoPipelining ? { enableAutoPipelining } : {},
      );
      client.on("error", () => {});
      await once(client, "ready");
      client.defineCommand("benchGet", { numberOfKeys: 1, lua: W9_SCRIPT });
      const scripted = /** @type {{ benchGet(key: string): Promise<unknown> }} */ (
        /** @type {unknown} */ (client)
      );
      return {
        get: (key) => client.get(key),
        set: (key, value) => client.set(key, value),
        pipelineGet(keys) {
          const groups = groupPositions(keys, (key) => client.slots[slotOf(key)]?.[0]);
          return scatterGather(keys, groups, async (groupKeys) => {
            const pipeline = client.pipeline();
            for (const key of groupKeys) pipeline.get(key);
            const replies = (await pipeline.exec()) ?? [];
            return replies.map(([error, value]) => {
              if (error) throw error;
              return value;
            });
          });
        },
        mget: (keys) =>
          scatterGather(keys, groupPositions(keys, slotOf), (slotKeys) => client.mget(...slotKeys)),
        spublish: (channel, message) => client.spublish(channel, message),
        async transaction(key) {
          const replies = (await client.multi().incr(key).expire(key, 3600).exec()) ?? [];
          return replies.map(([error, value]) => {
            if (error) throw error;
            return value;
          });
        },
        script: (key) => scripted.benchGet(key),
        async close() {
          await client.quit();
        },
        stats: () => ({}),
      };
    },
    subscribeNote:
      "Cluster({ shardedSubscribers: true }), one ssubscribe per channel (its channels must share a slot), 'smessage' event",
    async connectSubscriber(seeds) {
      const { Cluster } = await import("ioredis");
      const client = new Cluster(seeds.map(parseAddress), {
        shardedSubscribers: true,
        ...(enableAutoPipelining ? { enableAutoPipelining } : {}),
      });
      client.on("error", () => {});
      await once(client, "ready");
      return {
        async ssubscribe(channels, onMessage) {
          client.on("smessage", (channel, message) => onMessage(channel, message));
          await Promise.all(channels.map((channel) => client.ssubscribe(channel)));
        },
        async close() {
          await client.quit();
        },
      };
    },
  };
}

/** @type {ClientSpec} */
const nodeRedis = {
  id: "node-redis",
  label: "node-redis",
  packageName: "redis",
  options: "defaults (createCluster; W9's script given as scripts: { benchGet })",
  pipelineNote: "Promise.all of 100 GETs (node-redis batches each tick's commands per node)",
  mgetNote: "keys grouped by slot (cluster-key-slot), one mGet per slot, Promise.all",
  async connect(seeds) {
    const { createCluster, defineScript } = await import("redis");
    const benchGet = defineScript({
      SCRIPT: W9_SCRIPT,
      NUMBER_OF_KEYS: 1,
      parseCommand(/** @type {{ pushKey(key: string): void }} */ parser, /** @type {string} */ key) {
        parser.pushKey(key);
      },
      transformReply: (/** @type {unknown} */ reply) => reply,
    });
    const client = createCluster({
      rootNodes: seeds.map((address) => ({ url: `redis://${address}` })),
      scripts: { benchGet },
    });
    client.on("error", () => {});
    await client.connect();
    const scripted = /** @type {{ benchGet(key: string): Promise<unknown> }} */ (
      /** @type {unknown} */ (client)
    );
    return {
      get: (key) => client.get(key),
      set: (key, value) => client.set(key, value),
      pipelineGet: (keys) => Promise.all(keys.map((key) => client.get(key))),
      mget: (keys) => scatterGather(keys, groupPositions(keys, slotOf), (slotKeys) => client.mGet(slotKeys)),
      spublish: (channel, message) => client.sPublish(channel, message),
      // node-redis routes a cluster transaction by its first key; EXPIRE answers 1 (RESP2 and 3).
      transaction: async (key) =>
        (await client.multi().incr(key).expire(key, 3600).exec()).map((reply) => Number(reply)),
      script: (key) => scripted.benchGet(key),
      async close() {
        await client.close();
      },
      stats: () => ({}),
    };
  },
  subscribeNote: "cluster.sSubscribe(channel, listener) per channel",
  async connectSubscriber(seeds) {
    const { createCluster } = await import("redis");
    const client = createCluster({ rootNodes: seeds.map((address) => ({ url: `redis://${address}` })) });
    client.on("error", () => {});
    await client.connect();
    return {
      async ssubscribe(channels, onMessage) {
        await Promise.all(
          channels.map((channel) => client.sSubscribe(channel, (message, name) => onMessage(name, message))),
        );
      },
      async close() {
        await client.close();
      },
    };
  },
};

/**
 * GLIDE's concurrency cap is 1,000 requests in flight per client by default (beyond it,
 * commands fail at once with "Reached maximum inflight requests"); W3 keeps 1,024 in flight,
 * so the cap is raised to that: what a GLIDE user running that many requests at once does.
 */
const GLIDE_INFLIGHT_LIMIT = 1_024;

/** @typedef {typeof import("@valkey/valkey-glide")} GlideModule */

/**
 * `@valkey/valkey-glide`, its core's log off: at its default level (warn) it writes expected
 * events into the bench's output (the NOSCRIPT that precedes W9's first SCRIPT LOAD, and even
 * at "error" a subscriber's closing: "Failed to subscribe Sharded channels: Internal client has
 * been dropped"). Failures still reach the bench as rejected commands.
 *
 * @returns {Promise<GlideModule>}
 */
async function importGlide() {
  const glide = await import("@valkey/valkey-glide");
  glide.Logger.setLoggerConfig("off");
  return glide;
}

/**
 * GLIDE's own configuration for the bench's cluster: the seeds, RESP3 (its default protocol,
 * named so that the JSON says which), string replies (its default decoder) and W3's cap.
 *
 * @param {GlideModule} glide
 * @param {readonly string[]} seeds
 * @returns {import("@valkey/valkey-glide").GlideClusterClientConfiguration}
 */
function glideConfiguration(glide, seeds) {
  return {
    addresses: seeds.map(parseAddress),
    protocol: glide.ProtocolVersion.RESP3,
    inflightRequestsLimit: GLIDE_INFLIGHT_LIMIT,
  };
}

/**
 * A reply as text: GLIDE's default decoder answers strings, but a GlideString may also be a
 * Buffer.
 *
 * @param {unknown} value
 */
const glideText = (value) => (Buffer.isBuffer(value) ? value.toString() : value);

/** How often a fresh GLIDE subscriber's state is read while its subscriptions are set up. */
const GLIDE_SUBSCRIBE_POLL_MS = 5;
/** How long a fresh GLIDE subscriber may take to have every channel subscribed. */
const GLIDE_SUBSCRIBE_TIMEOUT_MS = 10_000;

/**
 * Valkey GLIDE's cluster client (`GlideClusterClient`, Rust core behind a Node binding),
 * each workload done with GLIDE's own API: its non-atomic `ClusterBatch` pipelines across
 * nodes, its `mget` splits across slots, `Script` + `invokeScript` for W9; W10's
 * subscriptions are part of the subscriber's configuration, as GLIDE's docs set them up.
 *
 * @type {ClientSpec}
 */
const glideSpec = {
  id: "glide",
  label: "GLIDE",
  packageName: "@valkey/valkey-glide",
  options: `GlideClusterClient.createClient: defaults (RESP3, its default; string decoder) + { inflightRequestsLimit: ${GLIDE_INFLIGHT_LIMIT} } (default 1,000, below W3's 1,024 in flight)`,
  pipelineNote:
    "new ClusterBatch(false) with 100 GETs, client.exec(batch, true) (split per node by the client)",
  mgetNote: "client.mget(100 keys) (split per slot by the client)",
  probe: () => importGlide(),
  async connect(seeds) {
    const glide = await importGlide();
    const client = await glide.GlideClusterClient.createClient(glideConfiguration(glide, seeds));
    const getScript = new glide.Script(W9_SCRIPT);
    return {
      get: (key) => client.get(key),
      set: (key, value) => client.set(key, value),
      async pipelineGet(keys) {
        const batch = new glide.ClusterBatch(false);
        for (const key of keys) batch.get(key);
        return (await client.exec(batch, true)) ?? [];
      },
      mget: (keys) => client.mget([...keys]),
      spublish: (channel, message) => client.publish(message, channel, true),
      // GLIDE answers EXPIRE with a boolean, in a batch too; the bench compares EXPIRE's 1.
      async transaction(key) {
        const batch = new glide.ClusterBatch(true).incr(key).expire(key, 3600);
        const replies = await client.exec(batch, true);
        return replies === null
          ? []
          : replies.map((reply) => (typeof reply === "boolean" ? Number(reply) : reply));
      },
      script: (key) => client.invokeScript(getScript, { keys: [key] }),
      async close() {
        client.close();
        getScript.release();
      },
      stats: () => ({}),
    };
  },
  subscribeNote:
    "a client created with pubsubSubscriptions { Sharded: channels, callback } (GLIDE subscribes at connection, per shard); ready once getSubscriptions() shows them all",
  async connectSubscriber(seeds) {
    const glide = await importGlide();
    /** @type {import("@valkey/valkey-glide").GlideClusterClient | undefined} */
    let client;
    return {
      async ssubscribe(channels, onMessage) {
        const sharded = glide.GlideClusterClientConfiguration.PubSubChannelModes.Sharded;
        client = await glide.GlideClusterClient.createClient({
          ...glideConfiguration(glide, seeds),
          pubsubSubscriptions: {
            channelsAndPatterns: { [sharded]: new Set(channels) },
            callback: (message) =>
              onMessage(String(glideText(message.channel)), String(glideText(message.message))),
          },
        });
        // createClient may resolve before every shard has confirmed; its state says when it has.
        const deadline = performance.now() + GLIDE_SUBSCRIBE_TIMEOUT_MS;
        for (;;) {
          const actual = (await client.getSubscriptions()).actualSubscriptions[sharded];
          const missing = channels.filter((channel) => actual?.has(channel) !== true).length;
          if (missing === 0) return;
          if (performance.now() > deadline) {
            throw new Error(
              `GLIDE: ${missing} channels still not subscribed after ${GLIDE_SUBSCRIBE_TIMEOUT_MS} ms`,
            );
          }
          await new Promise((resolve) => setTimeout(resolve, GLIDE_SUBSCRIBE_POLL_MS));
        }
      },
      async close() {
        client?.close();
      },
    };
  },
};

/**
 * Every contender, rediscluster first (the ratios are rediscluster ÷ each other client).
 * GLIDE is in the list whether or not it loads here (`--clients glide` is always valid);
 * `loadableClients` leaves it out of a run where its native core does not load.
 */
export const CLIENTS = [rediscluster, ioredisSpec(false), ioredisSpec(true), nodeRedis, glideSpec];

/**
 * The clients of a run that load on this machine, and a one-line note for each one left out
 * (a client with a `probe` whose package does not load: GLIDE without its native binary).
 *
 * @param {readonly ClientSpec[]} specs
 * @returns {Promise<{ clients: ClientSpec[], leftOut: Array<{ id: string, label: string, note: string }> }>}
 */
export async function loadableClients(specs) {
  /** @type {ClientSpec[]} */
  const clients = [];
  /** @type {Array<{ id: string, label: string, note: string }>} */
  const leftOut = [];
  for (const spec of specs) {
    try {
      await spec.probe?.();
      clients.push(spec);
    } catch (error) {
      leftOut.push({
        id: spec.id,
        label: spec.label,
        note: `${spec.label} left out: ${spec.packageName} does not load here (${errorText(error)})`,
      });
    }
  }
  return { clients, leftOut };
}

/**
 * The installed version of a package, read from its package.json.
 *
 * @param {string} packageName
 * @returns {string}
 */
export function installedVersion(packageName) {
  if (packageName === "rediscluster") {
    return /** @type {{ version: string }} */ (require("../package.json")).version;
  }
  try {
    return /** @type {{ version: string }} */ (require(`${packageName}/package.json`)).version;
  } catch {
    // A package whose `exports` hide its package.json (GLIDE's): found above its entry point.
    try {
      for (let dir = dirname(require.resolve(packageName)); dir !== dirname(dir); dir = dirname(dir)) {
        const manifest = join(dir, "package.json");
        if (!existsSync(manifest)) continue;
        const { name, version } = JSON.parse(readFileSync(manifest, "utf8"));
        if (name === packageName) return version;
      }
    } catch {
      // Not resolvable or not readable: the version stays unknown.
    }
    return "unknown";
  }
}
