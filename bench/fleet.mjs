// @ts-check
/**
 * `npm run fleet`: a fleet of client instances against one cluster through a failover and
 * a reshard, and what that costs the servers in topology requests (issue 14, item 2).
 *
 *   fresh dev cluster (3+3) ─► INFO commandstats of every node, every second (and at events)
 *     ─► N client instances over P child processes (bench/fleet-child.mjs), all at once,
 *        each sending a light load (one GET or SET every ~100 ms)
 *     ─► CLUSTER FAILOVER of one replica ─► every client routes its slots to the new primary?
 *     ─► reshard: slots (with keys) moved between two other primaries ─► every client routes right?
 *     ─► stop; the same again for the next library (ioredis), on a fresh cluster
 *     ─► table on stdout, JSON + SVG (topology requests per second) on disk
 *
 * The script itself sends no topology command while it measures: it reads INFO, runs the
 * failover with CLUSTER FAILOVER and ROLE, and moves slots with SETSLOT / GETKEYSINSLOT /
 * MIGRATE (src/dev/migration.ts), so every `cluster|shards`, `cluster|slots` and
 * `cluster|nodes` the servers count is a client's.
 */
import { fork } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { renderLineChart } from "./line-chart.mjs";
import { describeMachine, redisVersionFromInfo } from "./machine.mjs";
import {
  intervals,
  parseTopologyCalls,
  perSecondBins,
  quantile,
  requestsBetween,
  sumCalls,
} from "./topology-stats.mjs";

/**
 * @typedef {import("./topology-stats.mjs").Reading} Reading
 * @typedef {import("./topology-stats.mjs").Interval} Interval
 * @typedef {import("../src/dev/index.js").DevCluster} DevCluster
 * @typedef {import("../src/dev/index.js").DevNode} DevNode
 * @typedef {import("../src/dev/admin.js").AdminPool} AdminPool
 */

const RESULTS_DIR = fileURLToPath(new URL("results/", import.meta.url));
const LIBRARIES = ["rediscluster", "ioredis"];

export const USAGE = `npm run fleet -- [options]

  --clients <n>        client instances in all (default 200)
  --processes <n>      child processes they are spread over (default 4)
  --libraries <list>   ${LIBRARIES.join(",")} (default both)
  --reshard-slots <n>  slots moved by the reshard (default 1000)
  --interval <ms>      each client's mean time between two commands (default 100)
  --quick              short phases (3 s instead of 10 s); e.g. --clients 20 --quick
  --json <file>        where the results go (the chart next to it, .svg)

Without --json, a full run writes bench/results/fleet.json and fleet.svg; --quick writes to
the system's temporary folder instead.`;

/**
 * @typedef {object} FleetSettings
 * @property {number} clients
 * @property {number} processes
 * @property {string[]} libraries
 * @property {number} reshardSlots
 * @property {number} intervalMs
 * @property {boolean} quick
 * @property {number} phaseMs time given to each phase (start, failover, reshard)
 * @property {string} jsonPath
 * @property {string} svgPath
 */

/**
 * @param {string[]} argv
 * @returns {FleetSettings}
 */
export function parseFleetOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      clients: { type: "string" },
      processes: { type: "string" },
      libraries: { type: "string" },
      "reshard-slots": { type: "string" },
      interval: { type: "string" },
      quick: { type: "boolean" },
      json: { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (values.help) throw new UsageError(USAGE);
  const count = (
    /** @type {string | undefined} */ text,
    /** @type {string} */ name,
    /** @type {number} */ fallback,
  ) => {
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < 1)
      throw new UsageError(`--${name} must be a positive integer\n\n${USAGE}`);
    return value;
  };
  const libraries = values.libraries?.split(",").map((name) => name.trim()) ?? LIBRARIES;
  const unknown = libraries.filter((name) => !LIBRARIES.includes(name));
  if (unknown.length > 0) throw new UsageError(`unknown --libraries ${unknown.join(",")}\n\n${USAGE}`);
  const quick = values.quick ?? false;
  const clients = count(values.clients, "clients", 200);
  const jsonPath =
    values.json ?? (quick ? join(tmpdir(), "rediscluster-fleet.json") : join(RESULTS_DIR, "fleet.json"));
  return {
    clients,
    processes: Math.min(clients, count(values.processes, "processes", 4)),
    libraries,
    reshardSlots: count(values["reshard-slots"], "reshard-slots", 1000),
    intervalMs: count(values.interval, "interval", 100),
    quick,
    phaseMs: quick ? 3_000 : 10_000,
    jsonPath,
    svgPath: jsonPath.replace(/(\.json)?$/i, ".svg"),
  };
}

