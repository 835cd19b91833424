/**
 * The client's options: what a user may pass, checked and normalised in one place. Every
 * mistake is a `ConfigError` naming the option and saying what it accepts. The Lua client's
 * option names (resty-redis-cluster) are accepted as aliases, so that a port is mechanical.
 */
import type { ConnectionOptions as TlsOptions } from "node:tls";
import type { ReadFrom } from "./cluster/router.js";
import { type HostPort, parseAddress } from "./connection/address.js";
import { ConfigError } from "./errors.js";
import type { DecoderLimits } from "./resp/types.js";

/** A seed node: `"host:port"` or `{ host, port }`. */
export type SeedNode = string | { host: string; port: number };

/** Maps the address a node announces to the one to connect to (Docker, Kubernetes, NAT). */
export type NatMap =
  | Record<string, { host: string; port: number }>
  | ((host: string, port: number) => HostPort);

/**
 * Options of `new RedisCluster(options)`. Durations are in milliseconds.
 *
 * @example
 * new RedisCluster({ nodes: ["127.0.0.1:7001"], readFrom: "replica", commandTimeout: 2000 });
 */
export interface RedisClusterOptions {
  /** Seed nodes; any one reachable is enough. */
  nodes?: SeedNode[];
  /** Where read-only commands go (default `"primary"`). */
  readFrom?: ReadFrom;
  /** Give up connecting to a node after this long (default 2000). */
  connectTimeout?: number;
  /**
   * A command's whole budget, from the call until it settles, across every retry and
   * redirection (default 5000). Blocking commands get their own timeout on top.
   */
  commandTimeout?: number;
  /** Close connections idle this long; 0 keeps them open (default 0). */
  idleTimeout?: number;
  /** ACL user name. */
  username?: string;
  /** Password (ACL or `requirepass`). Never appears in errors, logs or events. */
  password?: string;
  /** TLS for every node connection: `true` or Node's `tls.connect` options. */
  tls?: boolean | TlsOptions;
  /** Address translation for nodes behind NAT. */
  natMap?: NatMap;
  /** RESP version (default 2). 3 is needed for client-side caching. */
  protocol?: 2 | 3;
  /** Sent as `CLIENT SETNAME` on every connection. */
  clientName?: string;
  /** MOVED/ASK redirections one command may follow (default 16). */
  maxRedirections?: number;
  /**
   * Resend writes that are not idempotent after a connection broke with them in flight
   * (at-least-once). Default false: such a write fails with `ConnectionError` whose
   * `outcomeUnknown` is true.
   */
  retryUnsafeWrites?: boolean;
  /** Send commands issued in the same tick to a node in one write (default true). */
  autoPipelining?: boolean;
  /** Commands in flight per node connection before further ones wait (default 10000). */
  maxInFlight?: number;
  /** Commands that may wait for a topology or an unserved slot (default 10000). */
  maxOfflineQueue?: number;
  /**
   * Dedicated connections open at once per node, for blocking calls (BLPOP, XREAD BLOCK,
   * ...), which must not hold up the node's shared connection, and for WATCH sessions
   * (`watch()`, `optimistic()`), which hold one for their callback (default 64; one limit for
   * both). More calls and sessions on one node wait for one to be free, in order, within
   * their deadline.
   */
  maxBlockingConnections?: number;
  /** Periodic topology refresh, jittered; 0 turns it off (default 30000). */
  refreshInterval?: number;
  /** Least time between two topology refreshes (default: 100 + 10 per node, at most 1000). */
  minRefreshInterval?: number;
  /** Prepended to every key (not to channels or patterns). */
  keyPrefix?: string;
  /** Limits on replies, against a broken or hostile server. */
  maxReplyLimits?: Partial<DecoderLimits>;
  /** A name for this client in stats and diagnostics (resty's `name`). */
  name?: string;

  // resty-redis-cluster aliases
  /** Alias of `nodes` (resty-redis-cluster). */
  serv_list?: Array<{ ip: string; port: number }>;
  /** Alias of `connectTimeout` (resty-redis-cluster's own spelling). */
  connection_timout?: number;
  /** Alias of `connectTimeout`. */
  connection_timeout?: number;
  /** Alias of `idleTimeout`. */
  keepalive_timeout?: number;
  /**
   * Accepted for resty compatibility: one multiplexed connection per node replaces the
   * connection pool, so the number has no effect.
   */
  keepalive_cons?: number;
  /** `true` = `readFrom: "any"`: random among the slot's primary and replicas (resty). */
  enableSlaveRead?: boolean;
}

/** Options after validation, defaults filled in. */
export interface NormalizedOptions {
  seeds: HostPort[];
  readFrom: ReadFrom;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  idleTimeoutMs: number;
  username: string | undefined;
  password: string | undefined;
  tls: boolean | TlsOptions | undefined;
  mapAddress: (host: string, port: number) => HostPort;
  protocol: 2 | 3;
  clientName: string | undefined;
  maxRedirections: number;
  retryUnsafeWrites: boolean;
  autoPipelining: boolean;
  maxInFlight: number;
  maxOfflineQueue: number;
  maxBlockingConnections: number;
  refreshIntervalMs: number;
  minRefreshIntervalMs: number | undefined;
  keyPrefix: string | undefined;
  decoderLimits: Partial<DecoderLimits> | undefined;
  name: string | undefined;
}

