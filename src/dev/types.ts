/**
 * The shape of a throwaway local cluster, as the CLI, the tests, the demo and the benchmark
 * use it. Everything listens on one loopback address only: 127.0.0.1, or ::1.
 */

/** The loopback address every node binds. */
export type DevHost = "127.0.0.1" | "::1";

/** TLS for every node: client connections, the cluster bus and replication. */
export interface DevTlsOptions {
  /**
   * Mutual TLS: nodes refuse clients without a certificate of the cluster's CA
   * (`tls-auth-clients yes`). Default false (`optional`: a certificate is checked if sent).
   */
  mutual?: boolean;
}

/** One ACL user a dev cluster starts with (a `user` line of redis.conf). */
export interface DevAclUser {
  /** The user name (`default` for the default user). */
  name: string;
  /** The user's password (`>password`); without one the user needs `nopass` in `rules`. */
  password?: string;
  /**
   * ACL rules as `ACL SETUSER` takes them, space-separated (default `"on ~* &* +@all"`), e.g.
   * `"on ~* &* +@all -cluster|shards -cluster|slots"`. A user named `default` replaces the
   * default user's rules (`requirepass`-style clusters: `{ name: "default", password }`).
   */
  rules?: string;
}

/** Users and the default user of an ACL dev cluster. */
export interface DevAclOptions {
  /** The users to create, as redis.conf `user` lines. */
  users?: DevAclUser[];
  /**
   * Turn the `default` user off (default true), unless `users` lists it. The dev cluster's own
   * connections (and replicas, through `masteruser` / `masterauth`) use an admin user of their
   * own, `rediscluster-dev-admin`, with a random password.
   */
  disableDefault?: boolean;
}

/**
 * What nodes tell clients about themselves, instead of the address they listen on: the
 * shapes of clusters behind NAT, in Docker or in Kubernetes. The cluster bus keeps working
 * (its own port is announced as it is).
 */
export interface DevAnnounceOptions {
  /** `cluster-announce-ip`: must still reach the node, as the other nodes use it too. */
  ip?: string;
  /**
   * Announce `port + portOffset` (`cluster-announce-port`, or `-tls-port`): an address a
   * client cannot reach, so that it needs `natMap`. Keep port + offset clear of listening
   * ports: an offset of 30000 or more puts it in the ephemeral range (dev ports are
   * 10000–22767).
   */
  portOffset?: number;
  /** `cluster-announce-hostname`, per node port (or one name for all), e.g. `"localhost"`. */
  hostname?: string | ((port: number) => string);
  /** `cluster-preferred-endpoint-type`: what MOVED, CLUSTER SLOTS and SHARDS name a node by. */
  preferredEndpoint?: "ip" | "hostname" | "unknown-endpoint";
}

/** A certificate for a client: PEM text, and the files that hold it. */
export interface DevTlsMaterial {
  /** The CA certificate that signed it (PEM): what a client trusts. */
  ca: string;
  /** The certificate (PEM). */
  cert: string;
  /** Its private key (PEM, PKCS#8). */
  key: string;
  /** The file holding `ca`. */
  caFile: string;
  /** The file holding `cert`. */
  certFile: string;
  /** The file holding `key`. */
  keyFile: string;
}

/**
 * How to build a dev cluster; every field is optional.
 *
 * @example
 * await startDevCluster({ primaries: 3, replicasPerPrimary: 0, extraConfig: ["maxmemory 64mb"] });
 */