export class UsageError extends Error {}

const epochNow = () => performance.timeOrigin + performance.now();
const sleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** One forked child process and its message inbox. */
class Child {
  /** @type {import("node:child_process").ChildProcess} */
  process;
  /** Resolves when the process has exited (listened to from the start: it may exit at any time). */
  exited;
  /** @type {any[]} */
  #inbox = [];
  /** @type {Array<{ type: string, id?: number, resolve: (message: any) => void }>} */
  #waiters = [];

  constructor() {
    this.process = fork(fileURLToPath(new URL("fleet-child.mjs", import.meta.url)), [], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.exited = once(this.process, "exit");
    this.process.on("message", (message) => {
      const waiter = this.#waiters.find(
        (candidate) =>
          candidate.type === /** @type {any} */ (message).type &&
          (candidate.id === undefined || candidate.id === /** @type {any} */ (message).id),
      );
      if (waiter) {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        waiter.resolve(message);
      } else {
        this.#inbox.push(message);
      }
    });
  }

  /** @param {object} message */
  send(message) {
    this.process.send(message);
  }

  /**
   * The next message of `type` (and `id`), or a rejection after `timeoutMs`.
   *
   * @param {string} type
   * @param {number} timeoutMs
   * @param {number} [id]
   * @returns {Promise<any>}
   */
  next(type, timeoutMs, id) {
    const queued = this.#inbox.findIndex(
      (message) => message.type === type && (id === undefined || message.id === id),
    );
    if (queued >= 0) return Promise.resolve(this.#inbox.splice(queued, 1)[0]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no "${type}" message from a fleet child in ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.#waiters.push({
        type,
        id,
        resolve: (message) => {
          clearTimeout(timer);
          resolve(message);
        },
      });
    });
  }
}

/**
 * Reads INFO commandstats of every node, as one reading.
 *
 * @param {AdminPool} admin
 * @param {DevNode[]} nodes
 * @param {number} startedAt epoch ms of the run's start
 * @returns {Promise<Reading>}
 */
async function readCalls(admin, nodes, startedAt) {
  /** @type {Reading["byNode"]} */
  const byNode = {};
  await Promise.all(
    nodes.map(async (node) => {
      try {
        byNode[node.address] = parseTopologyCalls(
          String(await admin.call(node.port, ["INFO", "commandstats"])),
        );
      } catch {
        // A node that does not answer this second adds nothing to it.
      }
    }),
  );
  return { atMs: epochNow() - startedAt, byNode };
}

/**
 * Waits until `port` reports `role` in ROLE ("master" / "slave").
 *
 * @param {AdminPool} admin
 * @param {number} port
 * @param {string} role
 */
async function waitForRole(admin, port, role) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const reply = /** @type {unknown[]} */ (await admin.call(port, ["ROLE"]));
    if (reply[0] === role) return;
    if (Date.now() > deadline) throw new Error(`node ${port} is not ${role} after 30 s`);
    await sleep(20);
  }
}

/**
 * @typedef {object} EventResult
 * @property {string} name
 * @property {number} atMs when it started, from the run's start
 * @property {number} doneMs when the cluster had done it (new primary; last SETSLOT NODE)
 * @property {{ p50: number | undefined, p99: number | undefined, max: number | undefined }} routedMs
 *   per client, from `doneMs` until it routes the event's slots to the right node
 * @property {number} unrouted clients still routing wrong when the watch gave up
 *
 * @typedef {object} LibraryRun
 * @property {string} library
 * @property {{ p50: number | undefined, max: number | undefined }} connectMs per client
 * @property {number} topologyRequests in the whole run
 * @property {Record<string, number>} byCommand
 * @property {{ start: number, failover: number, reshard: number }} byPhase
 * @property {number} requestsPerClient
 * @property {number} peakPerSecond
 * @property {Array<[number, number]>} perSecond [seconds from start, requests per second]
 * @property {EventResult[]} events
 * @property {number} commands
 * @property {Record<string, number>} errors
 * @property {number} rssMbPerProcess mean RSS of a child process, clients connected and loaded
 */

/**
 * One library's run, on a cluster of its own.
 *
 * @param {string} library
 * @param {FleetSettings} settings
 * @returns {Promise<{ run: LibraryRun, redisVersion: string }>}
 */