const KNOWN_OPTIONS = new Set<string>([
  "nodes",
  "readFrom",
  "connectTimeout",
  "commandTimeout",
  "idleTimeout",
  "username",
  "password",
  "tls",
  "natMap",
  "protocol",
  "clientName",
  "maxRedirections",
  "retryUnsafeWrites",
  "autoPipelining",
  "maxInFlight",
  "maxOfflineQueue",
  "maxBlockingConnections",
  "refreshInterval",
  "minRefreshInterval",
  "keyPrefix",
  "maxReplyLimits",
  "name",
  "serv_list",
  "connection_timout",
  "connection_timeout",
  "keepalive_timeout",
  "keepalive_cons",
  "enableSlaveRead",
]);

const READ_FROM: readonly ReadFrom[] = ["primary", "replica", "preferReplica", "any", "nearest"];

export function normalizeOptions(options: RedisClusterOptions | undefined): NormalizedOptions {
  if (options === null || typeof options !== "object") {
    throw new ConfigError("options", "pass an object, e.g. { nodes: ['127.0.0.1:7001'] }");
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) {
      throw new ConfigError(key, `unknown option (known: ${[...KNOWN_OPTIONS].join(", ")})`);
    }
  }
  const o = options;
  const readFrom = readFromOption(o);
  // resty's pool size: checked, then unused (one multiplexed connection per node).
  integer(o, "keepalive_cons", 1, 1);
  return {
    seeds: seedsOption(o),
    readFrom,
    connectTimeoutMs: alias(
      o,
      ["connectTimeout", "connection_timeout", "connection_timout"],
      2000,
      positiveMs,
    ),
    commandTimeoutMs: duration("commandTimeout", o.commandTimeout, 5000, positiveMs),
    idleTimeoutMs: alias(o, ["idleTimeout", "keepalive_timeout"], 0, nonNegativeMs),
    username: optionalString(o, "username"),
    password: optionalString(o, "password"),
    tls: tlsOption(o.tls),
    mapAddress: natMapOption(o.natMap),
    protocol: protocolOption(o.protocol),
    clientName: clientNameOption(o.clientName),
    maxRedirections: integer(o, "maxRedirections", 16, 0),
    retryUnsafeWrites: boolean(o, "retryUnsafeWrites", false),
    autoPipelining: boolean(o, "autoPipelining", true),
    maxInFlight: integer(o, "maxInFlight", 10_000, 1),
    maxOfflineQueue: integer(o, "maxOfflineQueue", 10_000, 0),
    maxBlockingConnections: integer(o, "maxBlockingConnections", 64, 1),
    refreshIntervalMs: duration("refreshInterval", o.refreshInterval, 30_000, nonNegativeMs),
    minRefreshIntervalMs:
      o.minRefreshInterval === undefined
        ? undefined
        : duration("minRefreshInterval", o.minRefreshInterval, 0, nonNegativeMs),
    keyPrefix: optionalString(o, "keyPrefix"),
    decoderLimits: replyLimitsOption(o.maxReplyLimits),
    name: optionalString(o, "name"),
  };
}

function seedsOption(o: RedisClusterOptions): HostPort[] {
  if (o.nodes !== undefined && o.serv_list !== undefined) {
    throw new ConfigError("serv_list", "give the seeds once, as nodes or as serv_list, not both");
  }
  if (o.serv_list !== undefined) {
    if (!Array.isArray(o.serv_list) || o.serv_list.length === 0) {
      throw new ConfigError("serv_list", "expected a non-empty array of { ip, port }");
    }
    return o.serv_list.map((entry, i) => {
      if (entry === null || typeof entry !== "object" || typeof entry.ip !== "string") {
        throw new ConfigError("serv_list", `entry ${i} must be { ip: string, port: number }`);
      }
      return { host: entry.ip, port: portOf("serv_list", entry.port, i) };
    });
  }
  if (!Array.isArray(o.nodes) || o.nodes.length === 0) {
    throw new ConfigError("nodes", "give at least one seed node, e.g. nodes: ['127.0.0.1:7001']");
  }
  return o.nodes.map((seed, i) => {
    if (typeof seed === "string") {
      const address = parseAddress(seed);
      if (address === undefined || address.host === "") {
        throw new ConfigError("nodes", `entry ${i} ("${seed}") is not "host:port"`);
      }
      return address;
    }
    if (seed === null || typeof seed !== "object" || typeof seed.host !== "string" || seed.host === "") {
      throw new ConfigError("nodes", `entry ${i} must be "host:port" or { host, port }`);
    }
    return { host: seed.host, port: portOf("nodes", seed.port, i) };
  });
}

function portOf(option: string, port: unknown, index: number): number {
  if (typeof port !== "number" || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new ConfigError(option, `entry ${index} has no valid port (1-65535)`);
  }
  return port;
}

