/**
 * The redis.conf of one dev node. Each line is here for a reason that matters to tests:
 * quick failure detection, no persistence, fast replica sync, stable roles.
 */

export interface NodeConfig {
  port: number;
  /** Absolute folder of the node: its nodes.conf, log and (never written) dumps. */
  dir: string;
  nodeTimeoutMs: number;
  extraConfig: readonly string[];
}

/** File names inside a node's folder. */
export const NODE_FILES = {
  config: "redis.conf",
  log: "redis.log",
  output: "output.log",
} as const;

/**
 * Renders the config file text.
 *
 * @example
 * writeFileSync("redis.conf", renderNodeConfig({ port: 10001, dir, nodeTimeoutMs: 2000, extraConfig: [] }));
 */
export function renderNodeConfig(config: NodeConfig): string {
  const lines = [
    "bind 127.0.0.1",
    `port ${config.port}`,
    `dir ${quote(config.dir)}`,
    "daemonize no",
    `logfile ${quote(NODE_FILES.log)}`,
    "cluster-enabled yes",
    // Relative to `dir`; kept across restartNode() so the node rejoins as itself.
    "cluster-config-file nodes.conf",
    `cluster-node-timeout ${config.nodeTimeoutMs}`,
    // Roles stay where the tests put them: no replica wanders off to an orphaned primary.
    "cluster-allow-replica-migration no",
    'save ""',
    "appendonly no",
    // Tests use DEBUG SLEEP to make a node slow.
    "enable-debug-command local",
    // Redis 7 waits 5 s by default for more replicas before a diskless full sync; a dev
    // cluster has at most a few, and that wait alone would double its start-up time.
    "repl-diskless-sync-delay 0",
    // The primary's periodic PING to its replicas goes through the replication stream.
    // Every second (instead of 10) makes a new replica's offset non-zero soon after it
    // syncs, even with no writes: Redis 7.0 leaves a replica with offset 0 out of CLUSTER
    // SLOTS, and clients would not see it.
    "repl-ping-replica-period 1",
    // A primary stopped with SIGTERM would wait up to 10 s for its replicas to catch up.
    "shutdown-timeout 0",
    ...config.extraConfig,
  ];
  return lines.join("\n") + "\n";
}

/** Quotes a value the way redis.conf reads it (double quotes, backslash escapes). */
function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, (char) => `\\${char}`)}"`;
}
