/**
 * The client's options: what a user may pass, checked and normalised in one place. Every
 * mistake is a `ConfigError` naming the option and saying what it accepts. The Lua client's
 * option names (resty-redis-cluster) are accepted as aliases, so that a port is mechanical.
 */
import type { ConnectionOptions as TlsOptions } from "node:tls";
import {
  type ClientCacheOptions,
  type NormalizedCacheOptions,
  normalizeClientCache,
} from "./cache/options.js";
import type { ReadFrom } from "./cluster/router.js";
import type { RespVersion } from "./command/types.js";
import {
  formatAddress,
  type HostPort,
  isValidAddress,
  isValidHost,
  isValidPort,
  parseAddress,
  parseSeedAddress,
} from "./connection/address.js";
import { type ConnectTo, connectToProblem, HostAllowList } from "./connection/allow-list.js";
import type { CredentialsProvider, MovingEndpointType } from "./connection/types.js";
import { ConfigError } from "./errors.js";
import type { DecoderLimits } from "./resp/types.js";

/**
 * A seed node: `"host:port"`, `"[::1]:7000"` for IPv6, `{ host, port }`, or a URL
 * `redis://[user:password@]host[:port][/0]` (`rediss://` for TLS; the port defaults to 6379).
 */
export type SeedNode = string | HostPort;

/**
 * Maps the address a node announces to the one to connect to (Docker, Kubernetes, NAT):
 * a table keyed by `"host:port"` (`"[::1]:7000"` for IPv6), or a function. A function that
 * throws or returns something other than `{ host, port }` with a port 1-65535 makes that
 * node unusable (skipped in the topology, refused as a redirection target): never a silent
 * fall-back to the announced address.
 */
export type NatMap = Record<string, HostPort> | ((host: string, port: number) => HostPort);

/** The longest duration a Node timer can wait: 2^31 - 1 ms, about 24.8 days. */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/**
 * Options of `new RedisCluster(options)`. Durations are in milliseconds, at most 2^31 - 1
 * (about 24.8 days, the longest a timer can wait). The seeds are required: `nodes`, or
 * resty-redis-cluster's `serv_list`. `R` is the `protocol` option, which the replies are
 * typed for.
 *
 * @example
 * new RedisCluster({ nodes: ["127.0.0.1:7001"], readFrom: "replica", commandTimeout: 2000 });
 */
export type RedisClusterOptions<R extends RespVersion = 2> = RedisClusterCommonOptions<R> &
  (
    | {
        /** Seed nodes; any one reachable is enough. See {@link SeedNode} for the forms (URLs too). */
        nodes: SeedNode[];
      }
    | {
        /** Alias of `nodes` (resty-redis-cluster). */
        serv_list: RestySeed[];
      }
  );

/** A seed node in resty-redis-cluster's spelling (`serv_list` entries). */
export interface RestySeed {
  /** The node's host name or IP address. */
  ip: string;
  /** The node's port. */
  port: number;
}

/** What the checks below read: either seed spelling, both optional (a caller may give neither). */
type CheckedOptions = RedisClusterCommonOptions<RespVersion> & {
  nodes?: SeedNode[];
  serv_list?: RestySeed[];
};

