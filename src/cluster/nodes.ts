/**
 * The node registry: one entry per node address, owning that node's connection. Entries are
 * created on demand (seeds, nodes of the topology, targets of MOVED/ASK) and dropped when a
 * refresh shows the node gone.
 *
 * A replica's connection sends `READONLY` in its handshake; a primary's does not, so that a
 * read meant for a primary that was just demoted gets `MOVED` rather than a stale answer.
 * When a refresh shows a role change, the entry swaps its connection for one of the new kind
 * (the old one finishes what it has in flight).
 */
import { formatAddress, type HostPort } from "../connection/address.js";
import { Connection } from "../connection/connection.js";
import type { ConnectionOptions } from "../connection/types.js";
import { ClosedError, type RedisClusterError } from "../errors.js";
import { DedicatedPool } from "./dedicated.js";
import type { NodeRole, Topology } from "./topology.js";

/** Options every node connection shares (host, port and role are per node). */
export type SharedConnectionOptions = Omit<
  ConnectionOptions,
  "host" | "port" | "servername" | "readOnly" | "onDisconnect"
>;

/** One node of the registry: its address, role and connection. */
export class NodeEntry {
  readonly address: string;
  readonly host: string;
  readonly port: number;
  role: NodeRole;
  /** The hostname the node announces (CLUSTER SHARDS): the TLS server name of its connections. */
  hostname: string | undefined = undefined;
  /** Smoothed PING round-trip time in ms (for `readFrom: "nearest"`); undefined until sampled. */
  rttMs: number | undefined = undefined;
  /** A replica whose link to its primary is down (`INFO replication`): it gets no reads. */
  replicationLinkDown = false;
  /** Whether `replicationLinkDown` has been read from the node since it became a replica. */
  replicationChecked = false;
  /**
   * The availability zone the node reports (`INFO server`'s `availability_zone`, Valkey 8),
   * for `readFrom: "sameAz"`; undefined when it reports none or was not asked.
   */
  availabilityZone: string | undefined = undefined;
  /** Whether `availabilityZone` has been read from the node. */
  zoneChecked = false;
  /** `availabilityZone` came with the topology (CLUSTER SHARDS), not from the node's INFO. */
  zoneFromTopology = false;
  /**
   * While a maintenance window is open on the node (cluster/maintenance.ts): until when, as a
   * `performance.now()` time (0: no window), and the least time each command sent here gets.
   */
  relaxedUntil = 0;
  relaxedTimeoutMs = 0;
  /**
   * Where the node's connections go when not its own address: the endpoint a `MOVING`
   * notification announced. The node keeps its address (its name in the topology) until a
   * refresh says otherwise.
   */
  endpoint: HostPort | undefined = undefined;
  /** A connection opened to take over the shared one (handOff), until it is ready. */
  #incoming: Connection | undefined;
  /**
   * SHA1s of `defineScript()` scripts this node has been sent (EVAL caches them there), so
   * that later calls send EVALSHA. A role change keeps them (same process, same cache); a
   * connection that breaks forgets them (the node may have restarted, cache empty). Bounded.
   */
  readonly scripts = new Set<string>();
  #connection: Connection | undefined;
  #dedicated: DedicatedPool | undefined;
  #registry: NodeRegistry;

  constructor(registry: NodeRegistry, host: string, port: number, role: NodeRole) {
    this.#registry = registry;
    this.host = host;
    this.port = port;
    this.role = role;
    this.address = formatAddress(host, port);
  }

