/**
 * RedisCluster: wires the parts together and turns method calls into Commands.
 *
 *   method call ─► describe (info, args checked, key prefix, slot) ─► executor.dispatch ─► connection
 *                                                                      ▲                      │
 *                                        MOVED / ASK / retry ──────────┴── settle / fail / expire ◄─┘
 *
 * Describing a command is this file's one job; where and how it is sent, and what happens
 * when it is not answered, is decided in the executor (cluster/executor.ts). Commands the
 * built-in table lacks are learned per client (command/catalog.ts); resty-redis-cluster's
 * pipeline mode lives in compat/resty.ts. Transactions and WATCH sessions (batch/), scripts
 * (scripting.ts), cluster-wide SCAN (scan/) and per-call options (call-options.ts) have their
 * own modules; the methods here only hand them what they need.
 */
import { EventEmitter } from "node:events";
import { flattenPairs, Pipeline } from "./batch/pipeline.js";
import { type SlotGroup, slotOrGroups, splitBySlot, splitStride } from "./batch/split.js";
import { Transaction } from "./batch/transaction.js";
import {
  type OptimisticOptions,
  runOptimistic,
  runWatch,
  type WatchHandle,
  type WatchHost,
  type WatchLease,
  type WatchOptions,
} from "./batch/watch.js";
import { type CacheStats, ClientCache } from "./cache/cache.js";
import {
  applyCallOptions,
  type CallOptions,
  type ClusterView,
  checkCallOptions,
  makeView,
  type ViewHost,
} from "./call-options.js";
import { Discovery, type ViewRejection } from "./cluster/discovery.js";
import { Executor, type ExecutorStats } from "./cluster/executor.js";
import { HealthMonitor } from "./cluster/health.js";
import { type MaintenanceEvent, MaintenanceHandler } from "./cluster/maintenance.js";
import { type NodeHandle, nodeHandle } from "./cluster/node-handle.js";
import { NodeRegistry } from "./cluster/nodes.js";
import { type ReadFrom, Router } from "./cluster/router.js";
import type { NodeRole, Topology, TopologyChange } from "./cluster/topology.js";
import { blockingCall } from "./command/blocking.js";
import { CommandCatalog } from "./command/catalog.js";
import {
  type Command,
  MULTI_SLOT,
  NO_SLOT,
  PromiseCommand,
  type ReplyTransform,
  UNKNOWN_SLOT,
} from "./command/command.js";
import { keyIndexes } from "./command/keys.js";
import type { CommandMethods } from "./command/methods.generated.js";
import { type CommandTarget, installCommandMethods, SEND_COMMAND } from "./command/methods.js";
import { keySlot } from "./command/slot.js";
import { CommandFlag, type CommandInfo, findCommand, resolveSubcommand } from "./command/table.js";
import type { RedisKey, RespVersion } from "./command/types.js";
import { checkArgs, keyBytes, refuseConnectionState, splitCommandName } from "./command/validate.js";
import { RestyPipelineMode } from "./compat/resty.js";
import { HostAllowList } from "./connection/allow-list.js";
import { ArgumentError, ClosedError, CrossSlotError, RedisClusterError } from "./errors.js";
import { publishTopology } from "./observe/channels.js";
import { type NormalizedOptions, normalizeOptions, type RedisClusterOptions } from "./options.js";
import type { Family } from "./pubsub/frames.js";
import { PubSub, type PubSubStats } from "./pubsub/pubsub.js";
import { PushRouter, type UnroutedPush } from "./pubsub/push.js";
import type {
  MessageListener,
  PatternSubscribeOptions,
  SubscribeOptions,
  Subscription,
} from "./pubsub/subscription.js";
import type { RedisArg } from "./resp/types.js";
import {
  type HashScanOptions,
  type KeyScanOptions,
  type ScanHost,
  type ScanOptions,
  scanKey,
  scanKeys,
} from "./scan/index.js";
import {
  makeScript,
  type Script,
  type ScriptDefinition,
  scriptCall,
  scriptSource,
  sourceOf,
} from "./scripting.js";

export type { NodeHandle } from "./cluster/node-handle.js";

/** Events of a RedisCluster and their arguments. */
export interface RedisClusterEvents {
  /** The first topology is known: commands flow. */
  ready: [];
  /** A refresh changed the topology. */
  topology: [change: TopologyChange];
  /** A command was redirected by MOVED. */
  moved: [info: RedirectEvent];
  /** A command was redirected by ASK. */
  ask: [info: RedirectEvent];
  /** A node connection failed (the client recovers by itself; this is for monitoring). */
  nodeError: [info: NodeErrorEvent];
  /**
   * A node's view of the topology was not taken — outvoted by the other nodes asked, or
   * serving fewer slots than the table in use, which was kept. For monitoring a node that
   * lags or lies; routing is not affected.
   */
  viewRejected: [info: ViewRejection];
  /** A background task failed (e.g. a periodic refresh). Emitted only while someone listens. */
  error: [error: RedisClusterError];
  /**
   * A RESP3 push frame nobody handles (`protocol: 3`): not a Pub/Sub message (those go to
   * their subscription) nor an invalidation taken by the client-side cache.
   */
  push: [info: UnroutedPush];
  /**
   * A maintenance notification of a managed service (`protocol: 3`): a migration, failover or
   * endpoint move announced by a node, which the client is acting on (see the README's
   * "Maintenance notifications").
   */
  maintenance: [event: MaintenanceEvent];
}

/** What a `moved` or `ask` event tells. */
export interface RedirectEvent {
  /** The slot of the redirected command. */
  slot: number;
  /** The node that redirected it (`host:port`). */
  from: string;
  /** The node it was sent to next (`host:port`). */
  to: string;
}

/** What a `nodeError` event tells. */
export interface NodeErrorEvent {
  /** The node (`host:port`). */
  address: string;
  /** What went wrong, typed (a `ConnectionError` or an `AuthError`, mostly). */
  error: RedisClusterError;
}

/** Counters of `cluster.stats()`, since the client was created. */
export interface ClusterStats extends ExecutorStats, PubSubStats {
  /** Topology refreshes run. */
  refreshes: number;
  /** `CLUSTER SHARDS`/`SLOTS` questions sent (a refresh asks one node, more to confirm a change). */
  topologyQueries: number;
  /** Nodes' views not taken: outvoted by other nodes, or serving fewer slots than the table (kept). */
  viewsRejected: number;
  /** Commands waiting right now for a topology or an unserved slot. */
  offlineQueue: number;
  /** RESP3 pushes nobody handled (see the `push` event). */
  unroutedPushes: number;
  /** Maintenance notifications acted on (each once, however many connections carried it). */
  maintenanceNotifications: number;
  /** The client-side cache's counters; undefined without `clientCache`. */
  cache: CacheStats | undefined;
}

