// @ts-check
/**
 * One process of the fleet (bench/fleet.mjs forks a few): N client instances of one
 * library, each sending a light load, and a watcher that tells the parent when each client
 * routes a given slot to a given node. Messages over the IPC channel:
 *
 *   parent → child  { type: "start", library, seeds, clients, intervalMs }
 *   child → parent  { type: "ready", connectMs: number[] }             every client connected
 *   parent → child  { type: "watch", id, slots, address }               routes of an event
 *   child → parent  { type: "routed", id, at: number[], unrouted }      epoch ms per client
 *   parent → child  { type: "stop" }
 *   child → parent  { type: "stopped", commands, errors, rssBytes }     then the child exits
 *
 * Times crossing processes are epoch milliseconds (performance.timeOrigin + now()).
 */
import { once } from "node:events";
import { REDISCLUSTER_ENTRY } from "./clients.mjs";

/** Keys of the load: spread over every slot by CRC16 (no hash tags). */
const KEYS = 1000;
/** How often a watch looks at every client's table. */
const WATCH_POLL_MS = 20;
/** A watch gives up on clients that still route wrong after this long. */
const WATCH_TIMEOUT_MS = 30_000;

/**
 * @typedef {object} FleetClient
 * @property {(key: string) => Promise<unknown>} get
 * @property {(key: string, value: string) => Promise<unknown>} set
 * @property {(slot: number) => string | undefined} primaryOf address of the slot's primary in its table
 * @property {() => Promise<void>} close
 */

const now = () => performance.timeOrigin + performance.now();

/** @param {string} seed */
function hostPort(seed) {
  const at = seed.lastIndexOf(":");
  return { host: seed.slice(0, at), port: Number(seed.slice(at + 1)) };
}

/** @param {string} library */
async function loadLibrary(library) {
  if (library === "rediscluster") await import(REDISCLUSTER_ENTRY.href);
  else await import(library);
}

/**
 * @param {string} library
 * @param {string[]} seeds
 * @returns {Promise<FleetClient>}
 */
async function connect(library, seeds) {
  if (library === "rediscluster") {
    /** @type {typeof import("../src/index.js")} */
    const { RedisCluster } = await import(REDISCLUSTER_ENTRY.href);
    const client = new RedisCluster({ nodes: seeds });
    client.on("error", () => {});
    await client.connect();
    return {
      get: (key) => client.get(key),
      set: (key, value) => client.set(key, value),
      primaryOf: (slot) => client.topology?.shardOf(slot)?.primary.address,
      close: () => client.close(),
    };
  }
  if (library === "ioredis") {
    const { Cluster } = await import("ioredis");
    const client = new Cluster(seeds.map(hostPort));
    client.on("error", () => {});
    await once(client, "ready");
    return {
      get: (key) => client.get(key),
      set: (key, value) => client.set(key, value),
      // ioredis keeps, per slot, the keys ("host:port") of its nodes, the primary first.
      primaryOf: (slot) => client.slots[slot]?.[0],
      close: async () => {
        await client.quit();
      },
    };
  }
  throw new Error(`unknown library ${library}`);
}

// The parent gone (killed, Ctrl-C): nobody will say stop, and the cluster is gone too.
process.on("disconnect", () => process.exit(1));

/** @type {FleetClient[]} */
let clients = [];
let stopping = false;
let commands = 0;
/** @type {Record<string, number>} */
const errors = {};
/** @type {Promise<void>[]} */
const loops = [];

/**
 * One client's load: a GET or SET of a random key every `intervalMs` (jittered), one at a time.
 *
 * @param {FleetClient} client
 * @param {number} intervalMs
 */
async function load(client, intervalMs) {
  let n = 0;
  while (!stopping) {
    await new Promise((resolve) => setTimeout(resolve, intervalMs * (0.5 + Math.random())));
    if (stopping) break;
    const key = `fleet:${Math.floor(Math.random() * KEYS)}`;
    commands++;
    try {
      await (n++ % 2 === 0 ? client.set(key, "v") : client.get(key));
    } catch (error) {
      const name = error instanceof Error ? `${error.name}: ${error.message.slice(0, 80)}` : String(error);
      errors[name] = (errors[name] ?? 0) + 1;
    }
  }
}

/**
 * Polls every client's table until each routes every slot of `slots` to `address`.
 *
 * @param {number} id
 * @param {number[]} slots
 * @param {string} address
 */
async function watch(id, slots, address) {
  /** @type {Array<number | null>} */
  const at = clients.map(() => null);
  const deadline = now() + WATCH_TIMEOUT_MS;
  for (;;) {
    const t = now();
    clients.forEach((client, index) => {
      if (at[index] === null && slots.every((slot) => client.primaryOf(slot) === address)) at[index] = t;
    });
    if (at.every((value) => value !== null) || t > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, WATCH_POLL_MS));
  }
  process.send?.({
    type: "routed",
    id,
    at: at.filter((value) => value !== null),
    unrouted: at.filter((value) => value === null).length,
  });
}

process.on("message", async (/** @type {any} */ message) => {
  if (message.type === "start") {
    await loadLibrary(message.library); // not part of the clients' connect time
    // All at once, as a fleet restarted by a deploy does: the herd the refresh design must absorb.
    const startedAt = now();
    /** @type {number[]} */
    const connectMs = [];
    clients = await Promise.all(
      Array.from({ length: message.clients }, async () => {
        const client = await connect(message.library, message.seeds);
        connectMs.push(now() - startedAt);
        return client;
      }),
    );
    for (const client of clients) loops.push(load(client, message.intervalMs));
    process.send?.({ type: "ready", connectMs });
  } else if (message.type === "watch") {
    void watch(message.id, message.slots, message.address);
  } else if (message.type === "stop") {
    stopping = true;
    const rssBytes = process.memoryUsage().rss; // with every client connected and loaded
    await Promise.all(loops);
    await Promise.all(clients.map((client) => client.close()));
    clients = [];
    process.send?.({ type: "stopped", commands, errors, rssBytes }, () => process.exit(0));
  }
});
