/**
 * RedisCluster: wires the parts together and turns method calls into Commands.
 *
 *   method call ─► describe (info, args checked, slot) ─► executor.dispatch ─► router ─► connection
 *                                                            ▲                              │
 *                                     MOVED / ASK / retry ───┴──── settle / fail / expire ◄─┘
 *
 * Everything that is not a plain reply is decided in the executor (cluster/executor.ts).
 */
import { EventEmitter } from "node:events";
import { type BatchHost, flattenPairs, Pipeline } from "./batch/pipeline.js";
import { dispatchSplit, isSplittable } from "./batch/split.js";
import { Discovery } from "./cluster/discovery.js";
import { Executor, type ExecutorStats } from "./cluster/executor.js";
import { HealthMonitor } from "./cluster/health.js";
import { NodeRegistry } from "./cluster/nodes.js";
import { Router } from "./cluster/router.js";
import type { ClusterNode, NodeRole, Topology, TopologyChange } from "./cluster/topology.js";
import { blockingTimeoutMs } from "./command/blocking.js";
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
import {
  CommandFlag,
  type CommandInfo,
  findCommand,
  parseCommandInfoReply,
  registerCommand,
  resolveSubcommand,
} from "./command/table.js";
import { checkArgs, keyBytes, refuseConnectionState, splitCommandName } from "./command/validate.js";
import { ArgumentError, ClosedError, CrossSlotError, RedisClusterError } from "./errors.js";
import { type NormalizedOptions, normalizeOptions, type RedisClusterOptions } from "./options.js";
import type { RedisArg } from "./resp/types.js";

/** Events of a RedisCluster and their arguments. */
export interface RedisClusterEvents {
  /** The first topology is known: commands flow. */
  ready: [];
  /** A refresh changed the topology. */
  topology: [change: TopologyChange];
  /** A command was redirected by MOVED. */
  moved: [info: { slot: number; from: string; to: string }];
  /** A command was redirected by ASK. */
  ask: [info: { slot: number; from: string; to: string }];
  /** A node connection failed (the client recovers by itself; this is for monitoring). */
  nodeError: [info: { address: string; error: RedisClusterError }];
  /** A background task failed (e.g. a periodic refresh). Emitted only while someone listens. */
  error: [error: RedisClusterError];
}

/** Counters of `cluster.stats()`, since the client was created. */
export interface ClusterStats extends ExecutorStats {
  /** Topology refreshes run. */
  refreshes: number;
  /** Commands waiting right now for a topology or an unserved slot. */
  offlineQueue: number;
}

/** A connection-level view of one node, for commands that concern that node only. */
export interface NodeHandle extends CommandMethods {
  readonly address: string;
  /** `"primary"` or `"replica"` (`role()` is the ROLE command, sent to the node). */
  readonly nodeRole: NodeRole;
  /** Sends any command to this node; its reply comes back as is (MOVED included). */
  call(name: string, ...args: RedisArg[]): Promise<unknown>;
  callBuffer(name: string, ...args: RedisArg[]): Promise<unknown>;
}

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
export class RedisCluster extends EventEmitter implements CommandTarget {
  /** The `name` option (resty's cluster name), for telling clients apart in diagnostics. */
  readonly name: string | undefined;
  #options: NormalizedOptions;
  #registry: NodeRegistry;
  #discovery: Discovery;
  #router: Router;
  #executor: Executor;
  #state: "open" | "closing" | "closed" = "open";
  #closing: Promise<void> | undefined;
  #ready = false;
  /** Set while a command waits for the server to describe it; later commands queue behind. */
  #gate: Array<() => void> | undefined;
  #unknownCommands = new Set<string>();
  #dispatch = (command: Command) => this.#executor.dispatch(command);
  #restyPipeline: { pipeline: Pipeline; waiters: Array<(result: unknown) => void> } | undefined;
  #batchHost: BatchHost;
  /** Replica health and RTT checks; only when reads may go to replicas. */
  #health: HealthMonitor | undefined;