function readFromOption(o: RedisClusterOptions): ReadFrom {
  if (o.enableSlaveRead !== undefined && typeof o.enableSlaveRead !== "boolean") {
    throw new ConfigError("enableSlaveRead", "expected true or false");
  }
  if (o.readFrom !== undefined) {
    if (!READ_FROM.includes(o.readFrom)) {
      throw new ConfigError("readFrom", `expected one of ${READ_FROM.map((r) => `"${r}"`).join(", ")}`);
    }
    if (o.enableSlaveRead === true && o.readFrom === "primary") {
      throw new ConfigError("enableSlaveRead", 'contradicts readFrom: "primary"; keep one of them');
    }
    return o.readFrom;
  }
  return o.enableSlaveRead === true ? "any" : "primary";
}

type Check = (value: number) => string | undefined;
const positiveMs: Check = (value) => (value > 0 ? undefined : "expected a positive number of milliseconds");
const nonNegativeMs: Check = (value) => (value >= 0 ? undefined : "expected 0 or more milliseconds");

function duration(name: string, value: unknown, fallback: number, check: Check): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new ConfigError(name, "expected a finite number of milliseconds");
  }
  const problem = check(value);
  if (problem) throw new ConfigError(name, problem);
  return value;
}

function alias(
  o: RedisClusterOptions,
  names: Array<keyof RedisClusterOptions>,
  fallback: number,
  check: Check,
): number {
  const given = names.filter((name) => o[name] !== undefined);
  if (given.length > 1) throw new ConfigError(given[1]!, `is an alias of ${given[0]}; give only one`);
  const name = given[0];
  return name === undefined ? fallback : duration(name, o[name], fallback, check);
}

function integer(
  o: RedisClusterOptions,
  name: keyof RedisClusterOptions,
  fallback: number,
  min: number,
): number {
  const value = o[name];
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    throw new ConfigError(name, `expected an integer of at least ${min}`);
  }
  return value;
}

function boolean(o: RedisClusterOptions, name: keyof RedisClusterOptions, fallback: boolean): boolean {
  const value = o[name];
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") throw new ConfigError(name, "expected true or false");
  return value;
}

function optionalString(o: RedisClusterOptions, name: keyof RedisClusterOptions): string | undefined {
  const value = o[name];
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw new ConfigError(name, "expected a string");
  return value;
}

function tlsOption(tls: unknown): boolean | TlsOptions | undefined {
  if (tls === undefined || tls === false) return undefined;
  if (tls === true || (typeof tls === "object" && tls !== null)) return tls as true | TlsOptions;
  throw new ConfigError("tls", "expected true or an object of tls.connect options");
}

function natMapOption(natMap: unknown): (host: string, port: number) => HostPort {
  if (natMap === undefined) return (host, port) => ({ host, port });
  if (typeof natMap === "function") {
    const map = natMap as (host: string, port: number) => HostPort;
    return (host, port) => {
      const mapped = map(host, port);
      return mapped && typeof mapped.host === "string" && Number.isInteger(mapped.port)
        ? mapped
        : { host, port };
    };
  }
  if (typeof natMap !== "object" || natMap === null) {
    throw new ConfigError("natMap", 'expected { "host:port": { host, port } } or a function');
  }
  const table = new Map<string, HostPort>();
  for (const [from, to] of Object.entries(natMap as Record<string, HostPort>)) {
    if (
      parseAddress(from) === undefined ||
      to === null ||
      typeof to !== "object" ||
      typeof to.host !== "string"
    ) {
      throw new ConfigError("natMap", `entry "${from}" must map "host:port" to { host, port }`);
    }
    table.set(from, { host: to.host, port: portOf("natMap", to.port, 0) });
  }
  return (host, port) => table.get(`${host}:${port}`) ?? { host, port };
}

function replyLimitsOption(limits: unknown): Partial<DecoderLimits> | undefined {
  if (limits === undefined) return undefined;
  if (limits === null || typeof limits !== "object") {
    throw new ConfigError("maxReplyLimits", "expected { maxBulkLength?, maxAggregateLength?, maxDepth? }");
  }
  const known = ["maxBulkLength", "maxAggregateLength", "maxDepth"];
  for (const [name, value] of Object.entries(limits)) {
    if (!known.includes(name))
      throw new ConfigError("maxReplyLimits", `unknown limit ${name} (known: ${known.join(", ")})`);
    if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
      throw new ConfigError("maxReplyLimits", `${name} must be a positive integer`);
    }
  }
  return limits as Partial<DecoderLimits>;
}

function protocolOption(protocol: unknown): 2 | 3 {
  if (protocol === undefined) return 2;
  if (protocol === 2 || protocol === 3) return protocol;
  throw new ConfigError("protocol", "expected 2 or 3");
}

function clientNameOption(name: unknown): string | undefined {
  if (name === undefined) return undefined;
  if (typeof name !== "string" || /\s/.test(name) || name === "") {
    throw new ConfigError("clientName", "expected a non-empty string without spaces (Redis refuses spaces)");
  }
  return name;
}
