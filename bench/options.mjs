// @ts-check
/** The command line of `npm run bench -- [options]`. */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { CLIENTS } from "./clients.mjs";

export const SECTION_IDS = /** @type {const} */ ([
  "W1",
  "W2",
  "W3",
  "W4",
  "W5",
  "W7",
  "W8",
  "W9",
  "W10",
  "W6",
  "ceiling",
]);
/** @typedef {(typeof SECTION_IDS)[number]} SectionId */

export const USAGE = `Usage: npm run bench -- [options]

Starts a local 3+3 cluster (or uses --seeds), prefills 10,000 keys and runs every workload
for every client, interleaved, then prints medians and ratios and writes JSON + an SVG chart.

Options:
  --rounds <n>       interleaved rounds per workload (default 5; --quick: 1)
  --duration <ms>    measured time per run (default 2000; --quick: 100)
  --warmup <ms>      warm-up per run, not measured (default 500; --quick: 25)
  --gets <n>         W6: GETs per memory run (default 1000000; --quick: 20000)
  --only <ids>       comma-separated: W1,W2,W3,W4,W5,W7,W8,W9,W10,W6,ceiling (default: all)
  --clients <ids>    comma-separated: ${CLIENTS.map((spec) => spec.id).join(",")} (default: all)
  --seeds <list>     comma-separated host:port of an existing cluster (no reshard in W6)
  --json <file>      write the results there (the chart goes next to it, .svg)
  --quick            a smoke run of a few seconds, for CI
  -h, --help         this text

Without --json, a full run writes bench/results/latest.json and latest.svg; a --quick or
partial (--only, --clients) run writes to the system's temporary folder instead.`;

/**
 * @typedef {object} BenchSettings
 * @property {number} rounds
 * @property {number} durationMs
 * @property {number} warmupMs
 * @property {number} memoryGets
 * @property {number} memoryWarmupGets
 * @property {SectionId[]} sections in run order
 * @property {string[]} clientIds rediscluster first
 * @property {string[] | undefined} seeds undefined: start a dev cluster
 * @property {string} jsonPath
 * @property {string} svgPath
 * @property {boolean} quick
 * @property {boolean} help
 */

const RESULTS_DIR = fileURLToPath(new URL("./results/", import.meta.url));

/**
 * @param {string} name
 * @param {string | undefined} text
 * @param {number} fallback
 * @param {number} min
 */
function integerOption(name, text, fallback, min) {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min)
    throw new Error(`--${name} must be an integer ≥ ${min}: ${text}`);
  return value;
}

/**
 * @template {string} T
 * @param {string} name
 * @param {string | undefined} text
 * @param {readonly T[]} known
 * @returns {T[]} in the order of `known`
 */
function listOption(name, text, known) {
  if (text === undefined) return [...known];
  const asked = text.split(",").map((item) => item.trim().toLowerCase());
  for (const item of asked) {
    if (!known.some((id) => id.toLowerCase() === item)) {
      throw new Error(`--${name}: unknown "${item}" (known: ${known.join(", ")})`);
    }
  }
  return known.filter((id) => asked.includes(id.toLowerCase()));
}

/**
 * Parses the command line into settings; throws with a readable message on a bad option.
 *
 * @param {string[]} argv without node and the script
 * @returns {BenchSettings}
 */
export function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      rounds: { type: "string" },
      duration: { type: "string" },
      warmup: { type: "string" },
      gets: { type: "string" },
      only: { type: "string" },
      clients: { type: "string" },
      seeds: { type: "string" },
      json: { type: "string" },
      quick: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const quick = values.quick === true;
  const durationMs = integerOption("duration", values.duration, quick ? 100 : 2_000, 10);
  const memoryGets = integerOption("gets", values.gets, quick ? 20_000 : 1_000_000, 100);
  const sections = listOption("only", values.only, SECTION_IDS);
  const clientIds = listOption(
    "clients",
    values.clients,
    CLIENTS.map((spec) => spec.id),
  );
  const seeds = values.seeds
    ?.split(",")
    .map((seed) => seed.trim())
    .filter((seed) => seed !== "");
  const partial = values.only !== undefined || values.clients !== undefined;
  const jsonPath =
    values.json ??
    (quick || partial ? join(tmpdir(), "rediscluster-bench-latest.json") : join(RESULTS_DIR, "latest.json"));
  return {
    rounds: integerOption("rounds", values.rounds, quick ? 1 : 5, 1),
    durationMs,
    warmupMs: integerOption("warmup", values.warmup, quick ? 25 : 500, 0),
    memoryGets,
    memoryWarmupGets: Math.max(1_000, Math.round(memoryGets / 20)),
    sections,
    clientIds,
    seeds: seeds === undefined || seeds.length === 0 ? undefined : seeds,
    jsonPath,
    svgPath: jsonPath.replace(/(\.json)?$/i, ".svg"),
    quick,
    help: values.help === true,
  };
}
