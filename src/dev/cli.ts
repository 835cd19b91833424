/**
 * The `rediscluster` command: `slots` (the slot map of any cluster, as text, JSON or an SVG
 * picture), `call` (one command, cluster-aware, printed like redis-cli), `bench` (the
 * repository's benchmark) and `dev start|status|stop` (a local cluster that outlives the
 * command that started it: `start` records where the cluster's state file is under a name
 * (see registry.ts), so that `status` and `stop`, run later by other processes, find it).
 *
 * Exit codes: 0 done; 1 the command failed (a server error, an unhealthy cluster); 2 the
 * command line is wrong; 3 no node could be reached. No stack trace unless `--debug`.
 *
 * Compiled to CommonJS too (bin/rediscluster.cjs loads dist/cjs/dev/cli.js): no
 * import.meta, no top-level await here.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { RedisCluster } from "../client.js";
import { ConnectionError, RedisClusterError, ReplyError } from "../errors.js";
import type { RespValue } from "../resp/types.js";
import { attachDevCluster, startDevCluster } from "./cluster.js";
import { type ClusterNodesEntry, formatRanges, parseClusterNodes } from "./cluster-view.js";
import { nodePortsFree } from "./ports.js";
import { isProcessStopped, isRedisServerProcess } from "./process.js";
import {
  DEFAULT_CLUSTER_NAME,
  findDevClusterStateFile,
  registerDevCluster,
  unregisterDevCluster,
} from "./registry.js";
import { readStateFile } from "./state.js";
import type { DevCluster, DevNode } from "./types.js";

/** Where the CLI prints; tests pass their own. */
export interface CliOutput {
  out(text: string): void;
  err(text: string): void;
}

/** Where the CLI runs from: the package folder (bin/rediscluster.cjs passes it). */
export interface CliContext {
  /** The folder holding package.json (and, in the repository, bench/). */
  packageRoot?: string;
}

/** Exit codes, for scripts. */
export const EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3 } as const;

/** Where `dev start` puts its first node when nothing else is there. */
const DEFAULT_FIRST_PORT = 7000;

const EXIT_CODES_HELP = `Exit codes:
  0  done
  1  the command failed: a server error reply, an unhealthy cluster, a failed start
  2  wrong command line (unknown command or option, bad value)
  3  cannot connect: no seed node answered
`;

const HELP = `Usage: rediscluster <command> [options]

Commands:
  slots    The slot map of a cluster: ranges per primary, replicas, health, migrations
  call     Send one command to a cluster (routed by its keys), print the reply
  bench    Run the benchmark (from a clone of the repository only)
  dev      A throwaway local cluster: dev start | dev status | dev stop

Options:
  --seeds <host:port,...>  slots, call: where to find the cluster (default: the running dev cluster)
  --debug                  print stack traces of unexpected errors
  --version                print the version
  -h, --help               show help (also: rediscluster <command> --help)

${EXIT_CODES_HELP}
Examples:
  npx rediscluster dev start
  npx rediscluster slots --seeds 127.0.0.1:7000
  npx rediscluster slots --svg slots.svg
  npx rediscluster call --seeds 127.0.0.1:7000 SET greeting hello
`;

const SLOTS_HELP = `Usage: rediscluster slots [--seeds host:port,...] [--json] [--svg FILE]

Prints the slot map: each primary with its slot ranges and health, its replicas, and the
slots being migrated (from CLUSTER NODES of each primary). Without --seeds, the dev cluster
named by --name (default "current").

Options:
  --seeds <host:port,...>  seed nodes of the cluster
  --name <name>            which dev cluster, when --seeds is not given
  --json                   print JSON
  --svg <file>             also draw the slot map as an SVG picture into <file>
  --debug                  print stack traces of unexpected errors

${EXIT_CODES_HELP}`;

const CALL_HELP = `Usage: rediscluster call [--seeds host:port,...] [--json] COMMAND [ARG...]

Sends one command, routed by its keys like any command of the client (MOVED/ASK followed),
and prints the reply as redis-cli does. Options go before the command; every word after the
command name is an argument.

Options:
  --seeds <host:port,...>  seed nodes of the cluster (default: the running dev cluster)
  --name <name>            which dev cluster, when --seeds is not given
  --json                   print the reply as JSON
  --debug                  print stack traces of unexpected errors

${EXIT_CODES_HELP}
Examples:
  rediscluster call --seeds 127.0.0.1:7000 SET k v
  rediscluster call --seeds 127.0.0.1:7000 CLUSTER INFO
`;