  constructor(options: RedisClusterOptions) {
    super();
    const o = normalizeOptions(options);
    this.#options = o;
    this.name = o.name;
    this.#registry = new NodeRegistry(
      {
        connectTimeoutMs: o.connectTimeoutMs,
        username: o.username,
        password: o.password,
        tls: o.tls,
        protocol: o.protocol,
        clientName: o.clientName,
        idleTimeoutMs: o.idleTimeoutMs,
        maxInFlight: o.maxInFlight,
        stallTimeoutMs: o.commandTimeoutMs,
        decoderLimits: o.decoderLimits,
        coalesceWrites: o.autoPipelining,
      },
      (entry, error) => {
        if (error === undefined) return;
        this.#emitSafe("nodeError", { address: entry.address, error });
        if (this.#state === "open") this.#discovery.requestRefresh();
      },
    );
    this.#discovery = new Discovery({
      seeds: o.seeds,
      registry: this.#registry,
      mapAddress: o.mapAddress,
      tls: o.tls !== undefined,
      queryTimeoutMs: o.commandTimeoutMs,
      minRefreshIntervalMs: o.minRefreshIntervalMs,
      refreshIntervalMs: o.refreshIntervalMs,
      prepare: async (topology) => {
        await this.#health?.checkNew(topology);
      },
      onTopology: (topology, change) => this.#onTopology(topology, change),
      onRefreshFailed: (error) => {
        this.#executor.onRefreshFailed();
        if (this.#ready && error instanceof RedisClusterError) this.#emitSafe("error", error);
      },
      onPeriodicRefresh: (topology) => {
        if (this.#health) void this.#health.checkAll(topology);
      },
    });
    this.#router = new Router(o.readFrom, this.#registry);
    if (o.readFrom !== "primary") {
      // Health checks must not hold a refresh long: a replica slower than this is not a reader.
      const checkTimeoutMs = Math.min(o.commandTimeoutMs, 1000);
      this.#health = new HealthMonitor(this.#registry, checkTimeoutMs, o.readFrom === "nearest", () =>
        this.#router.invalidate(),
      );
    }
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
        moved: (slot, from, to) => this.#emitSafe("moved", { slot, from, to }),
        ask: (slot, from, to) => this.#emitSafe("ask", { slot, from, to }),
      },
    );
    this.#batchHost = {
      owner: this.#executor,
      commandTimeoutMs: o.commandTimeoutMs,
      closedError: () => (this.#state === "open" ? undefined : new ClosedError()),
      describeInto: (command, send) => this.#describeInto(command, send),
      dispatchAll: (commands) => this.#executor.dispatchAll(commands),
      learnCommands: (names) => this.#learnCommands(names),
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
  pipeline(): Pipeline {
    return new Pipeline(this.#batchHost);
  }

  /**
   * resty-redis-cluster's pipeline style: after `initPipeline()`, command calls queue
   * instead of sending, until `commitPipeline()` sends them all and resolves with their
   * results in order. While queued, each call returns a promise of its own entry of that
   * array (it never rejects: errors are values, as in the array). Prefer `pipeline()`:
   * this mode captures every command of the client, from any caller, until the commit.
   */
  initPipeline(): void {
    if (this.#restyPipeline !== undefined) {
      throw new ArgumentError(
        "initPipeline: a pipeline is already open; commitPipeline() or cancelPipeline() first",
      );
    }
    this.#restyPipeline = { pipeline: this.pipeline(), waiters: [] };
  }

  /** Sends what was queued since `initPipeline()`; resolves with the results in order. */
  async commitPipeline(): Promise<unknown[]> {
    const open = this.#restyPipeline;
    if (open === undefined)
      throw new ArgumentError("commitPipeline: no pipeline is open; call initPipeline() first");
    this.#restyPipeline = undefined;
    let results: unknown[];
    try {
      results = await open.pipeline.exec();
    } catch (error) {
      for (const resolve of open.waiters) resolve(error); // the queued calls never reject
      throw error;
    }
    open.waiters.forEach((resolve, index) => {
      resolve(results[index]);
    });
    return results;
  }

  /** Drops what was queued since `initPipeline()`; the queued calls resolve with a `ClosedError`. */
  cancelPipeline(): void {
    const open = this.#restyPipeline;
    this.#restyPipeline = undefined;
    for (const resolve of open?.waiters ?? []) resolve(new ClosedError("the pipeline was cancelled"));
  }

  /**
   * Handles on the nodes of the current topology, for commands that concern one node
   * (INFO, CONFIG GET, CLIENT LIST, ...). Empty until the topology is known (`connect()`).
   *
   * @example
   * for (const node of cluster.nodes("primary")) console.log(await node.info("memory"));
   */
  nodes(role: NodeRole | "all" = "all"): NodeHandle[] {
    const topology = this.#discovery.current;
    if (topology === undefined) return [];
    const nodes = [...topology.nodes.values()].filter((node) => role === "all" || node.role === role);
    return nodes.map((node) => new ClusterNodeHandle(this, node) as unknown as NodeHandle);
  }

  /** Counters since the client was created. */
  stats(): ClusterStats {
    return {
      ...this.#executor.stats,
      refreshes: this.#discovery.refreshes,
      offlineQueue: this.#executor.offlineCount,
    };
  }

  /** The topology in use (undefined before the first refresh). For tools and tests. */
  get topology(): Topology | undefined {
    return this.#discovery.current;
  }

  /**
   * Graceful close: new commands are refused with `ClosedError`; those in flight get their
   * replies; then every connection closes.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#state !== "open") return;
    this.#state = "closing";
    // Commands in flight get their replies; anything that would start a new attempt
    // (a retry, a redirection, a command waiting for the cluster) ends with ClosedError.
    this.#executor.closed = true;
    this.#discovery.close();
    this.#executor.failPending(new ClosedError("the client was closed before this command could complete"));
    await this.#registry.closeAll();
    this.#state = "closed";
  }

  /** Immediate close: everything pending rejects with `ClosedError`. */
  disconnect(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#executor.closed = true;
    this.#discovery.close();
    this.#executor.failPending(new ClosedError());
    this.#registry.destroyAll();
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
    if (this.#state !== "open") return Promise.reject(new ClosedError());
    const resty = this.#restyPipeline;
    if (resty !== undefined) {
      resty.pipeline[SEND_COMMAND](name, info, args, wantsBuffers, transform);
      return new Promise((resolve) => resty.waiters.push(resolve));
    }
    if (this.#gate !== undefined) {
      return new Promise((resolve, reject) => {
        this.#gate!.push(() =>
          this[SEND_COMMAND](name, info, args, wantsBuffers, transform).then(resolve, reject),
        );
      });
    }
    if (info === undefined) return this.#sendUndescribed(name, args, wantsBuffers, transform);
    return this.#send(name, info, args, wantsBuffers, transform);
  }

  /** Describes and sends one command of the table; what every command method comes to. */
  #send(
    name: string,
    info: CommandInfo,
    args: RedisArg[],
    wantsBuffers: boolean,
    transform: ReplyTransform | undefined,
  ): Promise<unknown> {
    const command = this.#newCommand(name, resolveSubcommand(info, args), args, wantsBuffers);
    command.transform = transform;
    this.#describeAndDispatch(command);
    return command.promise;
  }

  #newCommand(name: string, info: CommandInfo | undefined, args: RedisArg[], wantsBuffers: boolean) {
    return new PromiseCommand(this.#executor, name, args, info, wantsBuffers, this.#options.commandTimeoutMs);
  }

  /**
   * Describes a command and sends it — or, for a splittable command across slots, sends
   * its per-slot parts. A description error (bad argument, cross-slot) settles the command.
   */
  #describeAndDispatch(command: Command): void {
    this.#describeInto(command, this.#dispatch);
  }

  /** Describes a command and hands what is to be sent (it, or its split parts) to `send`. */
  #describeInto(command: Command, send: (command: Command) => void): void {
    try {
      this.#describe(command);
    } catch (error) {
      command.completeError(error as Error);
      return;
    }
    if (command.slot === MULTI_SLOT) dispatchSplit(command, this.#executor, send);
    else if (command.slot === UNKNOWN_SLOT) this.#locateKeysThenSend(command);
    else send(command);
  }

  /**
   * A command whose key specs do not say where its keys are (a module's movable keys): ask
   * the server with `COMMAND GETKEYS`, route by the keys it names. Later commands wait behind
   * it so that order is kept. If the server cannot tell either, any node gets it and answers.
   */
  #locateKeysThenSend(command: Command): void {
    const gate: Array<() => void> = [];
    this.#gate = gate;
    const args: RedisArg[] = ["GETKEYS", command.name, ...command.args];
    this.#sendKeyless("COMMAND", args, false, findCommand("command"))
      .then(
        (reply) => {
          const keys = Array.isArray(reply) ? (reply as RedisArg[]) : [];
          const indexes = keys.map((_, index) => index);
          command.slot = slotOfKeys(keys, indexes);
          if (command.slot === MULTI_SLOT) {
            command.completeError(new CrossSlotError(distinctSlots(keys, indexes), command.displayName));
            return;
          }
          this.#executor.dispatch(command);
        },
        () => {
          command.slot = NO_SLOT;
          this.#executor.dispatch(command);
        },
      )
      .finally(() => this.#openGate(gate));
  }

  /** Fills in what routing needs: arguments checked, key prefix applied, slot, read mode. */
  #describe(command: Command): void {
    const info = command.info;
    const args = command.args;
    checkArgs(command.displayName, args);
    refuseConnectionState(command.name, args);
    if (info === undefined) return; // a command nobody knows, not even the server: any node answers
    if (this.#options.keyPrefix !== undefined) this.#prefixKeys(info, args);
    const single = info.singleKeyIndex;
    if (single >= 0) {
      const key = args[single];
      if (key === undefined) throw new ArgumentError("missing its key argument", command.displayName);
      command.slot = keySlot(keyBytes(key));
    } else {
      const indexes = keyIndexes(info, args, true);
      if (indexes === null) {
        command.slot = UNKNOWN_SLOT; // the server will say (#locateKeysThenSend)
        return;
      }
      command.slot = slotOfKeys(args, indexes);
      if (command.slot === MULTI_SLOT && !isSplittable(info.name)) {
        throw new CrossSlotError(distinctSlots(args, indexes), command.displayName);
      }
    }
    command.replicaReadable =
      this.#options.readFrom !== "primary" && (info.flags & CommandFlag.READONLY) !== 0;
    const blockMs = blockingTimeoutMs(info, args);
    if (blockMs !== undefined) {
      // The server may rightly hold it that long; the command's own budget comes on top.
      command.blockingTimeoutMs = blockMs;
      command.deadlineAt += blockMs;
    }
  }

  #prefixKeys(info: CommandInfo, args: RedisArg[]): void {
    const prefix = this.#options.keyPrefix!;
    const indexes = keyIndexes(info, args) ?? [];
    for (const index of indexes) {
      const key = args[index]!;
      args[index] =
        key instanceof Uint8Array ? Buffer.concat([Buffer.from(prefix), key]) : prefix + String(key);
    }
  }

  #callByName(name: string, args: RedisArg[], wantsBuffers: boolean): Promise<unknown> {
    const named = splitCommandName(name, args);
    if (named instanceof Error) return Promise.reject(named);
    return this[SEND_COMMAND](named.head, findCommand(named.head), named.args, wantsBuffers, undefined);
  }

  /**
   * A command the built-in table lacks (a module's, or a newer server's): ask the server
   * with `COMMAND INFO` once, remember the answer, then send it. Later commands wait behind
   * it so that they still reach the server in the order they were issued.
   */
  #sendUndescribed(
    name: string,
    args: RedisArg[],
    wantsBuffers: boolean,
    transform: ReplyTransform | undefined,
  ): Promise<unknown> {
    if (this.#unknownCommands.has(name)) return this.#sendKeyless(name, args, wantsBuffers);
    const gate: Array<() => void> = [];
    this.#gate = gate;
    return this.#learnCommand(name).then(
      (info) => {
        // Sent before what queued behind the gate, which opens right after.
        const result =
          info === undefined
            ? this.#sendKeyless(name, args, wantsBuffers)
            : this.#send(name, info, args, wantsBuffers, transform);
        this.#openGate(gate);
        return result;
      },
      (error: unknown) => {
        this.#openGate(gate);
        throw error;
      },
    );
  }

  async #learnCommand(name: string): Promise<CommandInfo | undefined> {
    const commandInfo = findCommand("command")!;
    const reply = await this.#sendKeyless("COMMAND", ["INFO", name], false, commandInfo);
    const infos = parseCommandInfoReply(reply as never);
    for (const info of infos) registerCommand(info);
    const info = findCommand(name);
    if (info === undefined) this.#unknownCommands.add(name);
    return info;
  }

  /** Learns several commands (for a pipeline); unknown to the server too is fine. */
  async #learnCommands(names: readonly string[]): Promise<void> {
    await Promise.all(
      names.filter((name) => !this.#unknownCommands.has(name)).map((name) => this.#learnCommand(name)),
    );
  }

  /** Runs what queued behind a gate, in order, until one of them closes a new gate. */
  #openGate(gate: Array<() => void>): void {
    if (this.#gate === gate) this.#gate = undefined;
    while (gate.length > 0) {
      if (this.#gate !== undefined) {
        this.#gate.push(...gate.splice(0));
        return;
      }
      gate.shift()!();
    }
  }

  /** Sends a command to one node, no key routing (unknown commands, COMMAND INFO). */
  #sendKeyless(name: string, args: RedisArg[], wantsBuffers: boolean, info?: CommandInfo): Promise<unknown> {
    const command = this.#newCommand(name, info, args, wantsBuffers);
    try {
      checkArgs(name, args);
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
  ) {
    if (this.#state !== "open") return Promise.reject(new ClosedError());
    const info = findCommand(name);
    const command = this.#newCommand(name, info && resolveSubcommand(info, args), args, wantsBuffers);
    command.transform = transform;
    command.pinnedAddress = address;
    try {
      checkArgs(command.displayName, args);
      refuseConnectionState(name, args);
      this.#executor.dispatch(command);
    } catch (error) {
      command.completeError(error as Error);
    }
    return command.promise;
  }

  // ── events ────────────────────────────────────────────────────────────────────────────

  #onTopology(topology: Topology, change: TopologyChange): void {
    this.#executor.onTopology();
    // "nearest" needs round-trip times from the start; the periodic refresh keeps them fresh.
    if (!this.#ready && this.#options.readFrom === "nearest") void this.#health?.checkAll(topology);
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
      this.emit(event, ...args);
    } catch {
      // A listener threw; the client's own work must go on.
    }
  }
}