/** Every option of `RedisClusterOptions` but the seeds. */
export interface RedisClusterCommonOptions<R extends RespVersion = 2> {
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
  /**
   * Called on every (re)connect of every connection for the credentials to send, for
   * rotating tokens (e.g. cloud IAM). Exclusive with `username`/`password`. A provider that
   * throws or rejects fails that connection with an `AuthError` whose `cause` is its error.
   *
   * @example
   * credentials: async () => ({ username: "app", password: await tokens.current() })
   */
  credentials?: CredentialsProvider;
  /**
   * Where connections (and so the credentials) may go: `"cluster"` (default: the seeds'
   * hosts and the hosts the cluster's topology names), `{ hosts?, cidrs? }` (only these), or
   * `"any"`. A topology entry or redirection to a host outside is refused: no socket is opened.
   */
  connectTo?: ConnectTo;
  /** TLS for every node connection: `true` or Node's `tls.connect` options. */
  tls?: boolean | TlsOptions;
  /** Address translation for nodes behind NAT. */
  natMap?: NatMap;
  /**
   * RESP version (default 2). 3 is needed for client-side caching. Reply types follow it
   * (under 3, ZSCORE is a number and XREAD an object). A server without `HELLO` (Redis < 6)
   * gets `AUTH` instead, and that connection speaks RESP2.
   */
  protocol?: R;
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
  /**
   * Commands that may wait on one node connection (while it connects, or past `maxInFlight`)
   * before further ones fail at once with `ConnectionError`, unsent (default 100000).
   */
  maxQueuedPerNode?: number;
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
  /**
   * Limits on replies, against a broken or hostile server: `maxBulkLength` (512 MiB),
   * `maxAggregateLength` (2^27 elements), `maxDepth` (64), `maxReplyBytes` (1 GiB per reply).
   */
  maxReplyLimits?: Partial<DecoderLimits>;
  /** A name for this client in stats and diagnostics (resty's `name`). */
  name?: string;
  /**
   * Maintenance notifications of managed services (Redis Cloud / Redis Software "smart client
   * handoffs", Redis 8 slot migrations): RESP3 pushes announcing a migration, a failover or an
   * endpoint move shortly before it happens. With `protocol: 3` they are asked for by default
   * (a server without them refuses, and nothing changes); `false` does not ask. While one is
   * under way on a node, its commands get at least `relaxedTimeout` ms (default 10000); a
   * `MOVING` opens a connection to the new endpoint before the old one is dropped. See the
   * README's "Maintenance notifications".
   */
  maintenanceNotifications?: boolean | MaintenanceNotificationOptions;
  /**
   * The availability zone this client runs in (e.g. `"us-east-1a"`), for `readFrom:
   * "sameAz"`: reads go to nodes that report the same zone (Valkey 8's `availability-zone`).
   */
  availabilityZone?: string;
  /**
   * Client-side caching: cacheable reads answered from memory until the server says their
   * key changed (RESP3 `CLIENT TRACKING`). Off by default. It needs RESP3: `protocol: 2` is
   * a `ConfigError`, and without `protocol` the client speaks RESP3 — so TypeScript takes
   * `clientCache` only with `protocol: 3` (the replies are typed RESP3's way; without it the
   * field's type is `never`). See the README's "Client-side caching".
   *
   * @example
   * new RedisCluster({ nodes, protocol: 3, clientCache: { maxEntries: 10_000 } });
   */
  clientCache?: R extends 3 ? ClientCacheOptions : never;