const BENCH_HELP = `Usage: rediscluster bench [options of bench/run.mjs]

Runs the benchmark of the repository (bench/run.mjs; see bench/README.md): it needs a clone
of the repository, built (npm run build), and is not part of the installed package.

${EXIT_CODES_HELP}`;

const DEV_HELP = `Usage: rediscluster dev <command> [options]

A throwaway Redis Cluster on 127.0.0.1, from the redis-server on your PATH (Redis 7+).

Commands:
  start    Start a cluster in the background and print its seeds
  status   Show every node: address, role, PID, slots, health
  stop     Stop every node (by PID) and delete the cluster's folder

Options:
  --shards <n>          start: number of primaries (default 3); --primaries is the same
  --replicas <n>        start: replicas per primary (default 1)
  --port <n>            start: the first node's port, the others follow (default 7000 when
                        7000... and their bus ports are free, else free ports); 0: free ports
  --redis-server <path> start: the redis-server to run (default: redis-server on PATH)
  --tls                 start: TLS only, with a throwaway CA and certificates (printed)
  --name <name>         which cluster (default "current"); several can run side by side
  --json                start, status: print JSON
  -h, --help            show this help

${EXIT_CODES_HELP}  (dev status exits 1 when the cluster runs but is not healthy)

Examples:
  npx rediscluster dev start
  npx rediscluster dev start --shards 3 --replicas 0 --json
  npx rediscluster dev start --tls
  npx rediscluster dev status
  npx rediscluster dev stop
`;

const consoleOutput: CliOutput = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/** Raised for a wrong command line: printed with a pointer to --help, exit code 2. */
class UsageError extends Error {}

/** Raised when no node can be reached: exit code 3. */
class UnreachableError extends Error {}

/** How long `slots` and `call` wait for a node before giving up (exit code 3). */
const CONNECT_TIMEOUT_MS = 3_000;
/** Each probe of `dev status` (a paused node must not hold it up). */
const PROBE_TIMEOUT_MS = 2_000;

/**
 * Runs the CLI and resolves with the process exit code. Never throws: failures are
 * printed on `output.err` (with a stack trace only under `--debug`).
 *
 * @example
 * process.exitCode = await main(process.argv.slice(2));
 */
export async function main(
  argv: readonly string[],
  output: CliOutput = consoleOutput,
  context: CliContext = {},
): Promise<number> {
  const debug = argv.includes("--debug");
  let parsed: CommandLine;
  try {
    parsed = parseCommandLine(argv);
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      output.err(`rediscluster: ${(error as Error).message}\nRun \`rediscluster --help\` for usage.\n`);
      return EXIT.usage;
    }
    return reportFailure(error, output, debug);
  }
  try {
    switch (parsed.kind) {
      case "help":
        output.out(parsed.text);
        return EXIT.ok;
      case "missing":
        output.err(parsed.text);
        return EXIT.usage;
      case "version":
        output.out(`${packageVersion(context)}\n`);
        return EXIT.ok;
      case "slots":
        return await slotsCommand(parsed, output);
      case "call":
        return await callCommand(parsed, output);
      case "bench":
        return await benchCommand(parsed.args, output, context);
      case "dev":
        switch (parsed.command) {
          case "start":
            return await startCommand(parsed, output);
          case "status":
            return await statusCommand(parsed, output);
          case "stop":
            return await stopCommand(parsed, output);
        }
    }
  } catch (error) {
    return reportFailure(error, output, debug);
  }
}

function reportFailure(error: unknown, output: CliOutput, debug: boolean): number {
  const message = error instanceof Error ? error.message : String(error);
  output.err(`rediscluster: ${message}\n`);
  if (debug && error instanceof Error && error.stack) output.err(`${error.stack}\n`);
  if (error instanceof UsageError) return EXIT.usage;
  if (error instanceof UnreachableError || error instanceof ConnectionError) return EXIT.unreachable;
  return EXIT.failed;
}

interface DevCommandLine {
  kind: "dev";
  command: "start" | "status" | "stop";
  name: string;
  json: boolean;
  primaries: number | undefined;
  replicas: number | undefined;
  /** `--port`: the first node's port; 0 for free ports; undefined: 7000 when free. */
  port: number | undefined;
  redisServer: string | undefined;
  tls: boolean;
}

