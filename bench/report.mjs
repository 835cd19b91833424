// @ts-check
/**
 * From raw runs to the report: medians and ranges per client and workload, the ratios of
 * rediscluster to every other client, issue 6's bars met or not — as one JSON-ready object,
 * and as the table the bench prints.
 *
 * Ratios always read "how many times better rediscluster is": throughput ÷ throughput, and
 * for memory the other client's RSS ÷ ours. Above 1, rediscluster wins.
 */
import { summarize } from "./stats.mjs";

/**
 * @typedef {import("./stats.mjs").Summary} Summary
 * @typedef {import("./clients.mjs").ClientSpec} ClientSpec
 * @typedef {import("./workloads.mjs").Workload} Workload
 * @typedef {import("./memory.mjs").MemoryResult} MemoryResult
 * @typedef {import("./ceiling.mjs").BenchmarkLine} BenchmarkLine
 * @typedef {import("./machine.mjs").MachineInfo} MachineInfo
 * @typedef {import("./options.mjs").BenchSettings} BenchSettings
 */

/**
 * @typedef {object} ClientRun one measured run of one client on one workload
 * @property {number} round
 * @property {number | null} rate ops/s or keys/s (null: the run failed)
 * @property {number} operations completed in the duration
 * @property {number} errors operations that rejected in the duration
 * @property {string} [firstError]
 * @property {number} [p50Ms]
 * @property {number} [p99Ms]
 * @property {string} [failure] why the run could not be measured at all
 * @property {import("./server-count.mjs").CommandCounts} [served] what the primaries executed
 *   during the whole run (check, warm-up and measurement)
 * @property {string} [suspect] set when the servers executed fewer commands than the client claims
 * @property {number | null} [cpuUsPerCommand] the bench process's CPU (user + system, µs) over
 *   the measured window, per command (per key for W4/W5); null when nothing completed
 */

/**
 * @typedef {object} ClientWorkloadResult
 * @property {Summary} rate over the runs that did not fail
 * @property {Summary} [p50Ms]
 * @property {Summary} [p99Ms]
 * @property {Summary} [cpuUsPerCommand] client CPU per command (µs), where measured
 * @property {number} errors over all runs
 * @property {number} failedRuns runs that could not be measured, or that the servers contradict
 * @property {ClientRun[]} runs
 */

/**
 * @typedef {object} WorkloadReport
 * @property {string} id
 * @property {string} title
 * @property {string} unit
 * @property {number} inFlight
 * @property {Record<string, string>} method how each client does it, where that differs
 * @property {Record<string, ClientWorkloadResult>} clients
 * @property {Record<string, number | null>} ratios rediscluster ÷ client, by client id
 * @property {{ id: string, ratio: number } | null} best rediscluster ÷ the fastest other client
 *   that ran (issue 18's measure); null while one that ran has no rate, or none ran
 * @property {{ vs: string, ratio: number, met: boolean | null }} target issue 6's bar (vs ioredis), or
 *   issue 11's (W10: vs the best other client)
 */

/**
 * @typedef {object} CeilingReport
 * @property {string} id "c1", "P1" or "P16" (ceiling.mjs)
 * @property {number} connections
 * @property {number} pipeline
 * @property {number} requests
 * @property {Summary} rate GET/s
 * @property {Summary} p50Ms
 * @property {Summary} p99Ms
 * @property {string[]} failures
 */

/**
 * @typedef {object} MemoryClientReport
 * @property {string} label
 * @property {MemoryResult | undefined} result
 * @property {string | undefined} failure why there is no result ("failed: ...", "skipped: ...")
 * @property {number | null} heapGrowth end ÷ after warm-up − 1
 */

