// @ts-check
/**
 * `npm run soak`: a bounded soak (issue 14, item 4). One client process (bench/soak-child.mjs)
 * runs many concurrent workers against a local 3+3 cluster for `--minutes` (default 10),
 * while this process fails a shard over and moves slots every minute. Then the verdict:
 *
 *   - heap: sampled every 10 s after a forced GC; a least-squares line through the samples
 *     after the warm-up (the first 2 minutes) must climb less than 0.5 MB per minute;
 *   - no pending command: every command issued has settled once the workers stop;
 *   - file descriptors: as many open after close() as before the client existed (± 2);
 *   - no unhandled rejection, and every failure a typed error.
 *
 * Any of these failing exits non-zero. Results: bench/results/soak.json and soak.svg (heap
 * and RSS over time); `--quick` (45 s, events every 15 s, samples every 2 s, 15 s warm-up,
 * limit 5 MB/min) writes to the system's temporary folder and is what CI runs.
 * `--inject-leak` makes the client process keep 1 KiB per 100 commands: the run must fail.
 */
import { fork } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { judgeLeak } from "./leak-check.mjs";
import { renderLineChart } from "./line-chart.mjs";
import { describeMachine, redisVersionFromInfo } from "./machine.mjs";

/** @typedef {import("./leak-check.mjs").MemorySample} MemorySample */

const RESULTS_DIR = fileURLToPath(new URL("results/", import.meta.url));
const MB = 2 ** 20;
/** Slots moved per reshard (back and forth, so the cluster ends as it started). */
const RESHARD_SLOTS = 200;

/**
 * @param {string[]} argv
 */
export function parseSoakOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      minutes: { type: "string" },
      workers: { type: "string" },
      quick: { type: "boolean" },
      json: { type: "string" },
      "inject-leak": { type: "boolean" },
    },
  });
  const quick = values.quick ?? false;
  const minutes = values.minutes === undefined ? (quick ? 0.75 : 10) : Number(values.minutes);
  if (!(minutes > 0)) throw new Error("--minutes must be a positive number, e.g. --minutes 30");
  const workers = values.workers === undefined ? 256 : Number(values.workers);
  if (!Number.isInteger(workers) || workers < 1) throw new Error("--workers must be a positive integer");
  // A short run samples more often and tolerates more: a fit over seconds is noisier.
  const short = quick || minutes < 3;
  const jsonPath =
    values.json ?? (short ? join(tmpdir(), "rediscluster-soak.json") : join(RESULTS_DIR, "soak.json"));
  return {
    minutes,
    workers,
    // A check of the verdict itself: the client process keeps 1 KiB per 100 commands.
    leakEvery: values["inject-leak"] ? 100 : 0,
    durationMs: Math.round(minutes * 60_000),
    eventEveryMs: short ? 15_000 : 60_000,
    sampleMs: short ? 2_000 : 10_000,
    limits: short
      ? { warmupMs: 15_000, heapSlopeMbPerMin: 5, fdSlack: 2 }
      : { warmupMs: 120_000, heapSlopeMbPerMin: 0.5, fdSlack: 2 },
    jsonPath,
    svgPath: jsonPath.replace(/(\.json)?$/i, ".svg"),
  };
}

/** JS heap plus external memory (Buffers): what the verdict judges. @param {MemorySample | undefined} sample */
const heapOf = (sample) => (sample === undefined ? 0 : sample.heapUsed + (sample.external ?? 0));

const sleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The chart of a soak's report (also used to redraw it from the JSON).
 *
 * @param {any} report what main() writes to the JSON file
 * @returns {string} an SVG document
 */