interface ClusterCommandLine {
  seeds: string[] | undefined;
  name: string;
  json: boolean;
}

type CommandLine =
  | { kind: "help" | "missing"; text: string }
  | { kind: "version" }
  | ({ kind: "slots"; svg: string | undefined } & ClusterCommandLine)
  | ({ kind: "call"; words: string[] } & ClusterCommandLine)
  | { kind: "bench"; args: string[] }
  | DevCommandLine;

const NAME_PATTERN = /^[A-Za-z0-9._-]+$/;

function parseCommandLine(argv: readonly string[]): CommandLine {
  const [group] = argv.filter((word) => !word.startsWith("-"));
  if (group === "bench") {
    const args = argv.filter((word) => word !== "bench" && word !== "--debug");
    if (args.includes("--help") || args.includes("-h")) return { kind: "help", text: BENCH_HELP };
    return { kind: "bench", args };
  }
  if (group === "call") return parseCall(argv);
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      help: { type: "boolean", short: "h" },
      version: { type: "boolean" },
      debug: { type: "boolean" },
      json: { type: "boolean" },
      name: { type: "string" },
      seeds: { type: "string" },
      svg: { type: "string" },
      shards: { type: "string" },
      primaries: { type: "string" },
      replicas: { type: "string" },
      port: { type: "string" },
      "redis-server": { type: "string" },
      tls: { type: "boolean" },
    },
  });
  const [, command, ...rest] = positionals;
  const name = values.name ?? DEFAULT_CLUSTER_NAME;
  if (!NAME_PATTERN.test(name)) throw new UsageError("--name takes letters, digits, '.', '_' and '-'");
  if (values.version && group === undefined) return { kind: "version" };
  if (group === undefined || group === "help") {
    return values.help || group === "help" ? { kind: "help", text: HELP } : { kind: "missing", text: HELP };
  }
  if (group === "slots") {
    if (values.help) return { kind: "help", text: SLOTS_HELP };
    if (command !== undefined) throw new UsageError(`unexpected argument "${command}"`);
    return { kind: "slots", svg: values.svg, ...clusterOptions(values) };
  }
  if (group !== "dev") throw new UsageError(`unknown command "${group}" (see rediscluster --help)`);
  if (values.help) return { kind: "help", text: DEV_HELP };
  if (command !== "start" && command !== "status" && command !== "stop") {
    throw new UsageError(
      command === undefined ? "missing command: start, status or stop" : `unknown command "dev ${command}"`,
    );
  }
  if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
  if (values.shards !== undefined && values.primaries !== undefined)
    throw new UsageError("give --shards or --primaries, not both");
  return {
    kind: "dev",
    command,
    name,
    json: values.json ?? false,
    primaries: integerOption(
      values.shards ?? values.primaries,
      values.shards ? "--shards" : "--primaries",
      1,
    ),
    replicas: integerOption(values.replicas, "--replicas", 0),
    port: integerOption(values.port, "--port", 0),
    redisServer: values["redis-server"],
    tls: values.tls ?? false,
  };
}

function clusterOptions(values: { seeds?: string; name?: string; json?: boolean }): ClusterCommandLine {
  let seeds: string[] | undefined;
  if (values.seeds !== undefined) {
    seeds = values.seeds.split(",").map((seed) => seed.trim());
    for (const seed of seeds) {
      if (!/^.+:\d+$/.test(seed)) throw new UsageError(`--seeds: "${seed}" is not host:port`);
    }
  }
  return { seeds, name: values.name ?? DEFAULT_CLUSTER_NAME, json: values.json ?? false };
}

/** `call [options] COMMAND ARG...`: options end at the command name; its arguments are taken as they are. */
function parseCall(argv: readonly string[]): CommandLine {
  const values: { seeds?: string; name?: string; json?: boolean; help?: boolean } = {};
  const words: string[] = [];
  let seenCall = false;
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (words.length > 0) {
      words.push(word);
    } else if (word === "--") {
      words.push(...argv.slice(i + 1).filter(() => seenCall));
      break;
    } else if (word === "--seeds" || word === "--name") {
      const value = argv[++i];
      if (value === undefined) throw new UsageError(`${word} needs a value`);
      values[word === "--seeds" ? "seeds" : "name"] = value;
    } else if (word.startsWith("--seeds=") || word.startsWith("--name=")) {
      const [flag, value] = [word.slice(2, word.indexOf("=")), word.slice(word.indexOf("=") + 1)];
      values[flag as "seeds" | "name"] = value;
    } else if (word === "--json") values.json = true;
    else if (word === "--debug") continue;
    else if (word === "--help" || word === "-h") values.help = true;
    else if (word.startsWith("-")) throw new UsageError(`unknown option "${word}" for call`);
    else if (!seenCall && word === "call") seenCall = true;
    else words.push(word);
  }
  if (values.help) return { kind: "help", text: CALL_HELP };
  if (words.length === 0) throw new UsageError("call: missing the command to send, e.g. call GET k");
  const name = values.name ?? DEFAULT_CLUSTER_NAME;
  if (!NAME_PATTERN.test(name)) throw new UsageError("--name takes letters, digits, '.', '_' and '-'");
  return { kind: "call", words, ...clusterOptions(values) };
}