// The command methods, generated from the command table (command/methods.generated.ts).
export interface RedisCluster extends CommandMethods {}
installCommandMethods(RedisCluster.prototype);

/** Per-node handle: the same command methods, every one sent to that node. */
class ClusterNodeHandle implements CommandTarget {
  readonly address: string;
  readonly nodeRole: NodeRole;
  #client: RedisCluster;

  constructor(client: RedisCluster, node: ClusterNode) {
    this.#client = client;
    this.address = node.address;
    this.nodeRole = node.role;
  }

  call(name: string, ...args: RedisArg[]): Promise<unknown> {
    return this.#call(name, args, false);
  }

  callBuffer(name: string, ...args: RedisArg[]): Promise<unknown> {
    return this.#call(name, args, true);
  }

  #call(name: string, args: RedisArg[], wantsBuffers: boolean): Promise<unknown> {
    const named = splitCommandName(name, args);
    if (named instanceof Error) return Promise.reject(named);
    return this.#client.sendToNode(this.address, named.head, named.args, wantsBuffers);
  }

  [SEND_COMMAND](
    name: string,
    _info: CommandInfo | undefined,
    args: RedisArg[],
    wantsBuffers: boolean,
    transform: ReplyTransform | undefined,
  ): Promise<unknown> {
    return this.#client.sendToNode(this.address, name, args, wantsBuffers, transform);
  }
}
installCommandMethods(ClusterNodeHandle.prototype);

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
