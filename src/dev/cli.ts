/**
 * `rediscluster dev start|status|stop`: a local cluster that outlives the command that
 * started it. `start` records where the cluster's state file is under a name (see
 * registry.ts), so that `status` and `stop`, run later by other processes, find it.
 *
 * Compiled to CommonJS too (bin/rediscluster.cjs loads dist/cjs/dev/cli.js): no
 * import.meta, no top-level await here.
 */
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { attachDevCluster, startDevCluster } from "./cluster.js";
import { type ClusterNodesEntry, formatRanges, parseClusterNodes } from "./cluster-view.js";
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

const HELP = `Usage: rediscluster dev <command> [options]

A throwaway Redis Cluster on 127.0.0.1, from the redis-server on your PATH (Redis 7+).

Commands:
  start    Start a cluster in the background and print its seeds
  status   Show every node: address, role, PID, slots, health
  stop     Stop every node (by PID) and delete the cluster's folder

Options:
  --primaries <n>       start: number of primaries (default 3)
  --replicas <n>        start: replicas per primary (default 1)
  --redis-server <path> start: the redis-server to run (default: redis-server on PATH)
  --tls                 start: TLS only, with a throwaway CA and certificates (printed)
  --name <name>         which cluster (default "current"); several can run side by side
  --json                start, status: print JSON
  -h, --help            show this help

Exit codes: 0 done; 1 failed (the reason is on stderr); 2 status: the cluster runs but is
not healthy.

Examples:
  npx rediscluster dev start
  npx rediscluster dev start --primaries 3 --replicas 0 --json
  npx rediscluster dev start --tls
  npx rediscluster dev status
  npx rediscluster dev stop
`;

const consoleOutput: CliOutput = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/** Raised for a wrong command line: printed with a pointer to --help. */
class UsageError extends Error {}

/**
 * Runs the CLI and resolves with the process exit code. Never throws: failures are
 * printed on `output.err`.
 *
 * @example
 * process.exitCode = await main(process.argv.slice(2));
 */
export async function main(argv: readonly string[], output: CliOutput = consoleOutput): Promise<number> {
  let parsed: ReturnType<typeof parseCommandLine>;
  try {
    parsed = parseCommandLine(argv);
  } catch (error) {
    output.err(`rediscluster: ${(error as Error).message}\nRun \`rediscluster --help\` for usage.\n`);
    return 1;
  }
  if (parsed.help) {
    output.out(HELP);
    return 0;
  }
  if (parsed.command === undefined) {
    output.err(HELP);
    return 1;
  }
  try {
    switch (parsed.command) {
      case "start":
        return await startCommand(parsed, output);
      case "status":
        return await statusCommand(parsed, output);
      case "stop":
        return await stopCommand(parsed, output);
    }
  } catch (error) {
    output.err(`rediscluster: ${(error as Error).message}\n`);
    return 1;
  }
}

interface CommandLine {
  help: boolean;
  /** Undefined when no command was given at all (usage goes to stderr). */
  command: "start" | "status" | "stop" | undefined;
  name: string;
  json: boolean;
  primaries: number | undefined;
  replicas: number | undefined;
  redisServer: string | undefined;
  tls: boolean;
}

function parseCommandLine(argv: readonly string[]): CommandLine {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      help: { type: "boolean", short: "h" },
      json: { type: "boolean" },
      name: { type: "string" },
      primaries: { type: "string" },
      replicas: { type: "string" },
      "redis-server": { type: "string" },
      tls: { type: "boolean" },
    },
  });
  const [group, command, ...rest] = positionals;
  const base = {
    name: values.name ?? DEFAULT_CLUSTER_NAME,
    json: values.json ?? false,
    primaries: integerOption(values.primaries, "--primaries", 1),
    replicas: integerOption(values.replicas, "--replicas", 0),
    redisServer: values["redis-server"],
    tls: values.tls ?? false,
  };
  if (values.help || group === "help") return { help: true, command: undefined, ...base };
  if (group === undefined) return { help: false, command: undefined, ...base };
  if (group !== "dev") throw new UsageError(`unknown command "${group}" (the commands are under "dev")`);
  if (command !== "start" && command !== "status" && command !== "stop") {
    throw new UsageError(
      command === undefined ? "missing command: start, status or stop" : `unknown command "dev ${command}"`,
    );
  }
  if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
  if (!/^[A-Za-z0-9._-]+$/.test(base.name))
    throw new UsageError("--name takes letters, digits, '.', '_' and '-'");
  return { help: false, command, ...base };
}

function integerOption(value: string | undefined, flag: string, minimum: number): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!/^\d+$/.test(value) || number < minimum) throw new UsageError(`${flag} needs an integer ≥ ${minimum}`);
  return number;
}

async function startCommand(options: CommandLine, output: CliOutput): Promise<number> {
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
  const cluster = await startDevCluster({
    primaries: options.primaries,
    replicasPerPrimary: options.replicas,
    redisServer: options.redisServer,
    detached: true,
    tls: options.tls,
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

async function statusCommand(options: CommandLine, output: CliOutput): Promise<number> {
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
  return problem === undefined ? 0 : 2;
}

async function stopCommand(options: CommandLine, output: CliOutput): Promise<number> {
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

/** The nodes as one live node sees them (flags included), if any node answers. */
async function clusterView(cluster: DevCluster): Promise<ClusterNodesEntry[]> {
  for (const node of cluster.nodes) {
    if (node.pid === undefined) continue;
    try {
      return parseClusterNodes(String(await cluster.command(node.port, "CLUSTER", "NODES")));
    } catch {
      // Paused or dying: ask the next one.
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