function integerOption(value: string | undefined, flag: string, minimum: number): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!/^\d+$/.test(value) || number < minimum) throw new UsageError(`${flag} needs an integer ≥ ${minimum}`);
  return number;
}

function packageVersion(context: CliContext): string {
  for (const root of [context.packageRoot, join(__dirnameOrCwd(), "..", "..", "..")]) {
    if (root === undefined) continue;
    try {
      const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
        name?: string;
        version?: string;
      };
      if (manifest.name === "rediscluster" && manifest.version) return manifest.version;
    } catch {
      // Not there: try the next place.
    }
  }
  return "unknown";
}

/** The CommonJS build knows its folder; elsewhere the working directory stands in. */
function __dirnameOrCwd(): string {
  return typeof __dirname === "string" ? __dirname : process.cwd();
}

// ── slots and call: any cluster ────────────────────────────────────────────────────────

/** The seeds of the command line, or of the dev cluster it names. */
function seedsOf(options: ClusterCommandLine): string[] {
  if (options.seeds !== undefined) return options.seeds;
  const stateFile = findDevClusterStateFile(options.name);
  if (stateFile === undefined || !existsSync(stateFile)) {
    throw new UsageError(
      `no --seeds, and no dev cluster named "${options.name}" (give --seeds host:port or run rediscluster dev start)`,
    );
  }
  const state = readStateFile(stateFile);
  return state.nodes.map((node) => `127.0.0.1:${node.port}`);
}

async function connectCluster(seeds: string[]): Promise<RedisCluster> {
  const cluster = new RedisCluster({
    nodes: seeds,
    connectTimeout: CONNECT_TIMEOUT_MS,
    commandTimeout: 10_000,
    refreshInterval: 0,
  });
  try {
    await cluster.connect();
  } catch (error) {
    cluster.disconnect();
    if (error instanceof ConnectionError || !(error instanceof ReplyError))
      throw new UnreachableError(`cannot connect to ${seeds.join(",")}: ${(error as Error).message}`);
    throw error;
  }
  return cluster;
}

/** A slot in the middle of a move, from a primary's CLUSTER NODES. */
interface Migration {
  slot: number;
  direction: "migrating" | "importing";
  /** The primary whose CLUSTER NODES says so. */
  node: string;
  /** The other end, by address when known (else its id). */
  peer: string;
}

interface SlotMap {
  seeds: string[];
  shards: Array<{
    primary: { address: string; health: string };
    replicas: Array<{ address: string; health: string }>;
    ranges: Array<[number, number]>;
    slots: number;
  }>;
  servedSlots: number;
  migrations: Migration[];
}

async function readSlotMap(seeds: string[]): Promise<SlotMap> {
  const cluster = await connectCluster(seeds);
  try {
    const topology = cluster.topology!;
    const shards = topology.shards.map((shard) => ({
      primary: { address: shard.primary.address, health: shard.primary.health },
      replicas: shard.replicas.map((replica) => ({ address: replica.address, health: replica.health })),
      ranges: shard.ranges.map(([start, end]) => [start, end] as [number, number]),
      slots: shard.ranges.reduce((sum, [start, end]) => sum + end - start + 1, 0),
    }));
    shards.sort((a, b) => (a.ranges[0]?.[0] ?? 1e9) - (b.ranges[0]?.[0] ?? 1e9));
    const addressById = new Map<string, string>();
    for (const shard of topology.shards)
      for (const node of [shard.primary, ...shard.replicas]) addressById.set(node.id, node.address);
    const migrations: Migration[] = [];
    for (const node of cluster.nodes("primary")) {
      const text = String(await node.cluster("NODES"));
      migrations.push(...parseMigrations(text, node.address, addressById));
    }
    migrations.sort((a, b) => a.slot - b.slot || a.direction.localeCompare(b.direction));
    return {
      seeds,
      shards,
      servedSlots: shards.reduce((sum, shard) => sum + shard.slots, 0),
      migrations,
    };
  } finally {
    await cluster.close();
  }
}