async function runLibrary(library, settings) {
  /** @type {typeof import("../src/dev/index.js")} */
  const devModule = await import(new URL("../dist/esm/dev/index.js", import.meta.url).href);
  /** @type {typeof import("../src/dev/admin.js")} */
  const { AdminPool } = await import(new URL("../dist/esm/dev/admin.js", import.meta.url).href);
  /** @type {typeof import("../src/dev/migration.js")} */
  const migration = await import(new URL("../dist/esm/dev/migration.js", import.meta.url).href);
  const dev = await devModule.startDevCluster({ primaries: 3, replicasPerPrimary: 1 });
  const admin = new AdminPool(120_000, { host: "127.0.0.1" });
  /** @type {Child[]} */
  const children = [];
  /** @type {ReturnType<typeof setInterval> | undefined} */
  let sampler;
  try {
    const nodes = await dev.refresh();
    const redisVersion = redisVersionFromInfo(
      String(await admin.call(dev.nodes[0]?.port ?? 0, ["INFO", "server"])),
    );
    const startedAt = epochNow();
    /** @type {Reading[]} */
    const readings = [await readCalls(admin, nodes, startedAt)];
    const sample = async () => {
      readings.push(await readCalls(admin, nodes, startedAt));
    };
    sampler = setInterval(() => void sample(), 1000);

    // The fleet, all at once.
    for (let i = 0; i < settings.processes; i++) children.push(new Child());
    children.forEach((child, i) => {
      const share =
        Math.floor(settings.clients / settings.processes) +
        (i < settings.clients % settings.processes ? 1 : 0);
      child.send({
        type: "start",
        library,
        seeds: dev.seeds,
        clients: share,
        intervalMs: settings.intervalMs,
      });
    });
    const ready = await Promise.all(children.map((child) => child.next("ready", 120_000)));
    // The schedule counts from here: each phase gets phaseMs, whatever the start-up took.
    const readyAt = epochNow();
    const connectMs = ready.flatMap((message) => message.connectMs);
    process.stderr.write(`  ${library}: ${connectMs.length} clients connected\n`);

    /** @type {EventResult[]} */
    const events = [];
    let watchId = 0;
    /**
     * Tells every child to watch `slots` → `address`; resolves with the routing times.
     *
     * @param {number[]} slots
     * @param {string} address
     */
    const watchRoutes = (slots, address) => {
      const id = ++watchId;
      for (const child of children) child.send({ type: "watch", id, slots, address });
      return Promise.all(children.map((child) => child.next("routed", 60_000, id)));
    };
    /**
     * @param {string} name
     * @param {number} atEpoch
     * @param {number} doneEpoch
     * @param {any[]} routed
     */
    const recordEvent = (name, atEpoch, doneEpoch, routed) => {
      const delays = routed.flatMap((message) =>
        message.at.map((/** @type {number} */ at) => Math.max(0, at - doneEpoch)),
      );
      events.push({
        name,
        atMs: atEpoch - startedAt,
        doneMs: doneEpoch - startedAt,
        routedMs: { p50: quantile(delays, 0.5), p99: quantile(delays, 0.99), max: quantile(delays, 1) },
        unrouted: routed.reduce((sum, message) => sum + message.unrouted, 0),
      });
    };

    // Failover: the first primary's replica takes over.
    await sleep(Math.max(0, readyAt + settings.phaseMs - epochNow()));
    const heir = /** @type {DevNode} */ (nodes.find((node) => node.role === "replica"));
    const victim = /** @type {DevNode} */ (nodes.find((node) => node.id === heir.primaryId));
    const failoverSlots = [victim.slots[0]?.[0] ?? 0, victim.slots.at(-1)?.[1] ?? 0];
    await sample();
    const failoverAt = epochNow();
    const failoverWatch = watchRoutes(failoverSlots, heir.address);
    await admin.call(heir.port, ["CLUSTER", "FAILOVER"]);
    await waitForRole(admin, heir.port, "master");
    const promotedAt = epochNow();
    recordEvent("failover", failoverAt, promotedAt, await failoverWatch);
    await waitForRole(admin, victim.port, "slave");

    // Reshard: slots (and their keys) from one of the other primaries to the third.
    await sleep(Math.max(0, readyAt + 2 * settings.phaseMs - epochNow()));
    const others = nodes.filter((node) => node.role === "primary" && node.port !== victim.port);
    const [source, target] = /** @type {[DevNode, DevNode]} */ (others);
    /** @type {number[]} */
    const moved = [];
    for (const [first, last] of source.slots) {
      for (let slot = first; slot <= last && moved.length < settings.reshardSlots; slot++) moved.push(slot);
    }
    await sample();
    const reshardAt = epochNow();
    const reshardWatch = watchRoutes([moved[0] ?? 0, moved.at(-1) ?? 0], target.address);
    const sourceEnd = { port: source.port, id: source.id };
    const targetEnd = { port: target.port, id: target.id };
    await migration.openSlotMigration(admin, sourceEnd, targetEnd, moved);
    await migration.moveSlotKeys(admin, source.port, target.port, moved);
    const otherPrimaries = [heir.port];
    await migration.assignSlots(admin, moved, targetEnd, source.port, otherPrimaries);
    const assignedAt = epochNow();
    recordEvent("reshard", reshardAt, assignedAt, await reshardWatch);

    await sleep(Math.max(0, readyAt + 3 * settings.phaseMs - epochNow()));
    clearInterval(sampler);
    sampler = undefined;
    await sample();
    for (const child of children) child.send({ type: "stop" });
    const stopped = await Promise.all(children.map((child) => child.next("stopped", 60_000)));
    await Promise.all(children.map((child) => child.exited));

    const list = intervals(readings);
    const total = list.reduce((sum, item) => sum + item.requests, 0);
    const endMs = readings.at(-1)?.atMs ?? 0;
    const failoverMs = failoverAt - startedAt;
    const reshardMs = reshardAt - startedAt;
    /** @type {Record<string, number>} */
    const errors = {};
    for (const message of stopped) {
      for (const [name, n] of Object.entries(/** @type {Record<string, number>} */ (message.errors))) {
        errors[name] = (errors[name] ?? 0) + n;
      }
    }
    // [end of second, requests in that second]
    const perSecond = perSecondBins(list).map(
      (requests, second) => /** @type {[number, number]} */ ([second + 1, requests]),
    );
    return {
      redisVersion,
      run: {
        library,
        connectMs: { p50: quantile(connectMs, 0.5), max: quantile(connectMs, 1) },
        topologyRequests: total,
        byCommand: { ...sumCalls(list.map((item) => item.calls)) },
        byPhase: {
          start: requestsBetween(list, -1, failoverMs),
          failover: requestsBetween(list, failoverMs, reshardMs),
          reshard: requestsBetween(list, reshardMs, endMs),
        },
        requestsPerClient: Number((total / settings.clients).toFixed(2)),
        peakPerSecond: Math.max(0, ...perSecond.map(([, perS]) => perS)),
        perSecond,
        events,
        commands: stopped.reduce((sum, message) => sum + message.commands, 0),
        errors,
        rssMbPerProcess: Number(
          (stopped.reduce((sum, message) => sum + message.rssBytes, 0) / stopped.length / 2 ** 20).toFixed(1),
        ),
      },
    };
  } finally {
    if (sampler) clearInterval(sampler);
    for (const child of children) if (child.process.exitCode === null) child.process.kill("SIGKILL");
    admin.closeAll();
    await dev.stop();
  }
}