export function renderSoakChart(report) {
  const { settings, machine } = report;
  /** @type {MemorySample[]} */
  const samples = report.samples;
  return renderLineChart({
    title: `Soak: client heap and RSS over ${settings.minutes} min, a failover and a reshard every ${settings.eventEveryMs / 1000} s`,
    xLabel: "minutes",
    yLabel: "MB",
    series: [
      {
        label: `heap + external after GC (${report.heap.slopeMbPerMin} MB/min)`,
        points: samples.map((s) => [s.atMs / 60_000, heapOf(s) / MB]),
      },
      {
        label: `RSS (${report.rss.slopeMbPerMin} MB/min)`,
        points: samples.map((s) => [s.atMs / 60_000, s.rss / MB]),
      },
    ],
    markers: report.events
      .filter((/** @type {{ label: string }} */ event) => event.label === "failover")
      .map((/** @type {{ atMs: number }} */ event) => ({ x: event.atMs / 60_000, label: "" })),
    caption: [
      `${settings.workers} workers (GET, SET, INCR, MGET across slots, pipelines of 3) · ${report.commands.issued.toLocaleString("en-US")} commands, ${report.commands.pending} pending at the end · fds ${report.fds.before} → ${report.fds.after}`,
      `heap slope fitted after a ${settings.limits.warmupMs / 1000} s warm-up; limit ${settings.limits.heapSlopeMbPerMin} MB/min · dashed lines: failover + reshard`,
      `rediscluster ${machine.clients.rediscluster ?? "?"} · commit ${machine.commit} · Node ${machine.node} · Redis ${machine.redisServer} · ${machine.cpuModel} × ${machine.cores} · ${report.startedAt.slice(0, 10)}`,
    ],
  });
}