/** `[slot->-id]` (migrating to id) and `[slot-<-id]` (importing from id) on the `myself` line. */
export function parseMigrations(
  clusterNodes: string,
  address: string,
  addressById: ReadonlyMap<string, string>,
): Migration[] {
  const mine = clusterNodes.split("\n").find((line) => line.split(" ")[2]?.split(",").includes("myself"));
  if (mine === undefined) return [];
  const result: Migration[] = [];
  for (const match of mine.matchAll(/\[(\d+)-([<>])-([0-9a-f]+)\]/g)) {
    const [, slot, arrow, peer] = match;
    result.push({
      slot: Number(slot),
      direction: arrow === ">" ? "migrating" : "importing",
      node: address,
      peer: addressById.get(peer!) ?? peer!,
    });
  }
  return result;
}

async function slotsCommand(options: ClusterCommandLine & { svg: string | undefined }, output: CliOutput) {
  const map = await readSlotMap(seedsOf(options));
  if (options.svg !== undefined) writeFileSync(options.svg, slotMapSvg(map));
  if (options.json) {
    output.out(`${JSON.stringify(map, null, 2)}\n`);
    return EXIT.ok;
  }
  const replicas = map.shards.reduce((sum, shard) => sum + shard.replicas.length, 0);
  const lines = [
    `Cluster via ${map.seeds.join(",")}: ${map.shards.length} primaries, ${replicas} replicas, ` +
      `${map.servedSlots}/16384 slots served`,
  ];
  for (const shard of map.shards) {
    const ranges = shard.ranges.length > 0 ? formatRanges(shard.ranges) : "-";
    lines.push(
      `  primary ${shard.primary.address} ${shard.primary.health}  slots ${ranges} (${shard.slots})`,
    );
    for (const replica of shard.replicas) lines.push(`    replica ${replica.address} ${replica.health}`);
  }
  if (map.migrations.length === 0) lines.push("No slot is being migrated.");
  for (const migration of map.migrations) {
    lines.push(
      migration.direction === "migrating"
        ? `  slot ${migration.slot}: migrating from ${migration.node} to ${migration.peer}`
        : `  slot ${migration.slot}: importing into ${migration.node} from ${migration.peer}`,
    );
  }
  if (options.svg !== undefined) lines.push(`Slot map drawn in ${options.svg}`);
  output.out(`${lines.join("\n")}\n`);
  return EXIT.ok;
}

const COLORS = [
  "#4e79a7",
  "#f28e2b",
  "#59a14f",
  "#b07aa1",
  "#76b7b2",
  "#edc948",
  "#ff9da7",
  "#9c755f",
  "#bab0ac",
];

const escapeXml = (text: string): string => text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The slot map as an SVG picture: one row per primary, its ranges drawn on a 16384-slot
 * axis, its replicas named beside it; slots being migrated marked in red on every row.
 */