/** `nodes()` roles, with the words ioredis users know (`master`, `slave`) as aliases. */
const NODE_ROLES: ReadonlyMap<string, NodeRole | "all"> = new Map<string, NodeRole | "all">([
  ["all", "all"],
  ["primary", "primary"],
  ["replica", "replica"],
  ["master", "primary"],
  ["slave", "replica"],
]);

/**
 * A Redis Cluster client.
 *
 * @example
 * const cluster = new RedisCluster({ nodes: ["127.0.0.1:7001"] });
 * await cluster.set("name", "v");
 * await cluster.get("name"); // "v"
 * await cluster.close();
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the command methods are installed on the prototype at load time (installCommandMethods below); the merged interface types them.
export class RedisCluster<R extends RespVersion = 2>
  extends EventEmitter<RedisClusterEvents>
  implements CommandTarget
{
  /** The `name` option (resty's cluster name), for telling clients apart in diagnostics. */
  readonly name: string | undefined;
  #options: NormalizedOptions;
  #registry: NodeRegistry;
  #discovery: Discovery;
  #router: Router;
  #executor: Executor;
  #catalog: CommandCatalog;
  #resty: RestyPipelineMode;
  #state: "open" | "closing" | "closed" = "open";
  #closing: Promise<void> | undefined;
  #ready = false;
  #batchHost: WatchHost;
  /** Replica health and RTT checks; only when reads may go to replicas (the client's, or a view's). */
  #health: HealthMonitor | undefined;
  /** Where RESP3 pushes go (pubsub/push.ts); the client-side cache registers on it. */
  #pushes: PushRouter;
  /** Maintenance notifications (cluster/maintenance.ts), when asked for. */
  #maintenance: MaintenanceHandler | undefined;
  #pubsub: PubSub;
  /** The client-side cache (`clientCache`), undefined when off: then nothing asks it anything. */
  #cache: ClientCache | undefined;
  #healthSamplesRtt = false;
  #healthReadsZones = false;
  /** `defineCommand()` scripts by method name. */
  #definedCommands = new Map<string, Script>();
  #viewHost: ViewHost;

  constructor(options: RedisClusterOptions<R>) {
    super();
    const o = normalizeOptions(options);
    this.#options = o;
    this.name = o.name;
    // Where connections may go (connectTo): checked by every connection before it opens.
    const allowList = new HostAllowList(o.connectTo, o.seeds);
    this.#pushes = new PushRouter((push) => this.#emitSafe("push", push));
    const cache = o.clientCache === undefined ? undefined : new ClientCache(o.clientCache);
    this.#cache = cache;
    if (cache !== undefined)
      this.#pushes.onInvalidate((keys, connection) => cache.onInvalidate(keys, connection));
    this.#registry = new NodeRegistry(
      {
        connectTimeoutMs: o.connectTimeoutMs,
        username: o.username,
        password: o.password,
        credentials: o.credentials,
        refuseConnection: (host, port) => allowList.refusal(host, port),
        maxWaiting: o.maxQueuedPerNode,
        tls: o.tls,
        protocol: o.protocol,
        clientName: o.clientName,
        idleTimeoutMs: o.idleTimeoutMs,
        maxInFlight: o.maxInFlight,
        stallTimeoutMs: o.commandTimeoutMs,
        decoderLimits: o.decoderLimits,
        coalesceWrites: o.autoPipelining,
        maintenanceNotifications: o.maintenance?.endpointType,
        maintenanceRefusedBy: o.maintenance === undefined ? undefined : new Set<string>(),
        tracking: o.clientCache?.trackingArgs,
        onPush: (frame, connection) => this.#pushes.route(frame, connection),
      },
      { perNode: o.maxBlockingConnections, maxWaiting: o.maxOfflineQueue },
      (entry, error, connection) => {
        cache?.onDisconnect(connection);
        if (error === undefined) return;
        this.#emitSafe("nodeError", { address: entry.address, error });
        if (this.#state === "open") this.#executor.onConnectionLost(entry.address);
      },
    );
    this.#discovery = new Discovery({
      seeds: o.seeds,
      registry: this.#registry,
      // Topology replies are read from allowed nodes only: the hosts they name are the cluster.
      mapAddress: (host, port) => {
        const mapped = o.mapAddress(host, port);
        allowList.learn(mapped.host);
        return mapped;
      },
      tls: o.tls !== undefined,
      queryTimeoutMs: o.commandTimeoutMs,
      minRefreshIntervalMs: o.minRefreshIntervalMs,
      refreshIntervalMs: o.refreshIntervalMs,
      prepare: async (topology) => {
        await this.#health?.checkNew(topology);
      },
      onTopology: (topology, change) => this.#onTopology(topology, change),
      onRefreshFailed: (error) => {
        this.#executor.onRefreshFailed(error);
        if (this.#ready && error instanceof RedisClusterError) this.#emitSafe("error", error);
      },
      onViewRejected: (rejection) => this.#emitSafe("viewRejected", rejection),
      onPeriodicRefresh: (topology) => {
        if (this.#health) void this.#health.checkAll(topology);
      },
    });
    this.#router = new Router(o.readFrom, this.#registry, o.availabilityZone);
    if (o.readFrom !== "primary") this.#watchReplicaHealth(o.readFrom);
    this.#executor = new Executor(
      this.#discovery,
      this.#registry,
      this.#router,
      {
        maxRedirections: o.maxRedirections,
        mapAddress: o.mapAddress,
        retryUnsafeWrites: o.retryUnsafeWrites,
        maxOfflineQueue: o.maxOfflineQueue,
        retryBaseDelayMs: 10,
        retryMaxDelayMs: 500,
      },
      {
        moved: (slot, from, to) => {
          cache?.dropSlot(slot); // the slot changed hands: what its old node tracked is not news any more
          this.#emitSafe("moved", { slot, from, to });
        },
        ask: (slot, from, to) => this.#emitSafe("ask", { slot, from, to }),
      },
    );
    this.#catalog = new CommandCatalog((args) =>
      this.#sendKeyless("COMMAND", args, false, findCommand("command")),
    );
    this.#pubsub = new PubSub({
      openConnection: (host, port, hooks) => this.#registry.openSubscriberConnection(host, port, hooks),
      topology: () => this.#discovery.current,
      whenTopology: () => this.#discovery.refresh(),
      requestRefresh: (expected) => {
        if (this.#state === "open") this.#discovery.requestRefresh(expected);
      },
      mapAddress: o.mapAddress,
      connectionLost: (address, error) => {
        this.#emitSafe("nodeError", { address, error });
        if (this.#state === "open") this.#executor.onConnectionLost(address);
      },
      pushes: this.#pushes,
      timeoutMs: o.commandTimeoutMs,
      maxRedirections: o.maxRedirections,
    });
    if (o.maintenance !== undefined) {
      const maintenance = new MaintenanceHandler({
        registry: this.#registry,
        relaxedTimeoutMs: o.maintenance.relaxedTimeoutMs,
        mapAddress: o.mapAddress,
        topology: () => this.#discovery.current,
        requestRefresh: (expected) => {
          if (this.#state === "open") this.#discovery.requestRefresh(expected);
        },
        report: (event) => this.#emitSafe("maintenance", event),
      });
      this.#maintenance = maintenance;
      this.#pushes.onMaintenance((kind, frame, connection) => maintenance.onPush(kind, frame, connection));
    }
    this.#resty = new RestyPipelineMode(() => this.pipeline());
    this.#batchHost = this.#hostWith(undefined);
    this.#viewHost = {
      sendWithOptions: (options, name, info, args, wantsBuffers, transform) =>
        this.#send(options, name, info, args, wantsBuffers, transform),
      callWithOptions: (options, name, args, wantsBuffers) =>
        this.#callByName(name, args, wantsBuffers, options),
      pipelineWithOptions: (options) => new Pipeline(this.#hostWith(options)),
      multiWithOptions: (options) => new Transaction(this.#hostWith(options)),
      runScriptWithOptions: (options, script, keysAndArgs, wantsBuffers) =>
        this.#runScript(script, keysAndArgs, wantsBuffers, options),
    };
  }

  /** What batches, transactions and WATCH sessions get from the client (with a view's options). */
  #hostWith(options: Readonly<CallOptions> | undefined): WatchHost {
    const o = this.#options;
    return {
      owner: this.#executor,
      commandTimeoutMs: options?.timeoutMs ?? o.commandTimeoutMs,
      readsFromReplicas: (options?.readFrom ?? o.readFrom) !== "primary",
      closedError: () => (this.#state === "open" ? undefined : new ClosedError()),
      findCommand: (name) => this.#catalog.find(name),
      describeInto: (command, send) => this.#describeInto(command, send),
      describeOne: (command, internal) => this.#describeOne(command, internal === true),
      dispatchAll: (commands) => this.#executor.dispatchAll(commands),
      dispatch: (command) => this.#executor.dispatch(command),
      learnCommands: (names) => this.#catalog.learnAll(names),
      applyCallOptions: (command) => applyCallOptions(command, options),
      definedCommands: this.#definedCommands,
      openWatch: (keys, timeoutMs) => this.#openWatch(keys, timeoutMs, options),
    };
  }

  /**
   * Reads the topology now instead of on the first command. Resolves once commands can flow;
   * rejects with `ConnectionError` when no seed answers.
   *
   * @example
   * await cluster.connect();
   * cluster.nodes("primary").length; // 3
   */
  async connect(): Promise<void> {
    if (this.#state !== "open") throw new ClosedError();
    if (this.#discovery.current === undefined) await this.#discovery.refresh();
  }

  /**
   * Reads the topology again now (or joins the refresh under way; inside the minimum
   * interval after the last one, at its end) and resolves with the topology in use after it.
   * The client refreshes by itself on MOVED, failures and a timer; this is for tools, and
   * for callers that changed the cluster themselves.
   *
   * @example
   * await cluster.refreshTopology();
   */
  async refreshTopology(): Promise<Topology> {
    if (this.#state !== "open") throw new ClosedError();
    await this.#discovery.refresh();
    return this.#discovery.current!;
  }

  /**
   * Sends any command, by name — module commands included — routed by its keys.
   *
   * @example
   * await cluster.call("JSON.SET", "doc", "$", "{}");
   */
  call(name: string, ...args: RedisArg[]): Promise<unknown> {
    return this.#callByName(name, args, false);
  }

  /** Like `call`, with bulk strings as Buffers. */
  callBuffer(name: string, ...args: RedisArg[]): Promise<unknown> {
    return this.#callByName(name, args, true);
  }

  /**
   * Sets several keys, across slots: `mset({ a: "1", b: "2" })` or `mset("a", "1", "b", "2")`.
   * Keys of one slot go in one command.
   */
  mset(pairs: Record<string, RedisArg> | Map<RedisArg, RedisArg>): Promise<"OK">;
  mset(...keysAndValues: RedisArg[]): Promise<"OK">;
  mset(...input: unknown[]): Promise<"OK"> {
    return this[SEND_COMMAND](
      "MSET",
      findCommand("mset"),
      flattenPairs(input),
      false,
      undefined,
    ) as Promise<"OK">;
  }

  /**
   * A pipeline: queue commands, then `exec()` sends them together (split per node, sent
   * concurrently) and resolves with their results in queue order.
   *
   * @example
   * const results = await cluster.pipeline().get("a").set("b", "1").incr("c").exec();
   */
  pipeline(): Pipeline<R> {
    return new Pipeline<R>(this.#batchHost);
  }

  /**
   * A transaction: queue commands, then `exec()` sends `MULTI` … `EXEC` to the primary of
   * their slot in one write and resolves with the replies in order. Every key must hash to
   * one slot (`CrossSlotError` before anything is sent; keyless commands are allowed).
   * Redirections resend the whole transaction (nothing ran); see batch/transaction.ts.
   *
   * @example
   * const [, visits] = await cluster.multi().set("u:{42}:name", "ann").incr("u:{42}:visits").exec();
   */
  multi(): Transaction {
    return new Transaction(this.#batchHost);
  }

  /**
   * Runs `fn` in a WATCH session: `WATCH keys` (one slot) on a dedicated connection to their
   * primary, held for the callback's lifetime; `fn` gets a handle whose commands go over that
   * connection and whose `tx.multi()…exec()` commits only if no watched key changed (`null`
   * otherwise, also when the slot moved meanwhile). UNWATCH and release afterwards, also when
   * `fn` throws or `timeoutMs` (default `commandTimeout`) passes. Resolves with what `fn` returns.
   *
   * @example
   * const done = await cluster.watch("acct:{7}", async (tx) => {
   *   const balance = Number(await tx.get("acct:{7}"));
   *   return tx.multi().set("acct:{7}", balance + 10).exec(); // null: changed meanwhile
   * });
   */
  watch<T>(
    keys: RedisKey | readonly RedisKey[],
    fn: (tx: WatchHandle) => T | Promise<T>,
    options?: WatchOptions,
  ): Promise<T> {
    return runWatch(this.#batchHost, keys, fn, options);
  }

  /**
   * Optimistic locking with retries: like `watch()`, but when the transaction `fn` returns
   * (`tx.multi()…`, not executed: the helper runs it) or `fn` itself yields `null` — a watched
   * key changed, or the slot moved — `fn` runs again in a new session after a short jittered
   * backoff, up to `attempts` times (default 10); then `WatchConflictError`.
   *
   * @example
   * await cluster.optimistic(["stock:{sku1}"], async (tx) => {
   *   const left = Number(await tx.get("stock:{sku1}"));
   *   if (left === 0) return "sold out";
   *   return tx.multi().decr("stock:{sku1}");
   * });
   */
  optimistic<T>(
    keys: RedisKey | readonly RedisKey[],
    fn: (
      tx: WatchHandle,
    ) => T | Transaction<unknown[] | null> | null | Promise<T | Transaction<unknown[] | null> | null>,
    options?: OptimisticOptions,
  ): Promise<T | unknown[]> {
    return runOptimistic(this.#batchHost, keys, fn, options);
  }

  /**
   * Defines a Lua script, called like a command: `EVALSHA` where the node has it, `EVAL`
   * where it does not (a new node, a promoted replica, after `SCRIPT FLUSH`), routed by its
   * keys (the first `numberOfKeys` arguments). Batches take it with `runScript(script, ...)`.
   *
   * @example
   * const getOrSet = cluster.defineScript<string>({
   *   lua: "return redis.call('GET', KEYS[1]) or (redis.call('SET', KEYS[1], ARGV[1]) and ARGV[1])",
   *   numberOfKeys: 1,
   * });
   * await getOrSet("greeting", "hello"); // "hello"
   */
  defineScript<Result = unknown>(definition: ScriptDefinition): Script<Result> {
    const source = scriptSource(definition);
    return makeScript<Result>(source, (keysAndArgs, wantsBuffers) =>
      this.#runSource(source, keysAndArgs, wantsBuffers, undefined),
    );
  }

  /**
   * ioredis's `defineCommand`: defines a script (see `defineScript`) as a method `name` (and
   * `nameBuffer`) of this client and of the pipelines, transactions and WATCH handles it
   * makes from now on. For TypeScript, declare the method on `RedisCluster` by module
   * augmentation, or use the Script this returns.
   *
   * @example
   * cluster.defineCommand("incrCapped", { lua, numberOfKeys: 1 });
   * await (cluster as any).incrCapped("visits", 100);
   */
  defineCommand<Result = unknown>(
    name: string,
    definition: { lua: string | Buffer; numberOfKeys?: number; readOnly?: boolean },
  ): Script<Result> {
    if (typeof name !== "string" || !/^[A-Za-z_$][\w$]*$/.test(name)) {
      throw new ArgumentError("defineCommand(): the name must be an identifier, such as incrCapped");
    }
    if (name in this || `${name}Buffer` in this) {
      throw new ArgumentError(
        `defineCommand(): ${name} is already a method of the client; choose another name`,
      );
    }
    const script = this.defineScript<Result>(definition);
    this.#definedCommands.set(name, script);
    Object.defineProperty(this, name, { configurable: true, value: script });
    Object.defineProperty(this, `${name}Buffer`, { configurable: true, value: script.buffer });
    return script;
  }

  /** Calls a `defineScript()` script (the same as calling the script itself). */
  runScript(script: unknown, ...keysAndArgs: RedisArg[]): Promise<unknown> {
    return this.#runScript(script, keysAndArgs, false, undefined);
  }

  /** Like `runScript`, with bulk strings in the reply as Buffers. */
  runScriptBuffer(script: unknown, ...keysAndArgs: RedisArg[]): Promise<unknown> {
    return this.#runScript(script, keysAndArgs, true, undefined);
  }

  /**
   * Every key of the cluster, one by one: SCAN on every primary (or replica, by `readFrom`),
   * each node's cursor kept to that node. A key present for the whole scan is yielded at
   * least once — through failovers and resharding, which may yield some twice; see scan/.
   * With `keyPrefix`, only this prefix's keys are scanned, and yielded without it.
   *
   * @example
   * for await (const key of cluster.scanIterator({ match: "user:*", count: 1000 })) console.log(key);
   */
  scanIterator(options: ScanOptions = {}): AsyncIterableIterator<string> {
    return flatten(scanKeys(this.#scanHost(), options, false)) as AsyncIterableIterator<string>;
  }

  /** Like `scanIterator`, one array per SCAN reply (the keys one node answered). */
  scanBatches(options: ScanOptions = {}): AsyncIterableIterator<string[]> {
    return scanKeys(this.#scanHost(), options, false) as AsyncIterableIterator<string[]>;
  }

  /** Like `scanIterator`, with keys as Buffers (binary keys). */
  scanBufferIterator(options: ScanOptions = {}): AsyncIterableIterator<Buffer> {
    return flatten(scanKeys(this.#scanHost(), options, true)) as AsyncIterableIterator<Buffer>;
  }

  /**
   * The fields and values of a hash, pair by pair (HSCAN), from the node that holds it. If
   * the key moves to another node meanwhile, its walk starts over there (pairs may repeat).
   *
   * @example
   * for await (const [field, value] of cluster.hscanIterator("user:42")) console.log(field, value);
   */
  hscanIterator(key: RedisKey, options: KeyScanOptions = {}): AsyncIterableIterator<[string, string]> {
    return scanKey(this.#scanHost(), "HSCAN", key, options) as AsyncIterableIterator<[string, string]>;
  }

  /** The members of a set, one by one (SSCAN); see `hscanIterator`. */
  sscanIterator(key: RedisKey, options: KeyScanOptions = {}): AsyncIterableIterator<string> {
    return scanKey(this.#scanHost(), "SSCAN", key, options) as AsyncIterableIterator<string>;
  }

  /** The members of a sorted set with their scores, pair by pair (ZSCAN); see `hscanIterator`. */
  zscanIterator(key: RedisKey, options: HashScanOptions = {}): AsyncIterableIterator<[string, string]> {
    return scanKey(this.#scanHost(), "ZSCAN", key, options) as AsyncIterableIterator<[string, string]>;
  }

  /**
   * A view of this client whose commands carry per-call options: `signal` (an AbortSignal:
   * the command rejects with `AbortError`; a blocking call's connection is closed),
   * `timeoutMs` (its budget instead of `commandTimeout`), `readFrom` (where its reads go).
   * Pipelines and transactions made from the view carry them too. See call-options.ts.
   *
   * @example
   * const controller = new AbortController();
   * const job = cluster.withOptions({ signal: controller.signal, timeoutMs: 1000 }).blpop("jobs", 0);
   * controller.abort();
   */
  withOptions(options: CallOptions): ClusterView {
    const checked = checkCallOptions(options);
    if (checked.readFrom === "sameAz" && this.#options.availabilityZone === undefined) {
      throw new ArgumentError(
        'withOptions({ readFrom: "sameAz" }) needs the client\'s availabilityZone option (the zone it runs in)',
      );
    }
    if (checked.readFrom !== undefined && checked.readFrom !== "primary") {
      this.#watchReplicaHealth(checked.readFrom);
    }
    return makeView(this.#viewHost, checked);
  }

  /**
   * resty-redis-cluster's pipeline style: after `initPipeline()`, command calls queue
   * instead of sending, until `commitPipeline()` sends them all and resolves with their
   * results in order. While queued, each call returns a promise of its own entry of that
   * array (it never rejects: errors are values, as in the array). Prefer `pipeline()`:
   * this mode captures every command of the client, from any caller, until the commit.
   *
   * @example
   * cluster.initPipeline();
   * cluster.get("a");
   * cluster.get("b");
   * const [a, b] = await cluster.commitPipeline();
   */
  initPipeline(): void {
    this.#resty.init();
  }

  /** Sends what was queued since `initPipeline()`; resolves with the results in order. */
  commitPipeline(): Promise<unknown[]> {
    return this.#resty.commit();
  }

  /** Drops what was queued since `initPipeline()`; the queued calls resolve with a `ClosedError`. */
  cancelPipeline(): void {
    this.#resty.cancel();
  }

  /**
   * Handles on the nodes of the current topology, for commands that concern one node
   * (INFO, CONFIG GET, CLIENT LIST, ...). Empty until the topology is known (`connect()`).
   * `"master"` and `"slave"` are accepted for `"primary"` and `"replica"`.
   *
   * @example
   * for (const node of cluster.nodes("primary")) console.log(await node.info("memory"));
   */
  nodes(role: NodeRole | "all" | "master" | "slave" = "all"): NodeHandle<R>[] {
    const wanted = NODE_ROLES.get(role);
    if (wanted === undefined) {
      throw new ArgumentError(
        `nodes(): unknown role ${JSON.stringify(role)}; use "primary", "replica" or "all"`,
      );
    }
    const topology = this.#discovery.current;
    if (topology === undefined) return [];
    const nodes = [...topology.nodes.values()].filter((node) => wanted === "all" || node.role === wanted);
    return nodes.map((node) => nodeHandle(this, node) as NodeHandle<R>);
  }

  /** Counters since the client was created. */
  stats(): ClusterStats {
    return {
      ...this.#executor.stats,
      refreshes: this.#discovery.refreshes,
      topologyQueries: this.#discovery.viewsAsked,
      viewsRejected: this.#discovery.viewsRejected,
      offlineQueue: this.#executor.offlineCount,
      ...this.#pubsub.stats,
      unroutedPushes: this.#pushes.unrouted,
      maintenanceNotifications: this.#maintenance?.notifications ?? 0,
      cache: this.#cache?.stats(),
    };
  }

  /** The topology in use (undefined before the first refresh). For tools and tests. */
  get topology(): Topology | undefined {
    return this.#discovery.current;
  }

  /**
   * Graceful close: new commands are refused with `ClosedError`; those in flight get their
   * replies (blocking calls are cut short: they could wait for ever); then every connection
   * closes.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#state !== "open") return;
    this.#state = "closing";
    const error = new ClosedError("the client was closed before this command could complete");
    this.#stopEverything(error);
    await Promise.all([this.#pubsub.close(), this.#registry.closeAll(error)]);
    this.#state = "closed";
  }

  /** Immediate close: everything pending rejects with `ClosedError`. */
  disconnect(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    const error = new ClosedError();
    this.#stopEverything(error);
    this.#pubsub.destroy(error);
    this.#registry.destroyAll(error);
  }

  /** What both closes do first: nothing new starts, and nothing waiting is left waiting. */
  #stopEverything(error: ClosedError): void {
    // Anything that would start a new attempt (a retry, a redirection, a command waiting
    // for the cluster) ends with ClosedError; the resty pipeline's queued calls too.
    this.#executor.closed = true;
    this.#cache?.close();
    this.#discovery.close();
    this.#maintenance?.close();
    this.#resty.cancel(error);
    this.#executor.failPending(error);
  }

  // ── Pub/Sub (pubsub/) ─────────────────────────────────────────────────────────────────

  /**
   * Subscribes to shard channels (Redis 7 sharded Pub/Sub), each on the primary of its slot,
   * and resolves once all are subscribed. The subscription follows its channels through slot
   * migrations, failovers and lost nodes by itself; its `down` / `up` / `moved` events report
   * every gap. Without a listener, iterate it: `for await (const { channel, message } of sub)`.
   * Publish with `cluster.spublish(channel, message)`.
   *
   * @example
   * const sub = await cluster.ssubscribe("orders:{eu}", (message, channel) => {});
   * await sub.unsubscribe();
   */
  ssubscribe(
    channels: RedisArg | readonly RedisArg[],
    listener?: MessageListener<string> | SubscribeOptions,
    options?: SubscribeOptions,
  ): Promise<Subscription<string>> {
    return this.#subscribe("shard", channels, listener, options, false);
  }

  /** Like `ssubscribe`, with channels and messages as Buffers (binary-safe). */
  ssubscribeBuffer(
    channels: RedisArg | readonly RedisArg[],
    listener?: MessageListener<Buffer> | SubscribeOptions,
    options?: SubscribeOptions,
  ): Promise<Subscription<Buffer>> {
    return this.#subscribe("shard", channels, listener, options, true);
  }

  /**
   * Subscribes to classic channels. A PUBLISH reaches every node of the cluster, so all
   * classic subscriptions of this client share one node, chosen at random; when it is lost
   * they move to another (`down` / `up` / `moved` events).
   *
   * @example
   * const sub = await cluster.subscribe(["news", "alerts"], (message, channel) => {});
   * await cluster.publish("news", "hello"); // from any client
   */
  subscribe(
    channels: RedisArg | readonly RedisArg[],
    listener?: MessageListener<string> | SubscribeOptions,
    options?: SubscribeOptions,
  ): Promise<Subscription<string>> {
    return this.#subscribe("channel", channels, listener, options, false);
  }

  /** Like `subscribe`, with channels and messages as Buffers (binary-safe). */
  subscribeBuffer(
    channels: RedisArg | readonly RedisArg[],
    listener?: MessageListener<Buffer> | SubscribeOptions,
    options?: SubscribeOptions,
  ): Promise<Subscription<Buffer>> {
    return this.#subscribe("channel", channels, listener, options, true);
  }

  /**
   * Subscribes to patterns, on the classic node like `subscribe` — or, with
   * `{ allNodes: true }`, on every primary: for keyspace notifications, which each node
   * publishes only for its own keys.
   *
   * @example
   * await cluster.psubscribe("__keyspace@0__:user:*", (event, channel) => {}, { allNodes: true });
   */
  psubscribe(
    patterns: RedisArg | readonly RedisArg[],
    listener?: MessageListener<string> | PatternSubscribeOptions,
    options?: PatternSubscribeOptions,
  ): Promise<Subscription<string>> {
    return this.#subscribe("pattern", patterns, listener, options, false);
  }

  /** Like `psubscribe`, with channels, patterns and messages as Buffers. */
  psubscribeBuffer(
    patterns: RedisArg | readonly RedisArg[],
    listener?: MessageListener<Buffer> | PatternSubscribeOptions,
    options?: PatternSubscribeOptions,
  ): Promise<Subscription<Buffer>> {
    return this.#subscribe("pattern", patterns, listener, options, true);
  }

  #subscribe<T extends string | Buffer>(
    family: Family,
    channels: RedisArg | readonly RedisArg[],
    listenerOrOptions: MessageListener<T> | PatternSubscribeOptions | undefined,
    options: PatternSubscribeOptions | undefined,
    buffers: boolean,
  ): Promise<Subscription<T>> {
    if (this.#state !== "open") return Promise.reject(new ClosedError());
    const listener = typeof listenerOrOptions === "function" ? listenerOrOptions : undefined;
    const given = typeof listenerOrOptions === "function" ? options : (listenerOrOptions ?? options);
    return this.#pubsub.subscribe(family, channels, listener, given ?? {}, buffers);
  }

  // ── describing and sending ────────────────────────────────────────────────────────────

  /** @internal The path of every command method. */
  [SEND_COMMAND](
    name: string,
    info: CommandInfo | undefined,
    args: RedisArg[],
    wantsBuffers: boolean,
    transform: ReplyTransform | undefined,
  ): Promise<unknown> {
    return this.#send(undefined, name, info, args, wantsBuffers, transform);
  }

  #send(
    options: Readonly<CallOptions> | undefined,
    name: string,
    info: CommandInfo | undefined,
    args: RedisArg[],
    wantsBuffers: boolean,
    transform: ReplyTransform | undefined,
  ): Promise<unknown> {
    if (this.#state !== "open") return Promise.reject(new ClosedError());
    if (this.#resty.isOpen && options === undefined)
      return this.#resty.queue(name, info, args, wantsBuffers, transform);
    const described = info ?? this.#catalog.find(name);
    if (described === undefined) return this.#sendUndescribed(name, args, wantsBuffers, transform, options);
    const command = this.#newCommand(name, resolveSubcommand(described, args), args, wantsBuffers, options);
    command.transform = transform;
    this.#describeInto(command, undefined);
    return command.promise;
  }

  #newCommand(
    name: string,
    info: CommandInfo | undefined,
    args: RedisArg[],
    wantsBuffers: boolean,
    options?: Readonly<CallOptions>,
  ) {
    const timeoutMs = options?.timeoutMs ?? this.#options.commandTimeoutMs;
    const command = new PromiseCommand(this.#executor, name, args, info, wantsBuffers, timeoutMs);
    applyCallOptions(command, options);
    return command;
  }

  /** One call of a script, routed by its keys; the executor picks EVALSHA or EVAL per node. */
  #runScript(
    script: unknown,
    keysAndArgs: RedisArg[],
    wantsBuffers: boolean,
    options: Readonly<CallOptions> | undefined,
  ): Promise<unknown> {
    let source: ReturnType<typeof sourceOf>;
    try {
      source = sourceOf(script);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#runSource(source, keysAndArgs, wantsBuffers, options);
  }

  #runSource(
    source: ReturnType<typeof sourceOf>,
    keysAndArgs: RedisArg[],
    wantsBuffers: boolean,
    options: Readonly<CallOptions> | undefined,
  ): Promise<unknown> {
    if (this.#state !== "open") return Promise.reject(new ClosedError());
    let command: PromiseCommand;
    try {
      const call = scriptCall(source, keysAndArgs, false);
      command = this.#newCommand(call.name, call.info, call.args, wantsBuffers, options);
      command.script = source;
    } catch (error) {
      return Promise.reject(error);
    }
    this.#describeInto(command, undefined);
    return command.promise;
  }

  /** Sends WATCH on a dedicated connection of the keys' primary, and keeps the connection. */
  async #openWatch(
    keys: RedisArg[],
    timeoutMs: number,
    options: Readonly<CallOptions> | undefined,
  ): Promise<WatchLease> {
    if (this.#state !== "open") throw new ClosedError();
    const command = new PromiseCommand(this.#executor, "WATCH", keys, WATCH_INFO, false, timeoutMs);
    let kept: { connection: WatchLease["connection"]; release: (clean: boolean) => void } | undefined;
    command.keeper = {
      keep: (connection, release) => {
        kept = { connection, release };
      },
    };
    applyCallOptions(command, options);
    this.#describeOne(command, true);
    command.replicaReadable = false;
    this.#executor.dispatch(command);
    await command.promise;
    if (kept === undefined) throw new ClosedError("the WATCH session's connection was closed");
    return { ...kept, slot: command.slot };
  }

  #scanHost(): ScanHost {
    return {
      closedError: () => (this.#state === "open" ? undefined : new ClosedError()),
      topology: () => this.#discovery.current,
      refreshTopology: () => this.refreshTopology(),
      sendToNode: (address, name, args, wantsBuffers, prepare) =>
        this.#sendToNode(address, name, args, wantsBuffers, undefined, prepare),
      send: (name, args, wantsBuffers, prepare) => this.#sendPrepared(name, args, wantsBuffers, prepare),
      keyPrefix: this.#options.keyPrefix,
      readFrom: this.#options.readFrom,
      pickForRead: (shard) => this.#router.pickForRead(shard, undefined),
    };
  }

  /** A command routed by its keys, after `prepare` marks it (a key scan's cursor). */
  #sendPrepared(
    name: string,
    args: RedisArg[],
    wantsBuffers: boolean,
    prepare: (command: Command) => void,
  ): Promise<unknown> {
    if (this.#state !== "open") return Promise.reject(new ClosedError());
    const info = this.#catalog.find(name);
    const command = this.#newCommand(name, info && resolveSubcommand(info, args), args, wantsBuffers);
    prepare(command);
    this.#describeInto(command, undefined);
    return command.promise;
  }

  /**
   * Starts (or widens) the replica health checks that reads from replicas need: RTTs for
   * `"nearest"` (and `"sameAz"`, which falls back to it), zones for `"sameAz"`.
   */
  #watchReplicaHealth(readFrom: ReadFrom): void {
    const sampleRtt = readFrom === "nearest" || readFrom === "sameAz";
    const readZones = readFrom === "sameAz";
    if (
      this.#health !== undefined &&
      (this.#healthSamplesRtt || !sampleRtt) &&
      (this.#healthReadsZones || !readZones)
    )
      return;
    // Health checks must not hold a refresh long: a replica slower than this is not a reader.
    const checkTimeoutMs = Math.min(this.#options.commandTimeoutMs, 1000);
    const started = this.#health === undefined;
    this.#healthSamplesRtt ||= sampleRtt;
    this.#healthReadsZones ||= readZones;
    this.#health = new HealthMonitor(
      this.#registry,
      checkTimeoutMs,
      this.#healthSamplesRtt,
      () => this.#router.invalidate(),
      (denied) => this.#emitSafe("error", denied),
      this.#healthReadsZones,
    );
    // A view asked for it after the first topology: check what is there now.
    const topology = this.#discovery?.current;
    if (topology !== undefined && (started || sampleRtt || readZones)) void this.#health.checkAll(topology);
  }

  /**
   * Describes a command and hands what is to be sent — it, or the per-slot parts of a
   * splittable command across slots — to `send` (a pipeline's collector), or dispatches it
   * when `send` is undefined. A description error (bad argument, cross-slot) settles the
   * command instead.
   */
  #describeInto(command: Command, send: ((command: Command) => void) | undefined): void {
    let groups: SlotGroup[] | undefined;
    try {
      groups = this.#describe(command, false, false);
    } catch (error) {
      command.completeError(error as Error);
      return;
    }
    const cache = this.#cache;
    if (groups !== undefined) {
      const parts = splitBySlot(command, groups, this.#executor);
      if (cache !== undefined) for (const part of parts) cache.describe(part, command.cacheReads);
      // Alone, the parts still wait for a first topology as one entry, like a pipeline.
      if (send === undefined) this.#executor.dispatchAll(parts);
      else for (const part of parts) send(part);
    } else if (command.slot === UNKNOWN_SLOT) {
      this.#locateKeysThenSend(command);
    } else {
      cache?.describe(command, true);
      if (send === undefined) this.#executor.dispatch(command);
      else send(command);
    }
  }

  /**
   * Fills in what routing needs: arguments checked, key prefix applied, slot, read mode,
   * blocking. For a splittable command whose keys span slots, returns the groups to split
   * it into. A command pinned to a node (node handles) gets no slot: it goes where told.
   */
  #describe(command: Command, pinned: boolean, internal: boolean): SlotGroup[] | undefined {
    const info = command.info;
    const args = command.args;
    checkArgs(command, args);
    // WATCH/UNWATCH the client sends itself, on a WATCH session's own connection.
    if (!internal) refuseConnectionState(command.name, args);
    if (info === undefined) return undefined; // a command nobody knows, not even the server: any node answers
    const prefix = this.#options.keyPrefix;
    if (prefix !== undefined) prefixKeys(prefix, args, keyIndexes(info, args) ?? []);
    let groups: SlotGroup[] | undefined;
    if (!pinned) groups = this.#slotOf(command, info);
    command.replicaReadable =
      (command.readFrom ?? this.#options.readFrom) !== "primary" && (info.flags & CommandFlag.READONLY) !== 0;
    const blocking = blockingCall(info, args);
    if (blocking !== undefined) {
      // The server may rightly hold it that long; the command's own budget comes on top.
      command.blocking = blocking;
      command.relaxDeadline(command.deadlineAt + blocking.timeoutMs);
    }
    return groups;
  }

  /**
   * Describes a command that must stay whole (a transaction's, a WATCH session's): a
   * splittable command across slots is a CrossSlotError here, and keys only the server can
   * locate are refused. Throws; nothing is sent.
   */
  #describeOne(command: Command, internal: boolean): void {
    const groups = this.#describe(command, false, internal);
    // A transaction's or a WATCH session's read must see the server (a cached value could be
    // older than the WATCH): their writes only are noted.
    if (groups === undefined) this.#cache?.describe(command, false);
    if (groups !== undefined) {
      throw new CrossSlotError(
        groups.map((group) => group.slot),
        command.displayName,
      );
    }
    if (command.slot === UNKNOWN_SLOT) {
      throw new ArgumentError(
        "its keys can only be located by asking the server (COMMAND GETKEYS); send it outside a transaction",
        command.displayName,
      );
    }
  }

  /** Sets the command's slot from its keys (each hashed once); the groups of a split. */
  #slotOf(command: Command, info: CommandInfo): SlotGroup[] | undefined {
    const args = command.args;
    const single = info.singleKeyIndex;
    if (single >= 0) {
      const key = args[single];
      if (key === undefined) throw new ArgumentError("missing its key argument", command.displayName);
      command.slot = keySlot(keyBytes(key));
      return undefined;
    }
    const stride = splitStride(info.name);
    if (stride !== undefined) {
      if (args.length === 0) throw new ArgumentError("missing its key argument", command.displayName);
      const plan = slotOrGroups(args, stride);
      if (typeof plan === "number") {
        command.slot = plan;
        return undefined;
      }
      command.slot = MULTI_SLOT;
      return plan;
    }
    const indexes = keyIndexes(info, args, true);
    if (indexes === null) {
      command.slot = UNKNOWN_SLOT; // the server will say (#locateKeysThenSend)
      return undefined;
    }
    command.slot = slotOfKeys(args, indexes);
    if (command.slot === MULTI_SLOT)
      throw new CrossSlotError(distinctSlots(args, indexes), command.displayName);
    return undefined;
  }

  /**
   * A command whose key specs do not say where its keys are (a module's movable keys): ask
   * the server with `COMMAND GETKEYS`, then prefix and route by the keys it names. Calls of
   * the same command keep their order; other commands do not wait. If the server cannot
   * tell either, any node gets it and answers.
   */
  #locateKeysThenSend(command: Command): void {
    this.#catalog.locate(command.name, command.args, (keys) => {
      if (keys === undefined) {
        command.slot = NO_SLOT;
        this.#executor.dispatch(command);
        return;
      }
      const indexes = positionsOf(command.args, keys);
      const prefix = this.#options.keyPrefix;
      if (prefix !== undefined) prefixKeys(prefix, command.args, indexes);
      command.slot = slotOfKeys(command.args, indexes);
      if (command.slot === MULTI_SLOT) {
        command.completeError(new CrossSlotError(distinctSlots(command.args, indexes), command.displayName));
        return;
      }
      this.#executor.dispatch(command);
    });
  }

  #callByName(
    name: string,
    args: RedisArg[],
    wantsBuffers: boolean,
    options?: Readonly<CallOptions>,
  ): Promise<unknown> {
    const named = splitCommandName(name, args);
    if (named instanceof Error) return Promise.reject(named);
    return this.#send(options, named.head, findCommand(named.head), named.args, wantsBuffers, undefined);
  }

  /**
   * A command the table lacks (a module's, or a newer server's): asked about once with
   * `COMMAND INFO` (command/catalog.ts), then sent. Only calls of that command wait for the
   * answer, in the order they were made.
   */
  #sendUndescribed(
    name: string,
    args: RedisArg[],
    wantsBuffers: boolean,
    transform: ReplyTransform | undefined,
    options?: Readonly<CallOptions>,
  ): Promise<unknown> {
    if (this.#catalog.isUnknownToServer(name))
      return this.#sendKeyless(name, args, wantsBuffers, undefined, options);
    return this.#catalog.learn(name).then((info) => {
      if (info === undefined) return this.#sendKeyless(name, args, wantsBuffers, undefined, options);
      const command = this.#newCommand(name, resolveSubcommand(info, args), args, wantsBuffers, options);
      command.transform = transform;
      this.#describeInto(command, undefined);
      return command.promise;
    });
  }

  /** Sends a command to one node, no key routing (unknown commands, COMMAND INFO). */
  #sendKeyless(
    name: string,
    args: RedisArg[],
    wantsBuffers: boolean,
    info?: CommandInfo,
    options?: Readonly<CallOptions>,
  ): Promise<unknown> {
    const command = this.#newCommand(name, info, args, wantsBuffers, options);
    try {
      checkArgs(name, args);
      refuseConnectionState(name, args);
      this.#executor.dispatch(command);
    } catch (error) {
      command.completeError(error as Error);
    }
    return command.promise;
  }

  /** @internal Sends a command to one given node (per-node handles). */
  sendToNode(
    address: string,
    name: string,
    args: RedisArg[],
    wantsBuffers: boolean,
    transform?: ReplyTransform,
  ): Promise<unknown> {
    return this.#sendToNode(address, name, args, wantsBuffers, transform, undefined);
  }

  #sendToNode(
    address: string,
    name: string,
    args: RedisArg[],
    wantsBuffers: boolean,
    transform: ReplyTransform | undefined,
    prepare: ((command: Command) => void) | undefined,
  ): Promise<unknown> {
    if (this.#state !== "open") return Promise.reject(new ClosedError());
    const info = this.#catalog.find(name);
    const command = this.#newCommand(name, info && resolveSubcommand(info, args), args, wantsBuffers);
    command.transform = transform;
    command.pinnedAddress = address;
    prepare?.(command);
    try {
      this.#describe(command, true, false);
    } catch (error) {
      command.completeError(error as Error);
      return command.promise;
    }
    this.#cache?.describe(command, false); // a node's own answer is wanted; writes are noted
    this.#executor.dispatch(command);
    return command.promise;
  }

  // ── events ────────────────────────────────────────────────────────────────────────────

  #onTopology(topology: Topology, change: TopologyChange): void {
    if (this.#state !== "open") return;
    this.#cache?.onTopology(topology); // before anything waiting for this topology is sent
    this.#executor.onTopology();
    this.#pubsub.onTopology(topology);
    // "nearest" needs round-trip times from the start; the periodic refresh keeps them fresh.
    const readFrom = this.#options.readFrom;
    if (!this.#ready && (readFrom === "nearest" || readFrom === "sameAz"))
      void this.#health?.checkAll(topology);
    const initial = !this.#ready;
    publishTopology(() => ({
      initial,
      shards: topology.shards.length,
      nodes: topology.nodes.size,
      ...change,
    }));
    if (!this.#ready) {
      this.#ready = true;
      this.#discovery.startPeriodic();
      this.#emitSafe("ready");
    } else {
      this.#emitSafe("topology", change);
    }
  }

  /** Emits without ever throwing: a listener's exception or a missing 'error' listener is not ours to raise. */
  #emitSafe<E extends keyof RedisClusterEvents>(event: E, ...args: RedisClusterEvents[E]): void {
    if (this.listenerCount(event) === 0) return;
    try {
      // The typed emit cannot follow a generic event name to its arguments; the untyped one can.
      (this as EventEmitter).emit(event, ...args);
    } catch {
      // A listener threw; the client's own work must go on.
    }
  }
}

// The command methods, generated from the command table (command/methods.generated.ts),
// their replies typed for the client's protocol.
export interface RedisCluster<R extends RespVersion = 2> extends CommandMethods<R> {}
installCommandMethods(RedisCluster.prototype);

const WATCH_INFO = findCommand("watch");

/** The items of an iterator of arrays, one by one. */
async function* flatten<T>(batches: AsyncIterableIterator<T[]>): AsyncIterableIterator<T> {
  for await (const batch of batches) yield* batch;
}

/** Prepends the key prefix to the arguments at `indexes` (the command's keys). */
function prefixKeys(prefix: string, args: RedisArg[], indexes: readonly number[]): void {
  for (const index of indexes) {
    const key = keyBytes(args[index]!); // a number key as the encoder would send it
    args[index] = key instanceof Uint8Array ? Buffer.concat([Buffer.from(prefix), key]) : prefix + key;
  }
}

/**
 * Where the keys `COMMAND GETKEYS` named are among `args`: for each key in order, the first
 * argument after the previous key's that has the same bytes.
 */
function positionsOf(args: readonly RedisArg[], keys: readonly RedisArg[]): number[] {
  const positions: number[] = [];
  let from = 0;
  for (const key of keys) {
    const wanted = Buffer.from(keyBytes(key));
    for (let i = from; i < args.length; i++) {
      if (Buffer.from(keyBytes(args[i]!)).equals(wanted)) {
        positions.push(i);
        from = i + 1;
        break;
      }
    }
  }
  return positions;
}

/** The slot all keys share, NO_SLOT without keys, MULTI_SLOT when they differ. */
function slotOfKeys(args: readonly RedisArg[], indexes: readonly number[]): number {
  let slot = NO_SLOT;
  for (const index of indexes) {
    const keySlotValue = keySlot(keyBytes(args[index]!));
    if (slot === NO_SLOT) slot = keySlotValue;
    else if (slot !== keySlotValue) return MULTI_SLOT;
  }
  return slot;
}

function distinctSlots(args: readonly RedisArg[], indexes: readonly number[]): number[] {
  return [...new Set(indexes.map((index) => keySlot(keyBytes(args[index]!))))];
}