export interface DevClusterOptions {
  /** Number of primaries (default 3). */
  primaries?: number;
  /** Replicas per primary (default 1). */
  replicasPerPrimary?: number;
  /** The redis-server executable (default: `redis-server` on PATH). */
  redisServer?: string;
  /** `cluster-node-timeout` in ms (default 2000: failovers in tests take a few seconds). */
  nodeTimeoutMs?: number;
  /** How long to wait for the cluster to become healthy, in ms (default 30000). */
  startTimeoutMs?: number;
  /** Extra `redis.conf` lines for every node, e.g. `["maxmemory 100mb"]`. */
  extraConfig?: string[];
  /**
   * The folder for the cluster (created if missing; removed by `stop()`). Default: a new
   * folder under `os.tmpdir()`.
   */
  dir?: string;
  /**
   * Let the processes outlive this one (default false). The CLI and the shared test
   * cluster use this; someone must later `stop()` the cluster through `attachDevCluster`.
   * When false, the processes are killed when this process exits, even without `stop()`.
   */
  detached?: boolean;
  /** The loopback address nodes bind and are addressed by (default `"127.0.0.1"`). */
  host?: DevHost;
  /**
   * Listen on `firstPort`, `firstPort + 1`, ... (primaries first, then replicas) instead of
   * free ports picked at run time; each must be free, and so must its cluster bus port
   * (+10000), or the start fails naming it. For a cluster at known addresses (the CLI's
   * `dev start` tries 7000 first); tests should leave it out.
   */
  firstPort?: number;
  /**
   * TLS only (`port 0`, `tls-port`, `tls-cluster yes`, `tls-replication yes`), with a
   * throwaway CA and certificates made at start in the cluster's folder (see `cluster.tls`).
   */
  tls?: boolean | DevTlsOptions;
  /** ACL users; the default user off. */
  acl?: DevAclOptions;
  /** Announced addresses and hostnames. */
  announce?: DevAnnounceOptions;
}

/** A dev node's role in its shard. */
export type DevNodeRole = "primary" | "replica";

/** One redis-server process of a dev cluster. */
export interface DevNode {
  /** The node's cluster id (40 hex characters). */
  id: string;
  /** The loopback address the node binds and is addressed by. */
  host: DevHost;
  /** The port it listens on (the TLS port of a TLS cluster). */
  port: number;
  /** `127.0.0.1:<port>` (or `[::1]:<port>`): where it listens. */
  address: string;
  /**
   * The address it announces (MOVED, CLUSTER SHARDS' endpoint): `address` unless the cluster
   * was started with `announce`, e.g. `127.0.0.1:<port + portOffset>` or `localhost:<port>`;
   * `:<port>` for `preferredEndpoint: "unknown-endpoint"`.
   */
  announcedAddress: string;
  /** The node's role when this list was last read (`refresh()` reads it again). */
  role: DevNodeRole;
  /** For a replica: the id of its primary. */
  primaryId: string | undefined;
  /** Slot ranges served (primaries), inclusive, e.g. `[[0, 5460]]`. */
  slots: Array<[number, number]>;
  /** OS process id of its redis-server, or undefined while it is stopped. */
  pid: number | undefined;
}

/**
 * A running dev cluster, from `startDevCluster()` or `attachDevCluster()`. Nodes are named
 * by port everywhere.
 *
 * @example
 * const cluster = await startDevCluster();
 * const client = new RedisCluster({ nodes: cluster.seeds });
 * const replica = cluster.nodes.find((node) => node.role === "replica")!;
 * await cluster.failover(replica.port); // returns once every node agrees
 * await cluster.stop();
 */