  /** The node's connection, created on first use. */
  get connection(): Connection {
    if (this.#connection === undefined) this.#connection = this.#registry.openConnection(this);
    return this.#connection;
  }

  /** True when a connection exists (whatever its state). */
  get hasConnection(): boolean {
    return this.#connection !== undefined;
  }

  /**
   * The node's dedicated connections (blocking calls), bounded by `maxBlockingConnections`.
   * Created on first use.
   */
  get dedicated(): DedicatedPool {
    this.#dedicated ??= this.#registry.openDedicatedPool(this);
    return this.#dedicated;
  }

  /** Changes the role; the next command gets a connection of the right kind. */
  setRole(role: NodeRole): void {
    if (role === this.role) return;
    this.role = role;
    this.replicationChecked = false;
    this.replicationLinkDown = false;
    const old = this.#connection;
    this.#connection = undefined;
    void old?.close();
    // Idle dedicated connections carry the old role's READONLY state; those in use finish.
    this.#dedicated?.dropIdle();
  }

  /**
   * Retires `connection` if it is this node's current one: it finishes what it has in
   * flight, and the next command opens a fresh one. For a node that answered MOVED to
   * itself (managed services do this before dropping a connection).
   */
  renew(connection: Connection): void {
    if (this.#connection !== connection) return;
    this.#connection = undefined;
    void connection.close();
  }

  /**
   * Moves the node's traffic to `endpoint` before its current connections are dropped (a
   * `MOVING` maintenance notification): a connection to it opens now, and once it is ready it
   * replaces the shared one, which finishes what it has in flight. Later connections
   * (dedicated ones, reconnects) go there too. If it cannot connect, nothing changes but
   * where later connections go. Resolves true once it took over.
   */
  async handOff(endpoint: HostPort): Promise<boolean> {
    this.endpoint = endpoint;
    this.#incoming?.destroy();
    const incoming = this.#registry.openConnection(this);
    this.#incoming = incoming;
    try {
      await incoming.connect();
    } catch {
      if (this.#incoming === incoming) this.#incoming = undefined;
      incoming.destroy();
      return false;
    }
    if (this.#incoming !== incoming) {
      incoming.destroy(); // closed, or a newer hand-off, meanwhile
      return false;
    }
    this.#incoming = undefined;
    const old = this.#connection;
    this.#connection = incoming;
    void old?.close();
    // Idle dedicated connections go to the old endpoint; the next ones open at the new.
    this.#dedicated?.dropIdle();
    return true;
  }

  /** @internal A connection of this node whose failure is not the node's (a hand-off attempt). */
  isHandOffAttempt(connection: Connection): boolean {
    return connection === this.#incoming;
  }

  /**
   * Graceful: the shared connection finishes what it has in flight. Dedicated connections
   * are closed at once: a call blocked there could otherwise hold the close for ever.
   */
  close(error?: RedisClusterError): Promise<void> {
    const connection = this.#connection;
    this.#connection = undefined;
    this.#incoming?.destroy(error);
    this.#incoming = undefined;
    this.#dedicated?.close(error);
    return connection ? connection.close() : Promise.resolve();
  }

  destroy(error?: RedisClusterError): void {
    this.#connection?.destroy(error);
    this.#connection = undefined;
    this.#incoming?.destroy(error);
    this.#incoming = undefined;
    this.#dedicated?.close(error);
  }
}

/** Bounds of each node's dedicated connections. */
export interface DedicatedLimits {
  /** Dedicated connections open at once per node (`maxBlockingConnections`). */
  perNode: number;
  /** Calls that may wait per node for one of them. */
  maxWaiting: number;
}

/** Every node the client knows, by address, each with its connection (see the top of this file). */
export class NodeRegistry {
  #entries = new Map<string, NodeEntry>();
  #shared: SharedConnectionOptions;
  #dedicatedLimits: DedicatedLimits;
  #onDisconnect: (entry: NodeEntry, error: RedisClusterError | undefined, connection: Connection) => void;
  /** Set by closeAll/destroyAll: connections asked for later are born closed. */
  #closed = false;

  constructor(
    shared: SharedConnectionOptions,
    dedicatedLimits: DedicatedLimits,
    onDisconnect: (entry: NodeEntry, error: RedisClusterError | undefined, connection: Connection) => void,
  ) {
    this.#shared = shared;
    this.#dedicatedLimits = dedicatedLimits;
    this.#onDisconnect = onDisconnect;
  }

  get(address: string): NodeEntry | undefined {
    return this.#entries.get(address);
  }

  /** The entry for a node, created (as `role`) when new. */
  ensure(host: string, port: number, role: NodeRole): NodeEntry {
    const address = formatAddress(host, port);
    let entry = this.#entries.get(address);
    if (entry === undefined) {
      entry = new NodeEntry(this, host, port, role);
      this.#entries.set(address, entry);
    }
    return entry;
  }

  entries(): IterableIterator<NodeEntry> {
    return this.#entries.values();
  }

  /**
   * Aligns the registry with a new topology: entries for new nodes, roles updated, and the
   * connections of nodes that left closed gracefully (their in-flight commands finish;
   * anything they get wrong comes back as MOVED or a failure and is retried).
   */
  sync(topology: Topology): void {
    for (const node of topology.nodes.values()) {
      const entry = this.ensure(node.host, node.port, node.role);
      entry.setRole(node.role);
      entry.hostname = node.hostname;
    }
    for (const [address, entry] of this.#entries) {
      if (topology.nodes.has(address)) continue;
      this.#entries.delete(address);
      void entry.close();
    }
  }

  /**
   * Closes every connection, gracefully (dedicated ones at once, with `error`). From now on
   * any connection asked for is closed from the start, so that work still under way (a
   * refresh, a health check) cannot open sockets after the client closed.
   */
  async closeAll(error?: RedisClusterError): Promise<void> {
    this.#closed = true;
    const entries = [...this.#entries.values()];
    this.#entries.clear();
    await Promise.all(entries.map((entry) => entry.close(error)));
  }

  destroyAll(error?: RedisClusterError): void {
    this.#closed = true;
    for (const entry of this.#entries.values()) entry.destroy(error);
    this.#entries.clear();
  }

  /**
   * @internal Used by NodeEntry: the node's shared connection, or (`dedicated`) one for its
   * pool — which never tracks keys for the client-side cache: only shared connections' reads
   * are cached.
   */
  openConnection(entry: NodeEntry, dedicated = false): Connection {
    const endpoint = entry.endpoint;
    const connection: Connection = new Connection({
      ...this.#shared,
      host: endpoint?.host ?? entry.host,
      port: endpoint?.port ?? entry.port,
      // Named by its node, wherever it goes: everything keyed by address finds the node.
      address: entry.address,
      // A moved endpoint is named by itself (its certificate names it), not by the old hostname.
      servername: endpoint === undefined ? entry.hostname : undefined,
      readOnly: entry.role === "replica",
      tracking: dedicated ? undefined : this.#shared.tracking,
      onDisconnect: (error) => {
        // A hand-off that could not connect leaves the node as it was: not a node failure.
        if (entry.isHandOffAttempt(connection)) return;
        if (error !== undefined) entry.scripts.clear();
        this.#onDisconnect(entry, error, connection);
      },
    });
    if (this.#closed) connection.destroy(new ClosedError());
    return connection;
  }

  /**
   * A connection for Pub/Sub (src/pubsub owns it, one per node; commands never go there):
   * the shared options, but no idle timeout (a quiet subscription is not idle), no
   * READONLY, no maintenance notifications, and its frames sorted by `hooks.routeFrame`.
   */
  openSubscriberConnection(
    host: string,
    port: number,
    hooks: Pick<ConnectionOptions, "routeFrame" | "onDisconnect" | "onReady">,
  ): Connection {
    const connection = new Connection({
      ...this.#shared,
      ...hooks,
      host,
      port,
      idleTimeoutMs: 0,
      readOnly: false,
      tracking: undefined,
      onPush: undefined,
      // Maintenance is followed on command connections; a subscription dropped by it is
      // placed again like after any lost connection.
      maintenanceNotifications: undefined,
    });
    if (this.#closed) connection.destroy(new ClosedError());
    return connection;
  }

  /** @internal Used by NodeEntry. */
  openDedicatedPool(entry: NodeEntry): DedicatedPool {
    const { perNode, maxWaiting } = this.#dedicatedLimits;
    const pool = new DedicatedPool(
      entry.address,
      () => this.openConnection(entry, true),
      perNode,
      maxWaiting,
    );
    if (this.#closed) pool.close();
    return pool;
  }
}
