// @ts-check
/**
 * The ceiling: what the servers answer to redis-benchmark (the C client that ships with
 * Redis) in cluster mode, GET: one connection without pipelining (W1's shape: one command
 * in flight), 50 connections without (-P 1) and with (-P 16) pipelining (W3's shape: many in
 * flight). No Node client can beat it; it shows how far each one is from the servers.
 *
 * redis-benchmark writes its own keys (`key:{tag}:000000NNNN`, one hash tag per primary);
 * `fillCeilingKeys` SETs them once with 100-byte values so that the GETs hit, as ours do.
 */
import { spawn } from "node:child_process";
import { parseAddress } from "./clients.mjs";
import { KEY_COUNT, VALUE_BYTES } from "./keys.mjs";

/**
 * @typedef {object} BenchmarkLine
 * @property {string} test e.g. "GET"
 * @property {number} opsPerSecond
 * @property {number} p50Ms
 * @property {number} p99Ms
 */

/**
 * @typedef {object} CeilingVariant one redis-benchmark configuration
 * @property {string} id "c1", "P1" or "P16"
 * @property {number} connections `-c`
 * @property {number} pipeline `-P`
 * @property {number} requestsPerMs GETs per millisecond of the run's duration it is sized for
 *   (`-n` = duration × this: about the variant's rate on a small machine)
 */

/** @type {readonly CeilingVariant[]} */
export const CEILING_VARIANTS = [
  { id: "c1", connections: 1, pipeline: 1, requestsPerMs: 25 },
  { id: "P1", connections: 50, pipeline: 1, requestsPerMs: 80 },
  { id: "P16", connections: 50, pipeline: 16, requestsPerMs: 400 },
];

/**
 * Parses the `--csv` output of redis-benchmark (7.x: a header line, then one line per test;
 * cluster mode prints the masters it found before that).
 *
 * @param {string} output
 * @returns {BenchmarkLine[]}
 */
export function parseBenchmarkCsv(output) {
  const lines = output.split(/\r?\n/);
  const headerAt = lines.findIndex((line) => line.startsWith('"test",'));
  if (headerAt < 0) return [];
  const header = splitCsvLine(/** @type {string} */ (lines[headerAt]));
  const column = (/** @type {string} */ name) => header.indexOf(name);
  const rps = column("rps");
  const p50 = column("p50_latency_ms");
  const p99 = column("p99_latency_ms");
  /** @type {BenchmarkLine[]} */
  const parsed = [];
  for (const line of lines.slice(headerAt + 1)) {
    if (!line.startsWith('"')) continue;
    const cells = splitCsvLine(line);
    const opsPerSecond = Number(cells[rps]);
    if (!Number.isFinite(opsPerSecond)) continue;
    parsed.push({
      test: cells[0] ?? "",
      opsPerSecond,
      p50Ms: p50 < 0 ? Number.NaN : Number(cells[p50]),
      p99Ms: p99 < 0 ? Number.NaN : Number(cells[p99]),
    });
  }
  return parsed;
}

/**
 * One CSV line of redis-benchmark: every cell quoted, no commas inside cells.
 *
 * @param {string} line
 */
function splitCsvLine(line) {
  return line.split(",").map((cell) => cell.trim().replace(/^"(.*)"$/, "$1"));
}

/**
 * Runs redis-benchmark and resolves with its standard output.
 *
 * @param {string} executable
 * @param {string[]} args
 * @returns {Promise<string>}
 */
function runBenchmark(executable, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(executable, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`${executable} exited with ${code}: ${stderr.trim() || stdout.trim()}`));
    });
  });
}

/**
 * @param {string} seed `host:port` of any node
 * @param {string[]} extra
 */
function clusterArgs(seed, extra) {
  const { host, port } = parseAddress(seed);
  return [
    "--cluster",
    "-h",
    host,
    "-p",
    String(port),
    "-r",
    String(KEY_COUNT),
    "-d",
    String(VALUE_BYTES),
    ...extra,
  ];
}

/**
 * SETs redis-benchmark's keys (10,000 per primary's hash tag) so that the measured GETs hit.
 *
 * @param {string} executable
 * @param {string} seed
 */
export async function fillCeilingKeys(executable, seed) {
  await runBenchmark(
    executable,
    clusterArgs(seed, ["-t", "set", "-n", String(KEY_COUNT * 10), "-P", "16", "--csv"]),
  );
}

/**
 * GETs per second of redis-benchmark in one configuration.
 *
 * @param {string} executable
 * @param {string} seed
 * @param {CeilingVariant} variant
 * @param {number} requests total GETs (sets the duration)
 * @returns {Promise<BenchmarkLine>}
 */
export async function measureCeiling(executable, seed, variant, requests) {
  const output = await runBenchmark(
    executable,
    clusterArgs(seed, [
      "-t",
      "get",
      "-n",
      String(requests),
      "-c",
      String(variant.connections),
      "-P",
      String(variant.pipeline),
      "--csv",
    ]),
  );
  const line = parseBenchmarkCsv(output).find((entry) => entry.test === "GET");
  if (line === undefined) throw new Error(`no GET line in redis-benchmark's output: ${output.slice(-300)}`);
  return line;
}