export interface DevCluster {
  /** `127.0.0.1:<port>` of every node, primaries first: what a client takes as seeds. */
  readonly seeds: string[];
  /** The loopback address of the nodes. */
  readonly host: DevHost;
  /**
   * For a TLS cluster: the CA and a client certificate of it, for clients
   * (`tls: { ca, cert, key }`); undefined otherwise.
   */
  readonly tls: DevTlsMaterial | undefined;
  /**
   * For a TLS cluster: issues another certificate, for negative tests: `expired` (valid until
   * yesterday), or `otherCa` (signed by a CA the nodes do not trust; its `ca` is that other
   * CA, which did not sign the nodes' certificate either). It names the same addresses as the
   * nodes' certificate, so it serves as a client's or as a node's (`CONFIG SET tls-cert-file`).
   */
  issueCertificate(options?: { expired?: boolean; otherCa?: boolean }): DevTlsMaterial;
  /** The folder that holds every node's config and data (removed by `stop()`). */
  readonly dir: string;
  /** The JSON state file in `dir` (ports, PIDs): what `attachDevCluster` takes. */
  readonly stateFile: string;
  /** The nodes as last read from the cluster (call `refresh()` to re-read). */
  readonly nodes: DevNode[];
  /** Re-reads roles and slots from the cluster (after a failover, say). */
  refresh(): Promise<DevNode[]>;
  /**
   * Sends one command to one node and returns its decoded reply (strings, numbers, arrays;
   * RESP2). An error reply rejects with a `ReplyError` (e.g. `MOVED 42 127.0.0.1:7001`).
   * Commands sent one after the other go over one connection, so `ASKING` then `GET` works.
   * On a TLS or ACL cluster it speaks TLS and authenticates as the dev cluster's admin user.
   * Rejects with a `TimeoutError` after 60 s without a reply.
   */
  command(port: number, ...args: Array<string | number | Buffer>): Promise<unknown>;
  /**
   * One command on a connection of its own, connect included within `timeoutMs`: for status
   * checks of nodes that may be paused (which accept a TCP connection and answer nothing).
   * Rejects with a `TimeoutError` or `ConnectionError` past it.
   */
  probe(port: number, args: Array<string | number>, timeoutMs: number): Promise<unknown>;
  /**
   * Resolves once every live (running, not paused) node reports `cluster_state:ok`, all
   * agree on roles and slot owners, every slot belongs to a live node, and every live
   * replica is listed (online) in CLUSTER SLOTS and CLUSTER SHARDS by every live node.
   * After killing a primary, this waits for its replica to take over.
   */
  waitForHealthy(timeoutMs?: number): Promise<void>;
  /** The path of a node's own log file (`redis.log`): what the server says about refused connections. */
  logFile(port: number): string;
  /** Kills a node's process (default SIGKILL) and waits until it has exited. */
  killNode(port: number, signal?: NodeJS.Signals): Promise<void>;
  /**
   * Starts a killed node again on the same port, with its saved cluster config, and waits
   * until it has rejoined: every live node sees it as a working member and it sees them.
   * (It does not wait for the whole cluster to be healthy: call `waitForHealthy()` for that.)
   */
  restartNode(port: number): Promise<void>;
  /**
   * SIGSTOP / SIGCONT a node: it keeps its sockets but answers nothing. While paused it
   * counts as down for `waitForHealthy` and `failover` (its slots are not served).
   */
  pauseNode(port: number): void;
  /** SIGCONT a node `pauseNode` stopped: it answers again. */
  resumeNode(port: number): void;
  /** Runs `CLUSTER FAILOVER [FORCE|TAKEOVER]` on a replica and waits until every node sees it as primary. */
  failover(replicaPort: number, mode?: "FORCE" | "TAKEOVER"): Promise<void>;
  /**
   * Moves slots with their keys from one primary to another (SETSLOT IMPORTING/MIGRATING,
   * GETKEYSINSLOT + MIGRATE in batches, SETSLOT NODE on every primary).
   */
  migrateSlots(fromPort: number, toPort: number, slots: readonly number[]): Promise<void>;
  /**
   * Leaves one slot half-migrated (IMPORTING on the target, MIGRATING on the source, some
   * keys moved) for ASK tests; `finishMigration` completes it.
   */
  beginSlotMigration(fromPort: number, toPort: number, slot: number, keysToMove?: number): Promise<void>;
  /** Completes a migration `beginSlotMigration` left half done: moves the remaining keys and gives the slot to `toPort` on every primary. */
  finishMigration(fromPort: number, toPort: number, slot: number): Promise<void>;
  /** Starts a new empty node, MEETs it, and makes it a replica of `primaryPort` (or an empty primary). */
  addNode(options?: { replicaOf?: number }): Promise<DevNode>;
  /** CLUSTER FORGETs a node on every other node and stops it. */
  removeNode(port: number): Promise<void>;
  /** Kills every process of the cluster by PID and removes `dir`. Safe to call twice. */
  stop(): Promise<void>;
}
