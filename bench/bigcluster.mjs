// @ts-check
/**
 * `npm run bigcluster`: what a bigger cluster costs the client (issue 14, item 3), at 3, 10
 * and 30 shards (one replica each: 6, 20 and 60 redis-server processes on this machine):
 *
 *   - dev cluster start-up (src/dev copes with 60 nodes: ports, gossip, health);
 *   - cold start: a new client's time to its first command (topology included), median of 5;
 *   - refresh cost: one node's CLUSTER SHARDS reply (bytes), the time to decode it
 *     (RespDecoder), parse it (parseClusterShards) and build the table (Topology), the
 *     server's own time per call (INFO commandstats), and the heap a topology holds per node;
 *   - connections per client: after a command on every primary (DBSIZE fans out), counted
 *     server-side (CLIENT LIST, by client name), reading from primaries and from replicas;
 *   - a reshard across all primaries (each gives 64 slots with their keys to the next one)
 *     under load: how long it takes, what the client saw (MOVED, ASK, refreshes, errors) and
 *     the topology requests the servers served meanwhile.
 *
 * Results: a table on stdout, bench/results/bigcluster.json and bigcluster.md (a --quick
 * run writes them to the system's temporary folder).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { REDISCLUSTER_ENTRY } from "./clients.mjs";
import { describeMachine, redisVersionFromInfo } from "./machine.mjs";
import { parseTopologyCalls, quantile, sumCalls, topologyRequests } from "./topology-stats.mjs";

/**
 * @typedef {import("../src/dev/index.js").DevNode} DevNode
 * @typedef {import("../src/index.js").RedisCluster} RedisCluster
 */

const RESULTS_DIR = fileURLToPath(new URL("results/", import.meta.url));
const dist = (/** @type {string} */ path) => new URL(`../dist/esm/${path}`, import.meta.url).href;

/** Keys written before the reshard, spread over every slot. */
const KEYS = 10_000;
/** Slots each primary hands to the next one in the reshard. */
const SLOTS_PER_PRIMARY = 64;
const LOAD_WORKERS = 32;
const COLD_STARTS = 5;
/** Calls per timed batch of the refresh-cost measurements. */
const PARSE_BATCH = 200;
/** Topologies kept alive to weigh one. */
const TOPOLOGIES_WEIGHED = 500;
const MB = 2 ** 20;

const sleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A hash tag per slot: the key `{tag}:x` lands in that slot.
 *
 * @param {(key: string) => number} keySlot
 * @returns {string[]}
 */
function tagsBySlot(keySlot) {
  /** @type {string[]} */
  const tags = new Array(16_384);
  let found = 0;
  for (let n = 0; found < 16_384; n++) {
    const tag = `t${n}`;
    const slot = keySlot(tag);
    if (tags[slot] === undefined) {
      tags[slot] = tag;
      found++;
    }
  }
  return tags;
}

/**
 * @param {string[]} argv
 */
export function parseBigClusterOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: { shards: { type: "string" }, quick: { type: "boolean" }, json: { type: "string" } },
  });
  const quick = values.quick ?? false;
  const shards = (values.shards ?? (quick ? "3,10" : "3,10,30")).split(",").map(Number);
  if (shards.some((n) => !Number.isInteger(n) || n < 3))
    throw new Error("--shards: integers ≥ 3, e.g. 3,10,30");
  const jsonPath =
    values.json ??
    (quick ? join(tmpdir(), "rediscluster-bigcluster.json") : join(RESULTS_DIR, "bigcluster.json"));
  return { shards, quick, jsonPath, mdPath: jsonPath.replace(/(\.json)?$/i, ".md") };
}

/**
 * One CLUSTER SHARDS reply exactly as a node sends it (RESP2 bytes).
 *
 * @param {number} port
 * @returns {Promise<Buffer>}
 */
async function captureClusterShards(port) {
  /** @type {typeof import("../src/resp/index.js")} */
  const { RespDecoder } = await import(dist("resp/index.js"));
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: "127.0.0.1", port });
    /** @type {Buffer[]} */
    const chunks = [];
    const decoder = new RespDecoder({
      wantsBuffers: () => false,
      onReply: () => {
        socket.destroy();
        resolve(Buffer.concat(chunks));
      },
      onPush: () => {},
    });
    socket.on("data", (chunk) => {
      chunks.push(chunk);
      decoder.feed(chunk);
    });
    socket.on("error", reject);
    socket.write("*2\r\n$7\r\nCLUSTER\r\n$6\r\nSHARDS\r\n");
  });
}