/**
 * @typedef {object} MemoryReport
 * @property {number} gets
 * @property {number} inFlight
 * @property {Record<string, MemoryClientReport>} clients by client id, plus "rediscluster+reshard"
 * @property {Record<string, number | null>} rssRatios other client's end RSS ÷ rediscluster's
 * @property {Record<string, number | null>} heapRatios other client's end heap ÷ rediscluster's
 * @property {{ rssNotAboveIoredis: boolean | null, heapFlatThroughReshard: boolean | null }} targets
 */

/**
 * @typedef {object} BenchReport
 * @property {number} version format version of this file
 * @property {string} startedAt ISO time
 * @property {number} elapsedSeconds
 * @property {MachineInfo} machine
 * @property {{ rounds: number, durationMs: number, warmupMs: number, quick: boolean, cluster: string, keys: number, valueBytes: number, batchPrimaries: { min: number, of: number } | null }} settings
 * @property {Array<{ id: string, label: string, packageName: string, version: string, options: string }>} clients
 * @property {Array<{ id: string, label: string, note: string }>} [leftOut] clients asked for that
 *   this machine cannot run (their package does not load), each with why
 * @property {WorkloadReport[]} workloads
 * @property {CeilingReport[]} ceiling
 * @property {Record<string, ClientWorkloadResult>} [floor] W1 and W3 on the Node floor
 *   (floor.mjs), by workload id; run with the ceiling
 * @property {MemoryReport | undefined} memory
 * @property {import("./cache.mjs").CacheReport} [cache] W7 (its own variants: cache on and off)
 */

export const BASE_CLIENT = "rediscluster";
export const RESHARD_ENTRY = "rediscluster+reshard";
/** Issue 6: heap at the end within 10% of heap after warm-up, through the reshard. */
export const HEAP_GROWTH_LIMIT = 0.1;

/**
 * @param {number} a
 * @param {number} b
 * @returns {number | null}
 */
function ratio(a, b) {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : null;
}

/**
 * @param {ClientRun[]} runs
 * @returns {ClientWorkloadResult}
 */
function summarizeRuns(runs) {
  // A run the servers contradict is not believed: it counts as failed, and says why.
  const measured = runs.filter((run) => run.rate !== null && run.suspect === undefined);
  /** @type {ClientWorkloadResult} */
  const result = {
    rate: summarize(measured.map((run) => /** @type {number} */ (run.rate))),
    errors: runs.reduce((sum, run) => sum + run.errors, 0),
    failedRuns: runs.length - measured.length,
    runs,
  };
  if (measured.some((run) => run.p50Ms !== undefined)) {
    result.p50Ms = summarize(measured.map((run) => run.p50Ms ?? Number.NaN));
    result.p99Ms = summarize(measured.map((run) => run.p99Ms ?? Number.NaN));
  }
  const cpu = measured.flatMap((run) =>
    typeof run.cpuUsPerCommand === "number" ? [run.cpuUsPerCommand] : [],
  );
  if (cpu.length > 0) result.cpuUsPerCommand = summarize(cpu);
  return result;
}

/**
 * @param {{ id: string, title: string, unit: string, inFlight: number, targetVsIoredis: number, targetVs?: "ioredis" | "best" }} workload
 *   a Workload of workloads.mjs, or W10 (pubsub.mjs)
 * @param {readonly ClientSpec[]} clients
 * @param {Map<string, ClientRun[]>} runsByClient
 * @returns {WorkloadReport}
 */