export function slotMapSvg(map: SlotMap): string {
  const width = 1000;
  const left = 230;
  const barWidth = width - left - 20;
  const rowHeight = 34;
  const top = 50;
  const height = top + map.shards.length * rowHeight + 60;
  const x = (slot: number) => left + (slot / 16384) * barWidth;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold">Slot map: ${map.shards.length} primaries, ${map.servedSlots}/16384 slots served</text>`,
  ];
  for (const tick of [0, 4096, 8192, 12288, 16383]) {
    parts.push(
      `<line x1="${x(tick).toFixed(1)}" y1="${top - 8}" x2="${x(tick).toFixed(1)}" y2="${top + map.shards.length * rowHeight}" stroke="#dddddd"/>`,
      `<text x="${x(tick).toFixed(1)}" y="${top - 12}" text-anchor="middle" fill="#666666">${tick}</text>`,
    );
  }
  map.shards.forEach((shard, row) => {
    const y = top + row * rowHeight;
    const color = COLORS[row % COLORS.length]!;
    const replicas = shard.replicas.map((replica) => replica.address).join(", ");
    parts.push(
      `<text x="10" y="${y + 14}">${escapeXml(shard.primary.address)} (${escapeXml(shard.primary.health)})</text>`,
      `<text x="10" y="${y + 27}" fill="#666666" font-size="10">${escapeXml(replicas ? `replicas: ${replicas}` : "no replicas")}</text>`,
      `<rect x="${left}" y="${y + 4}" width="${barWidth}" height="${rowHeight - 10}" fill="#f4f4f4"/>`,
    );
    for (const [start, end] of shard.ranges) {
      const w = Math.max(1, x(end + 1) - x(start));
      parts.push(
        `<rect class="range" data-node="${escapeXml(shard.primary.address)}" data-start="${start}" data-end="${end}" x="${x(start).toFixed(1)}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowHeight - 10}" fill="${color}"><title>${escapeXml(shard.primary.address)}: ${start}-${end}</title></rect>`,
      );
    }
  });
  for (const migration of map.migrations) {
    const row = map.shards.findIndex((shard) => shard.primary.address === migration.node);
    if (row === -1) continue;
    const y = top + row * rowHeight;
    parts.push(
      `<rect class="migration" data-slot="${migration.slot}" data-direction="${migration.direction}" x="${(x(migration.slot) - 1).toFixed(1)}" y="${y}" width="3" height="${rowHeight - 2}" fill="#e15759"><title>slot ${migration.slot} ${migration.direction} (${escapeXml(migration.peer)})</title></rect>`,
    );
  }
  const legendY = top + map.shards.length * rowHeight + 30;
  parts.push(
    `<rect x="10" y="${legendY - 10}" width="10" height="10" fill="#e15759"/>`,
    `<text x="26" y="${legendY}">${
      map.migrations.length === 0
        ? "no slot is being migrated"
        : `slots being migrated: ${map.migrations
            .map((m) => m.slot)
            .filter((s, i, all) => all.indexOf(s) === i)
            .join(", ")}`
    }</text>`,
    "</svg>",
  );
  return `${parts.join("\n")}\n`;
}

async function callCommand(options: ClusterCommandLine & { words: string[] }, output: CliOutput) {
  const cluster = await connectCluster(seedsOf(options));
  try {
    const [name, ...args] = options.words;
    let reply: unknown;
    try {
      reply = await cluster.call(name!, ...args);
    } catch (error) {
      if (error instanceof ReplyError) {
        output.err(`(error) ${error.message}\n`);
        return EXIT.failed;
      }
      if (error instanceof RedisClusterError && error.code === "RC_ARGUMENT")
        throw new UsageError(error.message);
      throw error;
    }
    output.out(options.json ? `${JSON.stringify(reply, jsonValue)}\n` : formatReply(reply as RespValue));
    return EXIT.ok;
  } finally {
    await cluster.close();
  }
}

function jsonValue(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Error) return { error: value.message };
  return value;
}

/**
 * A reply as redis-cli prints it: `"text"`, `(integer) 1`, `(nil)`, `(error) ...`, numbered
 * nested arrays, `(empty array)`. Simple-string replies (`OK`, `PONG`) are printed bare.
 *
 * @example
 * formatReply(["a", 1, null]); // '1) "a"\n2) (integer) 1\n3) (nil)\n'
 */
export function formatReply(reply: RespValue, indent = 0): string {
  if (Array.isArray(reply)) {
    if (reply.length === 0) return "(empty array)\n";
    const width = String(reply.length).length;
    return reply
      .map((item, index) => {
        const label = `${String(index + 1).padStart(width)}) `;
        const body = formatReply(item, indent + label.length);
        return (index === 0 ? "" : " ".repeat(indent)) + label + body;
      })
      .join("");
  }
  if (reply === null) return "(nil)\n";
  if (typeof reply === "number")
    return Number.isInteger(reply) ? `(integer) ${reply}\n` : `(double) ${reply}\n`;
  if (typeof reply === "bigint") return `(integer) ${reply}\n`;
  if (typeof reply === "boolean") return `(${reply})\n`;
  if (reply instanceof Error) return `(error) ${reply.message}\n`;
  if (typeof reply === "string" || Buffer.isBuffer(reply)) {
    const text = String(reply);
    if (/^(OK|PONG|QUEUED)$/.test(text)) return `${text}\n`;
    // Multi-line text (INFO, CLUSTER NODES) reads best as it is.
    if (text.includes("\n")) return `${text.replace(/\r\n/g, "\n").replace(/\n$/, "")}\n`;
    return `${JSON.stringify(text)}\n`;
  }
  const entries = Object.entries(reply);
  if (entries.length === 0) return "(empty hash)\n";
  return entries
    .map(([key, value], index) => {
      const label = `${index + 1}# ${JSON.stringify(key)} => `;
      return (index === 0 ? "" : " ".repeat(indent)) + label + formatReply(value, indent + label.length);
    })
    .join("");
}