/**
 * Time of one call of `fn`, in microseconds: the median over 25 batches of `batch` calls
 * (a batch is timed whole, so the clock's resolution and overhead do not count), after
 * a warm-up batch that lets the JIT compile it.
 *
 * @param {number} batch
 * @param {() => unknown} fn
 */
function medianMicros(batch, fn) {
  for (let i = 0; i < batch; i++) fn();
  /** @type {number[]} */
  const perCall = [];
  for (let round = 0; round < 25; round++) {
    const startedAt = performance.now();
    for (let i = 0; i < batch; i++) fn();
    perCall.push(((performance.now() - startedAt) * 1000) / batch);
  }
  return Number((quantile(perCall, 0.5) ?? 0).toFixed(1));
}

/**
 * `usec_per_call` of one command in an INFO commandstats reply.
 *
 * @param {string} info
 * @param {string} name e.g. "cluster|shards"
 */
export function usecPerCall(info, name) {
  const escaped = name.replace("|", "\\|");
  const match = new RegExp(`^cmdstat_${escaped}:.*usec_per_call=([\\d.]+)`, "m").exec(info);
  return match ? Number(match[1]) : undefined;
}

/** VmRSS of a process in bytes (0 if it is gone). @param {number | undefined} pid */
function rssOf(pid) {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * @typedef {object} ShardCount
 * @property {number} shards
 * @property {number} nodes
 * @property {number} devStartMs
 * @property {number} clusterRssMb all redis-server processes together, idle
 * @property {number} coldStartMs median time from `new RedisCluster` to the first reply
 * @property {number} coldStartTopologyRequests per new client, at the servers
 * @property {{ replyBytes: number, decodeUs: number, parseUs: number, tableUs: number, serverUsPerCall: number | undefined, heapBytesPerNode: number }} refresh
 * @property {{ primary: number, replica: number }} connectionsPerClient
 * @property {{ slotsMoved: number, keysMoved: number, durationMs: number, commands: number, errors: Record<string, number>, moved: number, ask: number, refreshes: number, topologyRequests: number, routesRight: boolean }} reshard
 */

/**
 * Everything for one cluster size.
 *
 * @param {number} shards
 * @returns {Promise<{ result: ShardCount, redisVersion: string, reply: Buffer }>}
 */
async function measure(shards) {
  /** @type {typeof import("../src/dev/index.js")} */
  const devModule = await import(dist("dev/index.js"));
  /** @type {typeof import("../src/dev/admin.js")} */
  const { AdminPool } = await import(dist("dev/admin.js"));
  /** @type {typeof import("../src/dev/migration.js")} */
  const migration = await import(dist("dev/migration.js"));
  /** @type {typeof import("../src/index.js")} */
  const { RedisCluster, keySlot } = await import(REDISCLUSTER_ENTRY.href);
  const tags = tagsBySlot(keySlot);
  const keyInSlot = (/** @type {number} */ slot, /** @type {string} */ suffix) => `{${tags[slot]}}:${suffix}`;

  const startedAt = performance.now();
  const dev = await devModule.startDevCluster({
    primaries: shards,
    replicasPerPrimary: 1,
    // Idle servers stay small; a maxmemory bounds what a bug could make them hold.
    extraConfig: ["maxmemory 64mb"],
    startTimeoutMs: 120_000,
  });
  const devStartMs = Math.round(performance.now() - startedAt);
  const admin = new AdminPool(120_000, { host: "127.0.0.1" });
  /** @type {RedisCluster[]} */
  const open = [];
  try {
    const nodes = await dev.refresh();
    const primaries = nodes.filter((node) => node.role === "primary");
    const redisVersion = redisVersionFromInfo(
      String(await admin.call(nodes[0]?.port ?? 0, ["INFO", "server"])),
    );
    const readCalls = async () =>
      sumCalls(
        await Promise.all(
          nodes.map(async (node) =>
            parseTopologyCalls(String(await admin.call(node.port, ["INFO", "commandstats"]))),
          ),
        ),
      );
    const clusterRssMb = Number((nodes.reduce((sum, node) => sum + rssOf(node.pid), 0) / MB).toFixed(1));

    // Cold start: new client → first reply.
    const callsBeforeStarts = topologyRequests(await readCalls());
    /** @type {number[]} */
    const coldStarts = [];
    // The first one is not counted: it warms up the code paths (its requests are counted).
    for (let i = -1; i < COLD_STARTS; i++) {
      const t0 = performance.now();
      const client = new RedisCluster({ nodes: dev.seeds });
      await client.get("bigcluster:cold");
      if (i >= 0) coldStarts.push(performance.now() - t0);
      await client.close();
    }
    const coldStartTopologyRequests =
      (topologyRequests(await readCalls()) - callsBeforeStarts) / (COLD_STARTS + 1);

    // Refresh cost: a reply captured from one node (timed later, with no cluster running).
    const reply = await captureClusterShards(primaries[0]?.port ?? 0);
    const serverUsPerCall = usecPerCall(
      String(await admin.call(primaries[0]?.port ?? 0, ["INFO", "commandstats"])),
      "cluster|shards",
    );

    // Connections per client, counted by the servers.
    /** @param {string} name */
    const connectionsNamed = async (name) => {
      const lists = await Promise.all(nodes.map((node) => admin.call(node.port, ["CLIENT", "LIST"])));
      let count = 0;
      for (const list of lists) count += String(list).match(new RegExp(`name=${name} `, "g"))?.length ?? 0;
      return count;
    };
    /** @type {{ primary: number, replica: number }} */
    const connectionsPerClient = { primary: 0, replica: 0 };
    for (const readFrom of /** @type {const} */ (["primary", "replica"])) {
      const name = `bigcluster-${readFrom}`;
      const client = new RedisCluster({ nodes: dev.seeds, readFrom, clientName: name });
      open.push(client);
      await client.dbsize();
      // A read on every shard, so that replicas get their connections too.
      await Promise.all(
        primaries.map((primary) => client.get(keyInSlot(primary.slots[0]?.[0] ?? 0, "read"))),
      );
      connectionsPerClient[readFrom] = await connectionsNamed(name);
      await client.close();
      open.pop();
    }

    // A reshard across every primary, under load.
    const client = new RedisCluster({ nodes: dev.seeds });
    open.push(client);
    client.on("error", () => {});
    let moved = 0;
    let ask = 0;
    client.on("moved", () => moved++);
    client.on("ask", () => ask++);
    for (let start = 0; start < KEYS; start += 1000) {
      const pairs = [];
      for (let i = start; i < Math.min(KEYS, start + 1000); i++) pairs.push(`bigcluster:${i}`, `v${i}`);
      await client.mset(...pairs);
    }
    const refreshesBefore = client.stats().refreshes;
    const callsBeforeReshard = topologyRequests(await readCalls());
    let stopping = false;
    let commands = 0;
    /** @type {Record<string, number>} */
    const errors = {};
    const load = Promise.all(
      Array.from({ length: LOAD_WORKERS }, async (_, worker) => {
        for (let n = worker; !stopping; n += LOAD_WORKERS) {
          const key = `bigcluster:${(n * 7919) % KEYS}`;
          commands++;
          try {
            if (n % 2 === 0) await client.set(key, `w${n}`);
            else await client.get(key);
          } catch (error) {
            const name =
              error instanceof Error ? `${error.name}: ${error.message.slice(0, 80)}` : String(error);
            errors[name] = (errors[name] ?? 0) + 1;
          }
        }
      }),
    );
    const reshardStartedAt = performance.now();
    let keysMoved = 0;
    /** @type {Array<{ slots: number[], to: DevNode }>} */
    const plan = [];
    for (let i = 0; i < primaries.length; i++) {
      const source = /** @type {DevNode} */ (primaries[i]);
      const target = /** @type {DevNode} */ (primaries[(i + 1) % primaries.length]);
      const first = source.slots[0]?.[0] ?? 0;
      const slots = Array.from({ length: SLOTS_PER_PRIMARY }, (_, k) => first + k);
      const sourceEnd = { port: source.port, id: source.id };
      const targetEnd = { port: target.port, id: target.id };
      await migration.openSlotMigration(admin, sourceEnd, targetEnd, slots);
      keysMoved += await migration.moveSlotKeys(admin, source.port, target.port, slots);
      const others = primaries.filter((node) => node !== source && node !== target).map((node) => node.port);
      await migration.assignSlots(admin, slots, targetEnd, source.port, others);
      plan.push({ slots, to: target });
    }
    const durationMs = Math.round(performance.now() - reshardStartedAt);
    await sleep(1000); // the load goes on a little after the last move
    stopping = true;
    await load;
    const topologyAfter = topologyRequests(await readCalls());
    // Every moved slot: the client's table names its new owner (after the load touched them, or a refresh).
    await dev.waitForHealthy();
    await Promise.all(plan.flatMap(({ slots }) => slots.map((slot) => client.get(keyInSlot(slot, "probe")))));
    const routesRight = plan.every(({ slots, to }) =>
      slots.every((slot) => client.topology?.shardOf(slot)?.primary.address === to.address),
    );
    const result = {
      shards,
      nodes: nodes.length,
      devStartMs,
      clusterRssMb,
      coldStartMs: Math.round(quantile(coldStarts, 0.5) ?? 0),
      coldStartTopologyRequests,
      refresh: {
        replyBytes: reply.length,
        decodeUs: 0,
        parseUs: 0,
        tableUs: 0,
        serverUsPerCall,
        heapBytesPerNode: 0,
      },
      connectionsPerClient,
      reshard: {
        slotsMoved: plan.length * SLOTS_PER_PRIMARY,
        keysMoved,
        durationMs,
        commands,
        errors,
        moved,
        ask,
        refreshes: client.stats().refreshes - refreshesBefore,
        topologyRequests: topologyAfter - callsBeforeReshard,
        routesRight,
      },
    };
    return { result, redisVersion, reply };
  } finally {
    await Promise.all(open.map((client) => client.close().catch(() => undefined)));
    admin.closeAll();
    await dev.stop();
  }
}

/**
 * The client's cost of one CLUSTER SHARDS reply: decode, parse, build the table (µs per
 * call), and the heap one topology holds per node. Run once every cluster is stopped, the
 * sizes interleaved over rounds (median of the rounds), so that a busy moment of the
 * machine does not fall on one size only.
 *
 * @param {Buffer[]} replies one per cluster size
 * @param {number} rounds
 */
async function refreshCosts(replies, rounds) {
  /** @type {typeof import("../src/resp/index.js")} */
  const { RespDecoder } = await import(dist("resp/index.js"));
  /** @type {typeof import("../src/cluster/topology-parse.js")} */
  const { parseClusterShards } = await import(dist("cluster/topology-parse.js"));
  /** @type {typeof import("../src/cluster/topology.js")} */
  const { Topology } = await import(dist("cluster/topology.js"));
  const context = {
    replierHost: "127.0.0.1",
    mapAddress: (/** @type {string} */ host, /** @type {number} */ port) => ({ host, port }),
    tls: false,
  };
  const subjects = replies.map((reply) => {
    const decode = () => {
      /** @type {unknown} */
      let value;
      new RespDecoder({ wantsBuffers: () => false, onReply: (v) => (value = v), onPush: () => {} }).feed(
        reply,
      );
      return /** @type {import("../src/resp/types.js").RespValue} */ (value);
    };
    const decoded = decode();
    const parsed = parseClusterShards(decoded, context);
    return {
      decode,
      parse: () => parseClusterShards(decoded, context),
      table: () => new Topology(parsed),
      nodes: new Topology(parsed).nodes.size,
      samples: {
        decodeUs: /** @type {number[]} */ ([]),
        parseUs: /** @type {number[]} */ ([]),
        tableUs: /** @type {number[]} */ ([]),
      },
      heapBytesPerNode: 0,
    };
  });
  for (let round = 0; round < rounds; round++) {
    for (const subject of subjects) {
      subject.samples.decodeUs.push(medianMicros(PARSE_BATCH, subject.decode));
      subject.samples.parseUs.push(medianMicros(PARSE_BATCH, subject.parse));
      subject.samples.tableUs.push(medianMicros(PARSE_BATCH, subject.table));
    }
  }
  for (const subject of subjects) {
    globalThis.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    const kept = Array.from(
      { length: TOPOLOGIES_WEIGHED },
      () => new Topology(parseClusterShards(subject.decode(), context)),
    );
    globalThis.gc?.();
    subject.heapBytesPerNode = Math.round(
      (process.memoryUsage().heapUsed - heapBefore) / kept.length / subject.nodes,
    );
    kept.length = 0;
  }
  return subjects.map((subject) => ({
    decodeUs: quantile(subject.samples.decodeUs, 0.5) ?? 0,
    parseUs: quantile(subject.samples.parseUs, 0.5) ?? 0,
    tableUs: quantile(subject.samples.tableUs, 0.5) ?? 0,
    heapBytesPerNode: subject.heapBytesPerNode,
  }));
}

/**
 * The Markdown table: one column per cluster size.
 *
 * @param {ShardCount[]} results
 */
export function formatTable(results) {
  /** @type {Array<[string, (r: ShardCount) => string]>} */
  const rows = [
    ["nodes (primaries + replicas)", (r) => `${r.nodes}`],
    ["dev cluster start", (r) => `${(r.devStartMs / 1000).toFixed(1)} s`],
    ["redis-server RSS, all nodes, idle", (r) => `${r.clusterRssMb} MB`],
    ["cold start: new client → first reply (median)", (r) => `${r.coldStartMs} ms`],
    ["  topology requests per cold start", (r) => `${r.coldStartTopologyRequests}`],
    ["CLUSTER SHARDS reply", (r) => `${(r.refresh.replyBytes / 1024).toFixed(1)} KiB`],
    ["  decode (RespDecoder)", (r) => `${r.refresh.decodeUs} µs`],
    ["  parse (parseClusterShards)", (r) => `${r.refresh.parseUs} µs`],
    ["  build the table (Topology)", (r) => `${r.refresh.tableUs} µs`],
    [
      "  server time per call",
      (r) => (r.refresh.serverUsPerCall === undefined ? "-" : `${r.refresh.serverUsPerCall} µs`),
    ],
    ["  client heap per node of a topology", (r) => `${(r.refresh.heapBytesPerNode / 1024).toFixed(2)} KiB`],
    ["connections per client, readFrom primary", (r) => `${r.connectionsPerClient.primary}`],
    ["connections per client, readFrom replica", (r) => `${r.connectionsPerClient.replica}`],
    ["reshard: slots (keys) moved", (r) => `${r.reshard.slotsMoved} (${r.reshard.keysMoved})`],
    ["  duration", (r) => `${(r.reshard.durationMs / 1000).toFixed(1)} s`],
    [
      "  client commands / errors",
      (r) => `${r.reshard.commands} / ${Object.values(r.reshard.errors).reduce((a, b) => a + b, 0)}`,
    ],
    ["  MOVED / ASK seen", (r) => `${r.reshard.moved} / ${r.reshard.ask}`],
    ["  client refreshes", (r) => `${r.reshard.refreshes}`],
    ["  topology requests at the servers", (r) => `${r.reshard.topologyRequests}`],
    ["  client's table right afterwards", (r) => (r.reshard.routesRight ? "yes" : "NO")],
  ];
  const header = `| | ${results.map((r) => `${r.shards} shards`).join(" | ")} |`;
  const rule = `| --- | ${results.map(() => "---").join(" | ")} |`;
  return [
    header,
    rule,
    ...rows.map(([label, cell]) => `| ${label} | ${results.map(cell).join(" | ")} |`),
  ].join("\n");
}

async function main() {
  const settings = parseBigClusterOptions(process.argv.slice(2));
  const startedAt = new Date().toISOString();
  /** @type {ShardCount[]} */
  const results = [];
  let redisVersion = "unknown";
  /** @type {Buffer[]} */
  const replies = [];
  for (const shards of settings.shards) {
    process.stderr.write(`bigcluster: ${shards} primaries + ${shards} replicas…\n`);
    const measured = await measure(shards);
    results.push(measured.result);
    replies.push(measured.reply);
    redisVersion = measured.redisVersion;
  }
  process.stderr.write("bigcluster: the client's cost of a CLUSTER SHARDS reply…\n");
  const costs = await refreshCosts(replies, settings.quick ? 3 : 9);
  for (const [i, result] of results.entries()) Object.assign(result.refresh, costs[i]);
  const machine = describeMachine(redisVersion);
  const table = formatTable(results);
  process.stdout.write(`\n${table}\n\n`);
  mkdirSync(dirname(settings.jsonPath), { recursive: true });
  writeFileSync(settings.jsonPath, `${JSON.stringify({ startedAt, machine, results }, null, 2)}\n`);
  const md = [
    "# Cluster size: what 3, 10 and 30 shards cost the client",
    "",
    "Written by `npm run bigcluster` (bench/bigcluster.mjs); every figure is from one run on the",
    "machine below, the client and every redis-server sharing its cores. The JSON next to this",
    "file has the same figures.",
    "",
    table,
    "",
    `rediscluster ${machine.clients.rediscluster ?? "?"} · commit ${machine.commit} · Node ${machine.node} · Redis ${machine.redisServer} · ${machine.cpuModel} × ${machine.cores} · ${startedAt.slice(0, 10)}`,
    "",
  ].join("\n");
  writeFileSync(settings.mdPath, md);
  const shown = (/** @type {string} */ path) =>
    path.startsWith(process.cwd()) ? relative(process.cwd(), path) : path;
  process.stdout.write(`results: ${shown(settings.jsonPath)}, table: ${shown(settings.mdPath)}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