  // resty-redis-cluster aliases (serv_list: see RedisClusterOptions)
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

/** Tuning of `maintenanceNotifications`. */
export interface MaintenanceNotificationOptions {
  /**
   * Least time, in ms, a command has while its node is in a maintenance window: those in
   * flight when it opens, and those sent to the node while it is open (default 10000).
   */
  relaxedTimeout?: number;
  /**
   * How a `MOVING` notification names the new endpoint (default `"auto"`: by the
   * connection, `*-fqdn` under TLS, `*-ip` otherwise; internal for a private IP).
   */
  endpointType?: MovingEndpointType | "auto";
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
  credentials: CredentialsProvider | undefined;
  connectTo: ConnectTo;
  tls: boolean | TlsOptions | undefined;
  mapAddress: (host: string, port: number) => HostPort;
  protocol: 2 | 3;
  clientName: string | undefined;
  maxRedirections: number;
  retryUnsafeWrites: boolean;
  autoPipelining: boolean;
  maxInFlight: number;
  maxQueuedPerNode: number;
  maxOfflineQueue: number;
  maxBlockingConnections: number;
  refreshIntervalMs: number;
  minRefreshIntervalMs: number | undefined;
  keyPrefix: string | undefined;
  decoderLimits: Partial<DecoderLimits> | undefined;
  name: string | undefined;
  /** Maintenance notifications asked for (undefined: not). */
  maintenance: { relaxedTimeoutMs: number; endpointType: MovingEndpointType | "auto" } | undefined;
  availabilityZone: string | undefined;
  clientCache: NormalizedCacheOptions | undefined;
}

const KNOWN_OPTIONS = new Set<string>([
  "nodes",
  "readFrom",
  "connectTimeout",
  "commandTimeout",
  "idleTimeout",
  "username",
  "password",
  "credentials",
  "connectTo",
  "tls",
  "natMap",
  "protocol",
  "clientName",
  "maxRedirections",
  "retryUnsafeWrites",
  "autoPipelining",
  "maxInFlight",
  "maxQueuedPerNode",
  "maxOfflineQueue",
  "maxBlockingConnections",
  "refreshInterval",
  "minRefreshInterval",
  "keyPrefix",
  "maxReplyLimits",
  "name",
  "maintenanceNotifications",
  "availabilityZone",
  "clientCache",
  "serv_list",
  "connection_timout",
  "connection_timeout",
  "keepalive_timeout",
  "keepalive_cons",
  "enableSlaveRead",
]);

const READ_FROM: readonly ReadFrom[] = ["primary", "replica", "preferReplica", "any", "nearest", "sameAz"];

/** Checks every option (a `ConfigError` naming the first bad one) and fills in the defaults. */
export function normalizeOptions(input: RedisClusterOptions<RespVersion> | undefined): NormalizedOptions {
  const options = input as CheckedOptions | undefined;
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
  const seeds = seedsOption(o);
  const credentials = credentialsOption(o, seeds.credentials);
  const keyPrefix = optionalString(o, "keyPrefix");
  const protocol = protocolOption(o.protocol);
  const clientCache = normalizeClientCache(o.clientCache, o.protocol, keyPrefix);
  const availabilityZone = availabilityZoneOption(o.availabilityZone);
  if (readFrom === "sameAz" && availabilityZone === undefined) {
    throw new ConfigError(
      "availabilityZone",
      'readFrom: "sameAz" needs the zone this client runs in, e.g. availabilityZone: "us-east-1a"',
    );
  }
  return {
    seeds: seeds.addresses,
    readFrom,
    connectTimeoutMs: alias(
      o,
      ["connectTimeout", "connection_timeout", "connection_timout"],
      2000,
      positiveMs,
    ),
    commandTimeoutMs: duration("commandTimeout", o.commandTimeout, 5000, positiveMs),
    idleTimeoutMs: alias(o, ["idleTimeout", "keepalive_timeout"], 0, nonNegativeMs),
    ...credentials,
    connectTo: connectToOption(o.connectTo, seeds.addresses),
    tls: tlsOption(o.tls, seeds.tls),
    mapAddress: natMapOption(o.natMap),
    // The cache's invalidations come as RESP3 pushes (normalizeClientCache refuses an explicit 2).
    protocol: clientCache === undefined ? protocol : 3,
    clientName: clientNameOption(o.clientName),
    maxRedirections: integer(o, "maxRedirections", 16, 0),
    retryUnsafeWrites: boolean(o, "retryUnsafeWrites", false),
    autoPipelining: boolean(o, "autoPipelining", true),
    maxInFlight: integer(o, "maxInFlight", 10_000, 1),
    maxQueuedPerNode: integer(o, "maxQueuedPerNode", 100_000, 1),
    maxOfflineQueue: integer(o, "maxOfflineQueue", 10_000, 0),
    maxBlockingConnections: integer(o, "maxBlockingConnections", 64, 1),
    refreshIntervalMs: duration("refreshInterval", o.refreshInterval, 30_000, nonNegativeMs),
    minRefreshIntervalMs:
      o.minRefreshInterval === undefined
        ? undefined
        : duration("minRefreshInterval", o.minRefreshInterval, 0, nonNegativeMs),
    keyPrefix,
    decoderLimits: replyLimitsOption(o.maxReplyLimits),
    name: optionalString(o, "name"),
    maintenance: maintenanceOption(o.maintenanceNotifications, clientCache === undefined ? protocol : 3),
    availabilityZone,
    clientCache,
  };
}

const ENDPOINT_TYPES: ReadonlySet<string> = new Set([
  "auto",
  "internal-ip",
  "internal-fqdn",
  "external-ip",
  "external-fqdn",
  "none",
]);

function maintenanceOption(value: unknown, protocol: 2 | 3): NormalizedOptions["maintenance"] {
  if (value === false || (value === undefined && protocol === 2)) return undefined;
  if (value !== undefined && value !== true && (value === null || typeof value !== "object")) {
    throw new ConfigError(
      "maintenanceNotifications",
      "expected true, false or { relaxedTimeout?, endpointType? }",
    );
  }
  if (protocol === 2) {
    throw new ConfigError(
      "maintenanceNotifications",
      "maintenance notifications are RESP3 pushes: set protocol: 3 (or drop this option)",
    );
  }
  const tuning = (typeof value === "object" ? value : {}) as MaintenanceNotificationOptions;
  for (const key of Object.keys(tuning)) {
    if (key !== "relaxedTimeout" && key !== "endpointType") {
      throw new ConfigError(
        "maintenanceNotifications",
        `unknown field ${key} (known: relaxedTimeout, endpointType)`,
      );
    }
  }
  const endpointType = tuning.endpointType ?? "auto";
  if (!ENDPOINT_TYPES.has(endpointType)) {
    throw new ConfigError(
      "maintenanceNotifications",
      `endpointType must be one of ${[...ENDPOINT_TYPES].map((type) => `"${type}"`).join(", ")}`,
    );
  }
  return {
    relaxedTimeoutMs: duration(
      "maintenanceNotifications.relaxedTimeout",
      tuning.relaxedTimeout,
      10_000,
      positiveMs,
    ),
    endpointType,
  };
}

function availabilityZoneOption(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.trim() === "") {
    throw new ConfigError("availabilityZone", 'expected the name of a zone, e.g. "us-east-1a"');
  }
  return value;
}