export function workloadReport(workload, clients, runsByClient) {
  /** @type {Record<string, ClientWorkloadResult>} */
  const results = {};
  for (const spec of clients) results[spec.id] = summarizeRuns(runsByClient.get(spec.id) ?? []);
  const base = results[BASE_CLIENT]?.rate.median ?? Number.NaN;
  /** @type {Record<string, number | null>} */
  const ratios = {};
  for (const spec of clients) {
    if (spec.id !== BASE_CLIENT) ratios[spec.id] = ratio(base, results[spec.id]?.rate.median ?? Number.NaN);
  }
  /** @type {Record<string, string>} */
  const method = {};
  for (const spec of clients) {
    if (workload.id === "W4") method[spec.id] = spec.pipelineNote;
    if (workload.id === "W5") method[spec.id] = spec.mgetNote;
    if (workload.id === "W10") method[spec.id] = spec.subscribeNote;
  }
  const against = workload.targetVs ?? "ioredis";
  // The ratio to the fastest other client that ran is the smallest ratio; unknown while a
  // client that ran has no rate (that one might have been the best).
  const others = Object.entries(ratios).filter(([id]) => runsByClient.has(id));
  /** @type {{ id: string, ratio: number } | null} */
  let best = null;
  if (others.every(([, value]) => typeof value === "number")) {
    for (const [id, value] of /** @type {Array<[string, number]>} */ (others)) {
      if (best === null || value < best.ratio) best = { id, ratio: value };
    }
  }
  const vsTarget = against === "best" ? (best?.ratio ?? null) : (ratios.ioredis ?? null);
  let met = vsTarget === null ? null : vsTarget >= workload.targetVsIoredis;
  // W1's bar has a second half: p99 no worse than ioredis's.
  const ourP99 = results[BASE_CLIENT]?.p99Ms?.median;
  const theirP99 = results.ioredis?.p99Ms?.median;
  if (met === true && ourP99 !== undefined && theirP99 !== undefined) met = ourP99 <= theirP99;
  return {
    id: workload.id,
    title: workload.title,
    unit: workload.unit,
    inFlight: workload.inFlight,
    method,
    clients: results,
    ratios,
    best,
    target: { vs: against, ratio: workload.targetVsIoredis, met },
  };
}

/**
 * @param {{ id: string, connections: number, pipeline: number }} variant
 * @param {number} requests
 * @param {BenchmarkLine[]} lines
 * @param {string[]} failures
 * @returns {CeilingReport}
 */
export function ceilingReport(variant, requests, lines, failures) {
  return {
    id: variant.id,
    connections: variant.connections,
    pipeline: variant.pipeline,
    requests,
    rate: summarize(lines.map((line) => line.opsPerSecond)),
    p50Ms: summarize(lines.map((line) => line.p50Ms)),
    p99Ms: summarize(lines.map((line) => line.p99Ms)),
    failures,
  };
}

/**
 * The Node floor's runs, summarised like a client's, by workload id.
 *
 * @param {Map<string, ClientRun[]>} runsByWorkload
 * @returns {Record<string, ClientWorkloadResult>}
 */
export function floorReport(runsByWorkload) {
  return Object.fromEntries([...runsByWorkload].map(([id, runs]) => [id, summarizeRuns(runs)]));
}

/**
 * @param {number} gets
 * @param {number} inFlight
 * @param {Array<{ id: string, label: string, result?: MemoryResult, failure?: string }>} entries
 * @returns {MemoryReport}
 */
export function memoryReport(gets, inFlight, entries) {
  /** @type {Record<string, MemoryClientReport>} */
  const clients = {};
  for (const entry of entries) {
    const result = entry.result;
    clients[entry.id] = {
      label: entry.label,
      result,
      failure: entry.failure,
      heapGrowth:
        result === undefined ? null : result.end.heapUsedBytes / result.afterWarmup.heapUsedBytes - 1,
    };
  }
  const base = clients[BASE_CLIENT]?.result;
  /** @type {Record<string, number | null>} */
  const rssRatios = {};
  /** @type {Record<string, number | null>} */
  const heapRatios = {};
  for (const entry of entries) {
    if (entry.id === BASE_CLIENT || entry.id === RESHARD_ENTRY) continue;
    const other = entry.result;
    rssRatios[entry.id] = ratio(other?.end.rssBytes ?? Number.NaN, base?.end.rssBytes ?? Number.NaN);
    heapRatios[entry.id] = ratio(
      other?.end.heapUsedBytes ?? Number.NaN,
      base?.end.heapUsedBytes ?? Number.NaN,
    );
  }
  const rssVsIoredis = rssRatios.ioredis ?? null;
  const reshard = clients[RESHARD_ENTRY];
  const reshardClean =
    reshard?.result !== undefined &&
    reshard.result.errors === 0 &&
    reshard.result.wrongReplies === 0 &&
    reshard.result.reshardError === undefined;
  return {
    gets,
    inFlight,
    clients,
    rssRatios,
    heapRatios,
    targets: {
      rssNotAboveIoredis: rssVsIoredis === null ? null : rssVsIoredis >= 1,
      heapFlatThroughReshard:
        reshard?.heapGrowth === null || reshard === undefined
          ? null
          : reshardClean && reshard.heapGrowth <= HEAP_GROWTH_LIMIT,
    },
  };
}