// ── bench ──────────────────────────────────────────────────────────────────────────────

async function benchCommand(args: string[], output: CliOutput, context: CliContext): Promise<number> {
  const root = context.packageRoot;
  const script = root === undefined ? undefined : join(root, "bench", "run.mjs");
  if (script === undefined || !existsSync(script)) {
    output.err(
      "rediscluster: the benchmark is not part of the installed package; run it from a clone of the\n" +
        "repository: npm install && npm run bench (see bench/README.md)\n",
    );
    return EXIT.failed;
  }
  const child = spawn(process.execPath, ["--expose-gc", script, ...args], { cwd: root, stdio: "inherit" });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (exitCode) => resolve(exitCode));
  });
  return code === 0 ? EXIT.ok : EXIT.failed;
}

// ── dev ────────────────────────────────────────────────────────────────────────────────

async function startCommand(options: DevCommandLine, output: CliOutput): Promise<number> {
  const existing = findDevClusterStateFile(options.name);
  if (existing !== undefined) {
    if (isRunning(existing)) {
      output.err(
        `rediscluster: a dev cluster named "${options.name}" is already running (state in ${existing}).\n` +
          `Stop it first: rediscluster dev stop${nameFlag(options.name)}\n`,
      );
      return 1;
    }
    // Left over from a cluster whose processes are gone (a reboot): clean it up.
    await forget(options.name, existing);
  }
  const startedAt = Date.now();
  const firstPort = await chooseFirstPort(options, output);
  const cluster = await startDevCluster({
    primaries: options.primaries,
    replicasPerPrimary: options.replicas,
    redisServer: options.redisServer,
    detached: true,
    tls: options.tls,
    firstPort,
  });
  registerDevCluster(options.name, cluster.stateFile);
  const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
  if (options.json) {
    output.out(JSON.stringify({ name: options.name, ...describe(cluster) }, null, 2) + "\n");
    return 0;
  }
  const primaries = cluster.nodes.filter((node) => node.role === "primary").length;
  output.out(
    `Dev cluster "${options.name}" is up in ${seconds} s: ${primaries} primaries, ` +
      `${cluster.nodes.length - primaries} replicas.\n` +
      `  seeds: ${cluster.seeds.join(",")}\n` +
      `  dir:   ${cluster.dir}\n` +
      (cluster.tls
        ? `  tls:   ca ${cluster.tls.caFile}\n         cert ${cluster.tls.certFile}\n         key ${cluster.tls.keyFile}\n`
        : "") +
      `Stop it with: npx rediscluster dev stop${nameFlag(options.name)}\n`,
  );
  return 0;
}

/**
 * The README's examples use 127.0.0.1:7000 and 7001 (where most Redis Cluster tutorials put
 * a local cluster), so `dev start` listens there when it can; elsewhere it says so and
 * takes free ports rather than fail.
 */
async function chooseFirstPort(options: DevCommandLine, output: CliOutput): Promise<number | undefined> {
  if (options.port !== undefined) return options.port === 0 ? undefined : options.port;
  const nodes = (options.primaries ?? 3) * (1 + (options.replicas ?? 1));
  if (await nodePortsFree("127.0.0.1", DEFAULT_FIRST_PORT, nodes)) return DEFAULT_FIRST_PORT;
  output.err(
    `rediscluster: ports ${DEFAULT_FIRST_PORT}-${DEFAULT_FIRST_PORT + nodes - 1} (or their bus ports) are taken: using free ports (printed below)\n`,
  );
  return undefined;
}