/**
 * The runs' series and event markers, each run shifted in time so that the failovers of all
 * runs happen at the same x (start-up takes each library its own time).
 *
 * @param {LibraryRun[]} runs
 * @returns {{ series: import("./line-chart.mjs").Series[], markers: import("./line-chart.mjs").Marker[] }}
 */
export function alignOnFailover(runs) {
  const failoverAt = (/** @type {LibraryRun} */ run) =>
    (run.events.find((event) => event.name === "failover")?.atMs ?? 0) / 1000;
  const latest = Math.max(0, ...runs.map(failoverAt));
  const shifted = runs.map((run) => {
    const offset = latest - failoverAt(run);
    return {
      ...run,
      perSecond: run.perSecond.map(([x, y]) => /** @type {[number, number]} */ ([x + offset, y])),
      events: run.events.map((event) => ({ ...event, atMs: event.atMs + offset * 1000 })),
    };
  });
  return {
    series: shifted.map((run) => ({
      label: `${run.library} (${run.topologyRequests} in all)`,
      points: run.perSecond,
    })),
    markers: eventMarkers(shifted),
  };
}

/**
 * A marker per event; one per library where their times differ by more than a second.
 *
 * @param {LibraryRun[]} runs
 * @returns {import("./line-chart.mjs").Marker[]}
 */
export function eventMarkers(runs) {
  const names = [...new Set(runs.flatMap((run) => run.events.map((event) => event.name)))];
  return names.flatMap((name) => {
    const times = runs.flatMap((run) => {
      const event = run.events.find((candidate) => candidate.name === name);
      return event ? [{ library: run.library, x: event.atMs / 1000 }] : [];
    });
    const xs = times.map((time) => time.x);
    if (Math.max(...xs) - Math.min(...xs) <= 1) {
      return [{ x: xs.reduce((a, b) => a + b, 0) / xs.length, label: name }];
    }
    return times.map((time) => ({ x: time.x, label: `${name} (${time.library})` }));
  });
}