// ── the printed table ────────────────────────────────────────────────────────────────────

/** @param {number} value */
const whole = (value) => (Number.isFinite(value) ? Math.round(value).toLocaleString("en-US") : "—");
/** @param {number} value */
const ms = (value) => (Number.isFinite(value) ? value.toFixed(3) : "—");
/** @param {number} bytes */
const mb = (bytes) => (Number.isFinite(bytes) ? (bytes / 1_048_576).toFixed(1) : "—");
/** @param {number | null | undefined} value */
const times = (value) => (value === null || value === undefined ? "—" : `${value.toFixed(2)}×`);
/** @param {number | null} fraction */
const percent = (fraction) =>
  fraction === null ? "—" : `${fraction >= 0 ? "+" : ""}${(fraction * 100).toFixed(1)}%`;
/** @param {number} fraction */
const share = (fraction) => (Number.isFinite(fraction) ? `${(fraction * 100).toFixed(0)}%` : "—");
/** @param {number | undefined} value */
const micros = (value) => (value !== undefined && Number.isFinite(value) ? value.toFixed(2) : "—");
/** @param {boolean | null} met */
const verdict = (met) => (met === null ? "n/a" : met ? "met" : "NOT met");

/**
 * @param {string} text
 * @param {number} width
 */
const left = (text, width) => text.padEnd(width);
/**
 * @param {string} text
 * @param {number} width
 */
const right = (text, width) => text.padStart(width);

/** @param {Summary} summary */
function rangeText(summary) {
  return `${whole(summary.median)} (${whole(summary.min)}–${whole(summary.max)})`;
}

/**
 * The report as the text the bench prints.
 *
 * @param {BenchReport} report
 * @returns {string}
 */