/** What the seeds said besides addresses: URLs may carry credentials and a TLS scheme. */
interface Seeds {
  addresses: HostPort[];
  /** From `redis://user:password@...` URLs (all of them agreeing). */
  credentials: { username: string | undefined; password: string } | undefined;
  /** true for `rediss://`, false for `redis://`, undefined without URLs. */
  tls: boolean | undefined;
}

function seedsOption(o: CheckedOptions): Seeds {
  if (o.nodes !== undefined && o.serv_list !== undefined) {
    throw new ConfigError("serv_list", "give the seeds once, as nodes or as serv_list, not both");
  }
  if (o.serv_list !== undefined) {
    if (!Array.isArray(o.serv_list) || o.serv_list.length === 0) {
      throw new ConfigError("serv_list", "expected a non-empty array of { ip, port }");
    }
    const addresses = o.serv_list.map((entry, i) => {
      if (entry === null || typeof entry !== "object" || !isValidHost(entry.ip)) {
        throw new ConfigError("serv_list", `entry ${i} must be { ip: string, port: number }`);
      }
      return { host: entry.ip, port: portOf("serv_list", entry.port, i) };
    });
    return { addresses, credentials: undefined, tls: undefined };
  }
  if (!Array.isArray(o.nodes) || o.nodes.length === 0) {
    throw new ConfigError("nodes", "give at least one seed node, e.g. nodes: ['127.0.0.1:7001']");
  }
  const seeds: Seeds = { addresses: [], credentials: undefined, tls: undefined };
  o.nodes.forEach((seed, i) => {
    if (typeof seed === "string" && URL_SCHEME.test(seed)) {
      seeds.addresses.push(urlSeed(seed, i, seeds));
    } else if (typeof seed === "string") {
      const address = parseSeedAddress(seed);
      if (typeof address === "string") {
        // Quoted only when it cannot be a mistyped URL holding a password.
        const shown = seed.includes("@") ? "" : ` ("${seed}")`;
        throw new ConfigError("nodes", `entry ${i}${shown}: ${address}`);
      }
      seeds.addresses.push(address);
    } else {
      if (seed === null || typeof seed !== "object" || typeof seed.host !== "string") {
        throw new ConfigError("nodes", `entry ${i} must be "host:port", a redis:// URL or { host, port }`);
      }
      const host = seed.host.startsWith("[") && seed.host.endsWith("]") ? seed.host.slice(1, -1) : seed.host;
      if (!isValidHost(host))
        throw new ConfigError("nodes", `entry ${i} has an empty host or one with spaces`);
      seeds.addresses.push({ host, port: portOf("nodes", seed.port, i) });
    }
  });
  return seeds;
}

const URL_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
const DEFAULT_PORT = 6379;

