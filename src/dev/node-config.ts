/**
 * The redis.conf of one dev node. Each line is here for a reason that matters to tests:
 * quick failure detection, no persistence, fast replica sync, stable roles.
 */

import { BUS_PORT_OFFSET } from "./ports.js";
import type { DevAclUser } from "./types.js";

/** What one node's redis.conf is written from. */
export interface NodeConfig {
  /** The loopback address to bind. */
  host: string;
  /** The port clients use: the TLS port of a TLS node (which then has no plain port). */
  port: number;
  /** Absolute folder of the node: its nodes.conf, log and (never written) dumps. */
  dir: string;
  nodeTimeoutMs: number;
  extraConfig: readonly string[];
  /** TLS everywhere: clients, cluster bus, replication. */
  tls?: { caFile: string; certFile: string; keyFile: string; mutual: boolean } | undefined;
  /** ACL users (the admin user first) and the credentials replicas use with their primary. */
  acl?: { users: readonly DevAclUser[]; replicationUser: { name: string; password: string } } | undefined;
  /** What the node announces instead of its own address. */
  announce?:
    | {
        ip?: string | undefined;
        port?: number | undefined;
        hostname?: string | undefined;
        preferredEndpoint?: string | undefined;
      }
    | undefined;
}

/** The rules of a user given none: everything, like the default user of a fresh Redis. */
export const ALL_PERMISSIONS = "on ~* &* +@all";

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
 * writeFileSync("redis.conf", renderNodeConfig({ host: "127.0.0.1", port: 10001, dir, nodeTimeoutMs: 2000, extraConfig: [] }));
 */
export function renderNodeConfig(config: NodeConfig): string {
  const lines = [
    `bind ${config.host}`,
    ...portLines(config),
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
    ...aclLines(config),
    ...announceLines(config),
    ...config.extraConfig,
  ];
  return lines.join("\n") + "\n";
}

function portLines(config: NodeConfig): string[] {
  const { tls } = config;
  if (!tls) return [`port ${config.port}`];
  return [
    // No plain-TCP port at all: a client that does not speak TLS is refused, not served.
    "port 0",
    `tls-port ${config.port}`,
    `tls-cert-file ${quote(tls.certFile)}`,
    `tls-key-file ${quote(tls.keyFile)}`,
    `tls-ca-cert-file ${quote(tls.caFile)}`,
    // The bus and replication links present the node certificate, which is also a client one.
    "tls-cluster yes",
    "tls-replication yes",
    `tls-auth-clients ${tls.mutual ? "yes" : "optional"}`,
  ];
}

function aclLines(config: NodeConfig): string[] {
  const { acl } = config;
  if (!acl) return [];
  const lines = acl.users.map((user) => {
    const rules = (user.rules ?? ALL_PERMISSIONS).split(/\s+/).filter((rule) => rule !== "");
    if (user.password !== undefined) rules.push(`>${user.password}`);
    // Quoted one by one: a password may hold spaces or quotes.
    return ["user", quote(user.name), ...rules.map(quote)].join(" ");
  });
  lines.push(
    `masteruser ${quote(acl.replicationUser.name)}`,
    `masterauth ${quote(acl.replicationUser.password)}`,
  );
  return lines;
}

function announceLines(config: NodeConfig): string[] {
  const { announce, tls } = config;
  if (!announce) return [];
  const lines: string[] = [];
  if (announce.ip !== undefined) lines.push(`cluster-announce-ip ${quote(announce.ip)}`);
  if (announce.port !== undefined) {
    lines.push(
      `${tls ? "cluster-announce-tls-port" : "cluster-announce-port"} ${announce.port}`,
      // The bus port is announced as it is: otherwise it would default to the announced port
      // + 10000, and the nodes could not reach each other.
      `cluster-announce-bus-port ${config.port + BUS_PORT_OFFSET}`,
    );
  }
  if (announce.hostname !== undefined) lines.push(`cluster-announce-hostname ${quote(announce.hostname)}`);
  if (announce.preferredEndpoint !== undefined)
    lines.push(`cluster-preferred-endpoint-type ${announce.preferredEndpoint}`);
  return lines;
}

/** Quotes a value the way redis.conf reads it (double quotes, backslash escapes). */
function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, (char) => `\\${char}`)}"`;
}