export function formatReport(report) {
  const { machine, settings } = report;
  const others = report.clients.filter((client) => client.id !== BASE_CLIENT);
  const out = [];
  out.push(
    `rediscluster ${machine.clients.rediscluster ?? "?"} (${machine.commit}) · ${settings.cluster} · Redis ${machine.redisServer} · Node ${machine.node} · ${machine.cpuModel} × ${machine.cores}`,
    `${settings.rounds} interleaved round(s) × ${settings.durationMs} ms (+${settings.warmupMs} ms warm-up) per client and workload; median (min–max); ratio = rediscluster ÷ client`,
  );
  if (settings.batchPrimaries !== null) {
    const { min, of } = settings.batchPrimaries;
    out.push(`W4/W5 batches: 100 distinct keys each; the narrowest spans ${min} of ${of} primaries`);
  }
  for (const { note } of report.leftOut ?? []) out.push(note);
  out.push("");
  for (const workload of report.workloads) {
    const hasLatency = report.clients.some((client) => workload.clients[client.id]?.p50Ms !== undefined);
    out.push(
      `${workload.id}  ${left(workload.title, 52)}${right(workload.unit, 24)}` +
        (hasLatency ? `${right("p50 ms", 9)}${right("p99 ms", 9)}` : "") +
        right("CPU µs", 9) +
        right("ratio", 9),
    );
    for (const client of report.clients) {
      const result = workload.clients[client.id];
      if (result === undefined) continue;
      const rate = result.rate.samples.length === 0 ? "failed" : rangeText(result.rate);
      const ratioText = client.id === BASE_CLIENT ? "" : times(workload.ratios[client.id]);
      const problems = [
        result.errors > 0 ? `${result.errors} errors` : "",
        result.failedRuns > 0 ? `${result.failedRuns} failed runs: ${firstFailure(result)}` : "",
      ].filter((text) => text !== "");
      out.push(
        `    ${left(client.label, 14)}${right(rate, 62)}` +
          (hasLatency
            ? `${right(ms(result.p50Ms?.median ?? Number.NaN), 9)}${right(ms(result.p99Ms?.median ?? Number.NaN), 9)}`
            : "") +
          right(micros(result.cpuUsPerCommand?.median), 9) +
          right(ratioText, 9) +
          (problems.length > 0 ? `   ! ${problems.join("; ")}` : ""),
      );
    }
    for (const [clientId, method] of Object.entries(workload.method)) {
      out.push(
        `      ${left(report.clients.find((client) => client.id === clientId)?.label ?? clientId, 14)}${method}`,
      );
    }
    out.push("");
  }
  for (const ceiling of report.ceiling) {
    out.push(
      `ceiling  redis-benchmark --cluster -t get -c ${ceiling.connections} -P ${ceiling.pipeline} (C client): ` +
        (ceiling.rate.samples.length === 0
          ? `failed: ${ceiling.failures[0] ?? "?"}`
          : `${rangeText(ceiling.rate)} GET/s, p50 ${ms(ceiling.p50Ms.median)} ms, p99 ${ms(ceiling.p99Ms.median)} ms`),
    );
  }
  for (const [id, floor] of Object.entries(report.floor ?? {})) {
    out.push(
      `floor    ${id} on a raw Node socket per primary (bench/floor.mjs: slot, write, parse, a promise; no client): ` +
        (floor.rate.samples.length === 0
          ? `failed: ${floor.runs.find((run) => run.failure !== undefined)?.failure ?? "?"}`
          : `${rangeText(floor.rate)} GET/s, ` +
            (floor.p50Ms === undefined
              ? ""
              : `p50 ${ms(floor.p50Ms.median)} ms, p99 ${ms(floor.p99Ms?.median ?? Number.NaN)} ms, `) +
            `${micros(floor.cpuUsPerCommand?.median)} µs CPU`),
    );
  }
  out.push(...formatCeilingShares(report));
  if (report.ceiling.length > 0) out.push("");
  if (report.memory !== undefined) out.push(...formatMemory(report.memory), "");
  // A run of W7 alone has nothing to summarise: W7 prints its own verdict, after this.
  if (report.workloads.length > 0 || report.memory !== undefined) out.push(...formatSummary(report, others));
  return out.join("\n");
}

/** Issue 18's bar for W2, W4 and W5: rediscluster ÷ the fastest other client that ran. */
const BEST_CLIENT_BAR = 3.5;
/** Issue 18's bars for W6: RSS growth since connected, and RSS at the end (MB). */
const RSS_GROWTH_BAR_MB = 20;
const RSS_END_BAR_MB = 80;

/**
 * Issue 18's bars: W3 as a share of the C client's `-c 50 -P 16` and W1's rate and p99
 * against its `-c 1`, in the same run; W2, W4 and W5 against the best other client.
 *
 * @param {BenchReport} report
 * @returns {string[]}
 */