/**
 * `redis://[user:password@]host[:port][/0]` or `rediss://...` (TLS). The URL is never
 * quoted in an error: it may hold a password.
 */
function urlSeed(text: string, index: number, seeds: Seeds): HostPort {
  const fail = (problem: string): never => {
    throw new ConfigError("nodes", `entry ${index} (a URL): ${problem}`);
  };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return fail("not a valid URL (percent-encode special characters in the user name and password)");
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    return fail("only redis:// and rediss:// (TLS) URLs are seeds");
  }
  const tls = url.protocol === "rediss:";
  if (seeds.tls !== undefined && seeds.tls !== tls) {
    return fail("mixes redis:// and rediss:// with the other seeds; TLS is for every node or none");
  }
  seeds.tls = tls;
  if (url.pathname !== "" && url.pathname !== "/" && url.pathname !== "/0") {
    return fail("a cluster has only database 0; drop the path (or use /0)");
  }
  if (url.search !== "" || url.hash !== "") return fail("query parameters and fragments are not supported");
  let host = url.hostname;
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  if (!isValidHost(host) || host.includes("%")) return fail("has no valid host");
  const port = url.port === "" ? DEFAULT_PORT : Number(url.port);
  if (!isValidPort(port)) return fail("the port must be 1-65535");
  if (url.username !== "" || url.password !== "") {
    let username: string | undefined;
    let password: string;
    try {
      username = url.username === "" ? undefined : decodeURIComponent(url.username);
      password = decodeURIComponent(url.password);
    } catch {
      return fail("the user name or password is not properly percent-encoded");
    }
    if (password === "") return fail("a user name without a password; write redis://user:password@host:port");
    const known = seeds.credentials;
    if (known !== undefined && (known.username !== username || known.password !== password)) {
      return fail("carries other credentials than an earlier seed URL; every node gets the same ones");
    }
    seeds.credentials = { username, password };
  }
  return { host, port };
}

/** username/password, from the options or from the seed URLs, or a provider: one source. */
function credentialsOption(
  o: CheckedOptions,
  fromUrls: Seeds["credentials"],
): {
  username: string | undefined;
  password: string | undefined;
  credentials: CredentialsProvider | undefined;
} {
  const username = optionalString(o, "username");
  const password = optionalString(o, "password");
  const provider = o.credentials;
  if (provider !== undefined && typeof provider !== "function") {
    throw new ConfigError(
      "credentials",
      "expected a function returning (a promise of) { username?, password }",
    );
  }
  if (provider !== undefined && (username !== undefined || password !== undefined)) {
    throw new ConfigError(
      "credentials",
      "give either credentials (a provider) or username/password, not both",
    );
  }
  if (fromUrls !== undefined) {
    if (provider !== undefined || username !== undefined || password !== undefined) {
      throw new ConfigError(
        "nodes",
        "a seed URL carries credentials and so do the options (username, password or credentials); give them once",
      );
    }
    return { username: fromUrls.username, password: fromUrls.password, credentials: undefined };
  }
  return { username, password, credentials: provider };
}

function connectToOption(value: unknown, seeds: readonly HostPort[]): ConnectTo {
  if (value === undefined) return "cluster";
  const problem = connectToProblem(value);
  if (problem !== undefined) throw new ConfigError("connectTo", problem);
  const connectTo = value as ConnectTo;
  if (typeof connectTo === "object") {
    // Checked the way connections will be: the seeds must be reachable under the list.
    const list = new HostAllowList(connectTo, []);
    const outside = seeds.findIndex((seed) => !list.allows(seed.host));
    if (outside !== -1) {
      throw new ConfigError("connectTo", `seed ${outside} is outside it; add its host to hosts or cidrs`);
    }
  }
  return connectTo;
}

function portOf(option: string, port: unknown, index: number): number {
  if (!isValidPort(port)) throw new ConfigError(option, `entry ${index} has no valid port (1-65535)`);
  return port;
}

function readFromOption(o: CheckedOptions): ReadFrom {
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
  // A Node timer fires after 1 ms when asked for longer: such a timeout would not wait, it
  // would spin (issue 17.8).
  if (value > MAX_DURATION_MS) {
    throw new ConfigError(
      name,
      `at most ${MAX_DURATION_MS} ms (about 24.8 days), the longest a timer can wait`,
    );
  }
  return value;
}