async function main() {
  const settings = parseSoakOptions(process.argv.slice(2));
  /** @type {typeof import("../src/dev/index.js")} */
  const devModule = await import(new URL("../dist/esm/dev/index.js", import.meta.url).href);
  const startedAt = new Date().toISOString();
  const dev = await devModule.startDevCluster({ primaries: 3, replicasPerPrimary: 1 });
  const child = fork(fileURLToPath(new URL("soak-child.mjs", import.meta.url)), [], {
    execArgv: ["--expose-gc"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const exited = once(child, "exit");
  /** @type {MemorySample[]} */
  const samples = [];
  /** @type {Array<{ atMs: number, label: string }>} */
  const events = [];
  /** @type {any} */
  let done;
  child.on("message", (/** @type {any} */ message) => {
    if (message.type === "sample") {
      const { atMs, heapUsed, external, rss } = message;
      samples.push({ atMs, heapUsed, external, rss });
    }
    if (message.type === "done") done = message;
  });
  let redisVersion = "unknown";
  try {
    await new Promise((resolve) => child.once("message", resolve)); // "loaded"
    const info = await dev.command(dev.nodes[0]?.port ?? 0, "INFO", "server");
    redisVersion = redisVersionFromInfo(String(info));
    child.send({
      type: "start",
      seeds: dev.seeds,
      workers: settings.workers,
      sampleMs: settings.sampleMs,
      leakEvery: settings.leakEvery,
    });
    const loadStartedAt = performance.now();
    const at = () => Math.round(performance.now() - loadStartedAt);
    process.stderr.write(
      `soak: ${settings.minutes} min, ${settings.workers} workers, a failover and a reshard every ${settings.eventEveryMs / 1000} s\n`,
    );
    let round = 0;
    while (performance.now() - loadStartedAt + settings.eventEveryMs <= settings.durationMs) {
      await sleep(loadStartedAt + (round + 1) * settings.eventEveryMs - performance.now());
      round++;
      const nodes = await dev.refresh();
      // A failover of the next shard in turn, then slots of another shard moved to a third.
      const replicas = nodes.filter((node) => node.role === "replica");
      const heir = /** @type {import("../src/dev/index.js").DevNode} */ (replicas[round % replicas.length]);
      events.push({ atMs: at(), label: "failover" });
      await dev.failover(heir.port);
      const primaries = (await dev.refresh()).filter((node) => node.role === "primary");
      const from = /** @type {import("../src/dev/index.js").DevNode} */ (primaries[round % primaries.length]);
      const to = /** @type {import("../src/dev/index.js").DevNode} */ (
        primaries[(round + 1) % primaries.length]
      );
      /** @type {number[]} */
      const slots = [];
      for (const [start, end] of from.slots) {
        for (let slot = start; slot <= end && slots.length < RESHARD_SLOTS; slot++) slots.push(slot);
      }
      events.push({ atMs: at(), label: "reshard" });
      await dev.migrateSlots(from.port, to.port, slots);
      process.stderr.write(
        `  ${Math.round(at() / 1000)} s: round ${round} (failover, ${RESHARD_SLOTS} slots moved)\n`,
      );
    }
    await sleep(Math.max(0, loadStartedAt + settings.durationMs - performance.now()));
    child.send({ type: "stop" });
    await exited;
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
    await dev.stop();
  }
  if (!done) throw new Error("the soak's client process ended without reporting");

  const verdict = judgeLeak(samples, done.fds, settings.limits);
  const pending = done.issued - done.settled;
  const untyped = Object.entries(/** @type {Record<string, number>} */ (done.errors)).filter(([name]) =>
    name.startsWith("untyped"),
  );
  const failures = [...verdict.reasons];
  if (pending !== 0) failures.push(`${pending} command(s) never settled`);
  if (done.unhandled > 0) failures.push(`${done.unhandled} unhandled rejection(s)`);
  if (untyped.length > 0)
    failures.push(`untyped errors: ${untyped.map(([name, n]) => `${name} ×${n}`).join(", ")}`);
  const machine = describeMachine(redisVersion);
  const report = {
    startedAt,
    machine,
    settings: { ...settings, jsonPath: undefined, svgPath: undefined },
    commands: {
      issued: done.issued,
      settled: done.settled,
      pending,
      perSecond: Math.round(done.issued / (settings.durationMs / 1000)),
    },
    errors: done.errors,
    unhandled: done.unhandled,
    clientStats: done.stats,
    fds: done.fds,
    heap: {
      firstMb: Number((heapOf(samples[0]) / MB).toFixed(2)),
      lastMb: Number((heapOf(samples.at(-1)) / MB).toFixed(2)),
      slopeMbPerMin: Number(verdict.heapSlopeMbPerMin.toFixed(3)),
    },
    rss: {
      firstMb: Number(((samples[0]?.rss ?? 0) / MB).toFixed(1)),
      lastMb: Number(((samples.at(-1)?.rss ?? 0) / MB).toFixed(1)),
      slopeMbPerMin: Number(verdict.rssSlopeMbPerMin.toFixed(3)),
    },
    events,
    samples,
    verdict: { ok: failures.length === 0, failures },
  };
  mkdirSync(dirname(settings.jsonPath), { recursive: true });
  writeFileSync(settings.jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(settings.svgPath, renderSoakChart(report));
  const shown = (/** @type {string} */ path) =>
    path.startsWith(process.cwd()) ? relative(process.cwd(), path) : path;
  process.stdout.write(
    [
      "",
      `commands: ${done.issued.toLocaleString("en-US")} issued, ${done.settled.toLocaleString("en-US")} settled (${report.commands.perSecond.toLocaleString("en-US")}/s)`,
      `errors: ${
        Object.entries(done.errors)
          .map(([name, n]) => `${name} ×${n}`)
          .join(", ") || "none"
      }`,
      `heap + external: ${report.heap.firstMb} → ${report.heap.lastMb} MB, slope ${report.heap.slopeMbPerMin} MB/min after the warm-up (limit ${settings.limits.heapSlopeMbPerMin}, ${verdict.samplesFitted} samples)`,
      `RSS: ${report.rss.firstMb} → ${report.rss.lastMb} MB, slope ${report.rss.slopeMbPerMin} MB/min`,
      `file descriptors: ${done.fds.before} before the client, ${done.fds.after} after close()`,
      `results: ${shown(settings.jsonPath)}, chart: ${shown(settings.svgPath)}`,
      failures.length === 0 ? "soak: OK" : `soak: FAILED\n  ${failures.join("\n  ")}`,
      "",
    ].join("\n"),
  );
  process.exitCode = failures.length === 0 ? 0 : 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