async function statusCommand(options: DevCommandLine, output: CliOutput): Promise<number> {
  const stateFile = findDevClusterStateFile(options.name);
  if (stateFile === undefined || !existsSync(stateFile)) {
    output.err(`rediscluster: no dev cluster named "${options.name}" (start one: rediscluster dev start)\n`);
    return 1;
  }
  const cluster = await attachDevCluster(stateFile);
  const view = await clusterView(cluster);
  let problem: string | undefined;
  try {
    await cluster.waitForHealthy(1);
  } catch (error) {
    problem = (error as Error).message.replace(/^.*?: /, "");
  }
  const nodes = cluster.nodes.map((node) => ({ ...node, health: nodeHealth(node, view) }));
  if (options.json) {
    const summary = {
      name: options.name,
      healthy: problem === undefined,
      problem,
      ...describe(cluster),
      nodes,
    };
    output.out(JSON.stringify(summary, null, 2) + "\n");
  } else {
    output.out(
      `Dev cluster "${options.name}" in ${cluster.dir}: ${problem === undefined ? "healthy" : `NOT healthy (${problem})`}\n`,
    );
    const rows = nodes.map((node) => [
      node.address,
      node.role,
      node.pid === undefined || node.health === "down" ? "-" : String(node.pid),
      slotsColumn(node, cluster.nodes),
      node.health,
    ]);
    output.out(table([["address", "role", "pid", "slots", "health"], ...rows]));
  }
  return problem === undefined ? EXIT.ok : EXIT.failed;
}

async function stopCommand(options: DevCommandLine, output: CliOutput): Promise<number> {
  const stateFile = findDevClusterStateFile(options.name);
  if (stateFile === undefined) {
    output.err(`rediscluster: no dev cluster named "${options.name}" to stop\n`);
    return 1;
  }
  const count = await forget(options.name, stateFile);
  output.out(`Stopped dev cluster "${options.name}" (${count} node${count === 1 ? "" : "s"}).\n`);
  return 0;
}

/** Stops the cluster of a registry entry (if anything is left of it) and deletes the entry. */
async function forget(name: string, stateFile: string): Promise<number> {
  let count = 0;
  if (existsSync(stateFile)) {
    const cluster = await attachDevCluster(stateFile);
    count = cluster.nodes.length;
    await cluster.stop();
  }
  unregisterDevCluster(name);
  return count;
}

/**
 * The nodes as one live node sees them (flags included), if any node answers. Paused nodes
 * are not asked, and each probe is bounded: a node that does not answer within
 * PROBE_TIMEOUT_MS is passed over, so that status answers in seconds whatever the nodes do.
 */
async function clusterView(cluster: DevCluster): Promise<ClusterNodesEntry[]> {
  for (const node of cluster.nodes) {
    if (node.pid === undefined || isProcessStopped(node.pid)) continue;
    try {
      return parseClusterNodes(
        String(await cluster.probe(node.port, ["CLUSTER", "NODES"], PROBE_TIMEOUT_MS)),
      );
    } catch {
      // Paused, dying or too slow: ask the next one.
    }
  }
  return [];
}

function nodeHealth(node: DevNode, view: readonly ClusterNodesEntry[]): string {
  if (node.pid === undefined || !isRedisServerProcess(node.pid, "redis-server")) return "down";
  if (isProcessStopped(node.pid)) return "paused";
  const flags = view.find((entry) => entry.port === node.port)?.flags ?? [];
  if (flags.includes("fail")) return "fail";
  if (flags.includes("fail?")) return "pfail";
  if (flags.includes("handshake")) return "handshake";
  return view.length > 0 ? "online" : "no answer";
}

function slotsColumn(node: DevNode, nodes: readonly DevNode[]): string {
  if (node.role === "replica") {
    const primary = nodes.find((candidate) => candidate.id === node.primaryId);
    return `(replica of ${primary?.port ?? node.primaryId?.slice(0, 8) ?? "?"})`;
  }
  return node.slots.length > 0 ? formatRanges(node.slots) : "-";
}

function describe(cluster: DevCluster) {
  return {
    seeds: cluster.seeds,
    dir: cluster.dir,
    stateFile: cluster.stateFile,
    ...(cluster.tls
      ? { tls: { caFile: cluster.tls.caFile, certFile: cluster.tls.certFile, keyFile: cluster.tls.keyFile } }
      : {}),
    nodes: cluster.nodes,
  };
}

function table(rows: readonly string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) => `  ${row.map((cell, column) => cell.padEnd(widths[column]!)).join("  ")}`.trimEnd() + "\n")
    .join("");
}

function isRunning(stateFile: string): boolean {
  try {
    const state = readStateFile(stateFile);
    return state.nodes.some((node) => node.pid !== null && isRedisServerProcess(node.pid, state.redisServer));
  } catch {
    return false;
  }
}

function nameFlag(name: string): string {
  return name === DEFAULT_CLUSTER_NAME ? "" : ` --name ${name}`;
}