/** @param {number | undefined} value */
const ms = (value) => (value === undefined ? "-" : `${Math.round(value)} ms`);

/**
 * The table printed at the end.
 *
 * @param {LibraryRun[]} runs
 * @param {number} clients
 */
export function formatFleet(runs, clients) {
  const rows = [
    ["", ...runs.map((run) => run.library)],
    ["topology requests, whole run", ...runs.map((run) => String(run.topologyRequests))],
    ["  per client", ...runs.map((run) => String(run.requestsPerClient))],
    ["  at start (connect)", ...runs.map((run) => String(run.byPhase.start))],
    ["  failover phase", ...runs.map((run) => String(run.byPhase.failover))],
    ["  reshard phase", ...runs.map((run) => String(run.byPhase.reshard))],
    ["  peak per second", ...runs.map((run) => String(run.peakPerSecond))],
    ["connect, p50 / max", ...runs.map((run) => `${ms(run.connectMs.p50)} / ${ms(run.connectMs.max)}`)],
    ...["failover", "reshard"].map((name) => [
      `all ${clients} route right after ${name}`,
      ...runs.map((run) => {
        const event = run.events.find((candidate) => candidate.name === name);
        if (!event) return "-";
        const tail = event.unrouted > 0 ? ` (${event.unrouted} never)` : "";
        return `${ms(event.routedMs.max)} (p50 ${ms(event.routedMs.p50)})${tail}`;
      }),
    ]),
    [
      "commands / errors",
      ...runs.map((run) => `${run.commands} / ${Object.values(run.errors).reduce((a, b) => a + b, 0)}`),
    ],
    ["RSS per process", ...runs.map((run) => `${run.rssMbPerProcess} MB`)],
  ];
  const widths = (rows[0] ?? []).map((_, column) =>
    Math.max(...rows.map((row) => (row[column] ?? "").length)),
  );
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join("  ")).join("\n");
}

async function main() {
  let settings;
  try {
    settings = parseFleetOptions(process.argv.slice(2));
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(error.message === USAGE ? 0 : 2);
    }
    throw error;
  }
  const startedAt = new Date().toISOString();
  /** @type {LibraryRun[]} */
  const runs = [];
  let redisVersion = "unknown";
  for (const library of settings.libraries) {
    process.stderr.write(
      `fleet: ${settings.clients} ${library} clients in ${settings.processes} processes…\n`,
    );
    const result = await runLibrary(library, settings);
    redisVersion = result.redisVersion;
    runs.push(result.run);
    for (const [name, n] of Object.entries(result.run.errors))
      process.stderr.write(`  error ×${n}: ${name}\n`);
  }
  const machine = describeMachine(redisVersion);
  const report = {
    startedAt,
    machine,
    settings: {
      clients: settings.clients,
      processes: settings.processes,
      reshardSlots: settings.reshardSlots,
      intervalMs: settings.intervalMs,
      phaseMs: settings.phaseMs,
      cluster: "local 3+3 dev cluster, one per library",
    },
    runs,
  };
  process.stdout.write(`\n${formatFleet(runs, settings.clients)}\n\n`);
  mkdirSync(dirname(settings.jsonPath), { recursive: true });
  writeFileSync(settings.jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(
    settings.svgPath,
    renderLineChart({
      title: `Topology requests per second at the servers: ${settings.clients} clients`,
      xLabel: "seconds (each library's run shifted so that the failovers line up)",
      yLabel: "CLUSTER SHARDS/SLOTS/NODES per second",
      ...alignOnFailover(runs),
      caption: [
        `${settings.clients} clients in ${settings.processes} processes, one command per ~${settings.intervalMs} ms each · INFO commandstats summed over 6 nodes`,
        `${Object.entries(machine.clients)
          .map(([name, version]) => `${name} ${version}`)
          .join(" · ")} · commit ${machine.commit} · Node ${machine.node} · Redis ${machine.redisServer}`,
        `${machine.cpuModel} × ${machine.cores} · ${startedAt.slice(0, 10)}`,
      ],
    }),
  );
  const shown = (/** @type {string} */ path) =>
    path.startsWith(process.cwd()) ? relative(process.cwd(), path) : path;
  process.stdout.write(`results: ${shown(settings.jsonPath)}, chart: ${shown(settings.svgPath)}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