export function formatCeilingShares(report) {
  const out = [];
  const ceilingRate = (/** @type {string} */ id) =>
    report.ceiling.find((entry) => entry.id === id)?.rate.median;
  const ours = (/** @type {string} */ id) =>
    report.workloads.find((entry) => entry.id === id)?.clients[BASE_CLIENT];
  const p16 = ceilingRate("P16");
  const w3 = ours("W3")?.rate.median;
  /** The Node floor's median on a workload, where it ran. */
  const floorRate = (/** @type {string} */ id) => {
    const rate = report.floor?.[id]?.rate.median;
    return rate !== undefined && Number.isFinite(rate) && rate > 0 ? rate : undefined;
  };
  if (p16 !== undefined && w3 !== undefined && Number.isFinite(p16) && Number.isFinite(w3) && p16 > 0) {
    out.push(
      `         W3 rediscluster = ${share(w3 / p16)} of -c 50 -P 16 (bar ≥ 60%): ${verdict(w3 / p16 >= 0.6)}`,
    );
    const floor = floorRate("W3");
    if (floor !== undefined) {
      out.push(
        `         W3 = ${share(w3 / floor)} of the Node floor, which is ${share(floor / p16)} of -c 50 -P 16`,
      );
    }
  }
  const c1 = report.ceiling.find((entry) => entry.id === "c1");
  const w1 = ours("W1");
  if (c1 !== undefined && w1 !== undefined && c1.rate.samples.length > 0 && w1.rate.samples.length > 0) {
    const fraction = w1.rate.median / c1.rate.median;
    const p99 = w1.p99Ms?.median ?? Number.NaN;
    out.push(
      `         W1 rediscluster = ${share(fraction)} of -c 1, p99 ${ms(p99)} vs ${ms(c1.p99Ms.median)} ms (bar: rate ≥ 100% and p99 ≤): ${verdict(fraction >= 1 && p99 <= c1.p99Ms.median)}`,
    );
    // -c 1 is one connection to one primary; W1 and the floor walk keys on every primary.
    const floor = floorRate("W1");
    if (floor !== undefined) {
      out.push(
        `         (-c 1 sends every GET to one primary, W1 visits all of them) W1 = ${share(w1.rate.median / floor)} of the Node floor, which is ${share(floor / c1.rate.median)} of -c 1`,
      );
    }
  }
  for (const id of ["W2", "W4", "W5"]) {
    const best = report.workloads.find((entry) => entry.id === id)?.best;
    if (best === undefined || best === null) continue;
    const label = report.clients.find((client) => client.id === best.id)?.label ?? best.id;
    out.push(
      `         ${id} rediscluster = ${times(best.ratio)} the best other client, ${label} (bar ≥ ${BEST_CLIENT_BAR}×): ${verdict(best.ratio >= BEST_CLIENT_BAR)}`,
    );
  }
  return out;
}

/** @param {ClientWorkloadResult} result */
function firstFailure(result) {
  const run = result.runs.find(
    (candidate) => candidate.failure !== undefined || candidate.suspect !== undefined,
  );
  return run?.failure ?? (run?.suspect === undefined ? "" : `not believed: ${run.suspect}`);
}

/**
 * @param {MemoryReport} memory
 * @returns {string[]}
 */