function alias(
  o: CheckedOptions,
  names: Array<keyof CheckedOptions>,
  fallback: number,
  check: Check,
): number {
  const given = names.filter((name) => o[name] !== undefined);
  if (given.length > 1) throw new ConfigError(given[1]!, `is an alias of ${given[0]}; give only one`);
  const name = given[0];
  return name === undefined ? fallback : duration(name, o[name], fallback, check);
}

function integer(o: CheckedOptions, name: keyof CheckedOptions, fallback: number, min: number): number {
  const value = o[name];
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    throw new ConfigError(name, `expected an integer of at least ${min}`);
  }
  return value;
}

function boolean(o: CheckedOptions, name: keyof CheckedOptions, fallback: boolean): boolean {
  const value = o[name];
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") throw new ConfigError(name, "expected true or false");
  return value;
}

function optionalString(o: CheckedOptions, name: keyof CheckedOptions): string | undefined {
  const value = o[name];
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw new ConfigError(name, "expected a string");
  return value;
}

function tlsOption(tls: unknown, fromUrls: boolean | undefined): boolean | TlsOptions | undefined {
  if (tls === undefined) return fromUrls === true ? true : undefined;
  if (fromUrls === false && tls !== false) {
    throw new ConfigError("tls", "the seeds are redis:// URLs (no TLS); use rediss:// URLs, or drop tls");
  }
  if (fromUrls === true && tls === false) {
    throw new ConfigError("tls", "the seeds are rediss:// URLs (TLS); drop tls: false, or use redis:// URLs");
  }
  if (tls === false) return undefined;
  if (tls === true || (typeof tls === "object" && tls !== null)) return tls as true | TlsOptions;
  throw new ConfigError("tls", "expected true or an object of tls.connect options");
}

/** Where a natMap function gives nothing usable: an address every check refuses. */
const UNUSABLE_ADDRESS: HostPort = Object.freeze({ host: "", port: 0 });

function natMapOption(natMap: unknown): (host: string, port: number) => HostPort {
  if (natMap === undefined) return (host, port) => ({ host, port });
  if (typeof natMap === "function") {
    const map = natMap as (host: string, port: number) => unknown;
    return (host, port) => {
      let mapped: unknown;
      try {
        mapped = map(host, port);
      } catch {
        return UNUSABLE_ADDRESS; // user code that throws must not break topology parsing
      }
      if (mapped === null || typeof mapped !== "object") return UNUSABLE_ADDRESS;
      const { host: mappedHost, port: mappedPort } = mapped as { host: unknown; port: unknown };
      const address = { host: mappedHost, port: mappedPort };
      return isValidAddress(address) ? (address as HostPort) : UNUSABLE_ADDRESS;
    };
  }
  if (typeof natMap !== "object" || natMap === null) {
    throw new ConfigError("natMap", 'expected { "host:port": { host, port } } or a function');
  }
  const table = new Map<string, HostPort>();
  for (const [from, to] of Object.entries(natMap as Record<string, HostPort>)) {
    const announced = parseAddress(from);
    if (announced === undefined || announced.host === "" || to === null || typeof to !== "object") {
      throw new ConfigError("natMap", `entry "${from}" must map "host:port" to { host, port }`);
    }
    if (!isValidHost(to.host)) throw new ConfigError("natMap", `entry "${from}" maps to an invalid host`);
    // Keyed as every address of this package is written: "[::1]:7000" and "::1:7000" alike.
    table.set(formatAddress(announced.host, announced.port), {
      host: to.host,
      port: portOf("natMap", to.port, 0),
    });
  }
  return (host, port) => table.get(formatAddress(host, port)) ?? { host, port };
}

function replyLimitsOption(limits: unknown): Partial<DecoderLimits> | undefined {
  if (limits === undefined) return undefined;
  if (limits === null || typeof limits !== "object") {
    throw new ConfigError(
      "maxReplyLimits",
      "expected { maxBulkLength?, maxAggregateLength?, maxDepth?, maxReplyBytes? }",
    );
  }
  const known = ["maxBulkLength", "maxAggregateLength", "maxDepth", "maxReplyBytes"];
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