function formatMemory(memory) {
  const out = [
    `W6  memory: ${whole(memory.gets)} GETs at ${memory.inFlight} in flight, a fresh process per client, after full GC (MB)`,
    `    ${left("", 24)}${right("heap warm-up → end", 20)}${right("growth", 9)}${right("RSS end", 9)}${right("RSS +", 8)}${right("RSS peak", 10)}${right("GETs/s", 10)}${right("ratio", 8)}`,
  ];
  for (const [id, entry] of Object.entries(memory.clients)) {
    const result = entry.result;
    if (result === undefined) {
      out.push(`    ${left(entry.label, 24)}${entry.failure ?? "?"}`);
      continue;
    }
    const problems = [
      result.errors > 0 ? `${result.errors} errors (${result.firstError ?? ""})` : "",
      result.wrongReplies > 0 ? `${result.wrongReplies} wrong replies` : "",
      result.reshardError === undefined ? "" : `reshard failed: ${result.reshardError}`,
      id === RESHARD_ENTRY
        ? `moved ${result.clientStats.moved ?? "?"}, ask ${result.clientStats.ask ?? "?"}, refreshes ${result.clientStats.refreshes ?? "?"}`
        : "",
    ].filter((text) => text !== "");
    out.push(
      `    ${left(entry.label, 24)}${right(`${mb(result.afterWarmup.heapUsedBytes)} → ${mb(result.end.heapUsedBytes)}`, 20)}` +
        `${right(percent(entry.heapGrowth), 9)}${right(mb(result.end.rssBytes), 9)}` +
        `${right(result.afterConnect === undefined ? "—" : mb(result.end.rssBytes - result.afterConnect.rssBytes), 8)}${right(mb(result.maxRssBytes), 10)}` +
        `${right(whole(result.opsPerSecond), 10)}${right(id in memory.rssRatios ? times(memory.rssRatios[id]) : "", 8)}` +
        (problems.length > 0 ? `   ${problems.join("; ")}` : ""),
    );
  }
  out.push(
    `    RSS + = RSS at the end − RSS once connected (issue 18: ≤ ${RSS_GROWTH_BAR_MB} MB, and RSS end ≤ ${RSS_END_BAR_MB} MB)`,
    "    ratio = the client's RSS at the end ÷ rediscluster's (above 1: rediscluster is smaller)",
  );
  const ours = memory.clients[BASE_CLIENT]?.result;
  if (ours?.afterConnect !== undefined) {
    const growth = (ours.end.rssBytes - ours.afterConnect.rssBytes) / 1_048_576;
    const end = ours.end.rssBytes / 1_048_576;
    out.push(
      `    rediscluster: RSS + ${mb(ours.end.rssBytes - ours.afterConnect.rssBytes)}, RSS end ${mb(ours.end.rssBytes)} (issue 18's bars): ${verdict(growth <= RSS_GROWTH_BAR_MB && end <= RSS_END_BAR_MB)}`,
    );
  }
  return out;
}

/**
 * @param {BenchReport} report
 * @param {BenchReport["clients"]} others
 * @returns {string[]}
 */
function formatSummary(report, others) {
  const out = [
    "Summary: rediscluster ÷ each client (above 1: rediscluster is better), and ÷ the best of them; issue 6's bar is vs ioredis, W8's (issue 10) and W10's (issue 11) vs the best",
    `    ${left("", 10)}${others.map((client) => right(client.label, 14)).join("")}${right("÷ best", 22)}${right("bar", 13)}   verdict`,
  ];
  const labelOf = (/** @type {string} */ id) => others.find((client) => client.id === id)?.label ?? id;
  for (const workload of report.workloads) {
    const known = others
      .map((client) => workload.ratios[client.id])
      .filter((value) => typeof value === "number");
    const beatsAll = known.length < others.length || known.every((value) => value > 1);
    out.push(
      `    ${left(workload.id, 10)}${others.map((client) => right(times(workload.ratios[client.id]), 14)).join("")}` +
        right(
          workload.best === null ? "—" : `${times(workload.best.ratio)} ${labelOf(workload.best.id)}`,
          22,
        ) +
        `${right(`≥ ${workload.target.ratio.toFixed(1)}${workload.target.vs === "best" ? " best" : ""}`, 13)}   ${verdict(workload.target.met)}` +
        (beatsAll ? "" : " · does not beat every client"),
    );
  }
  const memory = report.memory;
  if (memory !== undefined) {
    out.push(
      `    ${left("W6 RSS", 10)}${others.map((client) => right(times(memory.rssRatios[client.id]), 14)).join("")}` +
        `${right("", 22)}${right("≥ 1.0", 13)}   ${verdict(memory.targets.rssNotAboveIoredis)}`,
      `    ${left("W6 heap", 10)}${others.map((client) => right(times(memory.heapRatios[client.id]), 14)).join("")}` +
        `${right("", 22)}${right("", 13)}   heap flat through the reshard (≤ +${HEAP_GROWTH_LIMIT * 100}%): ${verdict(memory.targets.heapFlatThroughReshard)}`,
    );
  }
  return out;
}
