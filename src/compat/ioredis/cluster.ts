/**
 * An ioredis-`Cluster`-shaped class over a native `RedisCluster`, for the libraries written
 * against ioredis (BullMQ, rate-limiter-flexible, redlock, @socket.io/redis-adapter). It
 * maps names and shapes; routing, redirections, failover, scripts and Pub/Sub stay the
 * native client's.
 *
 * ```
 *   new Cluster(nodes, options) ──► new RedisCluster({ nodes, ...mapped options })
 *   cluster.get(k, cb)           ──► ioredisArgs ──► native.get(k) ──► promise (+ callback)
 *   cluster.defineCommand(n, d)  ──► native.defineScript(d) ──► method n / nBuffer (+ on batches)
 *   cluster.multi() / pipeline() ──► IoredisBatch over native Transaction / Pipeline
 *   cluster.ssubscribe(ch)       ──► ChannelTable ──► native.ssubscribeBuffer ──► "smessage"
 *   cluster.status               "wait" → "connecting" → "connect" → "ready" → "end"
 * ```
 *
 * What ioredis does that this does not: reconnecting by `clusterRetryStrategy` (the native
 * client recovers on its own, so the status stays `ready` through failovers), the offline
 * queue's `enableOfflineQueue: false`, `monitor()`, `select()` (a cluster has one database),
 * and a client in subscriber mode refusing other commands (this one runs them).
 */
import { EventEmitter } from "node:events";
import { Readable } from "node:stream";
import { inspect } from "node:util";
import { RedisCluster } from "../../client.js";
import type { ReadFrom } from "../../cluster/router.js";
import type { CommandMethods } from "../../command/methods.generated.js";
import type { NatMap, RedisClusterCommonOptions, SeedNode } from "../../options.js";
import type { Family } from "../../pubsub/frames.js";
import type { RedisArg } from "../../resp/types.js";
import type { Script } from "../../scripting.js";
import { ChannelTable } from "../channels.js";
import { defineCommandMethods, invoke } from "../invoke.js";
import { asIoredisError, type Callback, ioredisArgs, withCallback } from "./args.js";
import { IoredisBatch, type QueuedCall } from "./batch.js";
import { ClusterNode } from "./node.js";

/** ioredis's connection states, as `cluster.status` reports them. */
export type ClusterStatus = "wait" | "connecting" | "connect" | "ready" | "disconnecting" | "close" | "end";

/** A script for `defineCommand()` and the `scripts` option, as ioredis takes it. */
export interface CommandDefinition {
  lua: string;
  /** How many arguments are keys; omitted, each call passes it first (as EVAL takes it). */
  numberOfKeys?: number;
  readOnly?: boolean;
}

/** The per-node options ioredis takes in `redisOptions` that mean something here. */
export interface IoredisRedisOptions {
  username?: string;
  password?: string;
  /** `true` or Node's TLS options. */
  tls?: boolean | import("node:tls").ConnectionOptions;
  /** Sent as CLIENT SETNAME on every connection (native `clientName`). */
  connectionName?: string;
  connectTimeout?: number;
  commandTimeout?: number;
  /** Read, not used: ioredis's retries per command (the native client retries by its deadline). */
  maxRetriesPerRequest?: number | null;
  [other: string]: unknown;
}

/** Options of `new Cluster(startupNodes, options)`: ioredis's names for what the native client has. */
export interface ClusterOptions {
  redisOptions?: IoredisRedisOptions;
  /** Prepended to every key (native `keyPrefix`). */
  keyPrefix?: string;
  /** Do not connect until `connect()` or the first command. */
  lazyConnect?: boolean;
  /** `"master"` (default), `"slave"`, or `"all"`: where reads go (native `readFrom`). */
  scaleReads?: "master" | "slave" | "all";
  natMap?: NatMap;
  maxRedirections?: number;
  /** Milliseconds between topology refreshes (native `refreshInterval`). */
  slotsRefreshInterval?: number;
  enableAutoPipelining?: boolean;
  /** Scripts defined at construction, as `defineCommand()` would. */
  scripts?: Record<string, CommandDefinition>;
  /** Native options ioredis has no name for; they win over the mapped ones. */
  rediscluster?: RedisClusterCommonOptions;
}

/** A startup node as ioredis takes it: `"host:port"`, a port, or `{ host, port }`. */
export type StartupNode = string | number | { host?: string; port?: number };

const SCALE_READS: Readonly<Record<string, ReadFrom>> = { master: "primary", slave: "replica", all: "any" };

/** The events of a subscriber, by family: the string and the Buffer variant. */
const MESSAGE_EVENTS: Readonly<Record<Family, readonly [string, string]>> = {
  channel: ["message", "messageBuffer"],
  shard: ["smessage", "smessageBuffer"],
  pattern: ["pmessage", "pmessageBuffer"],
};

/**
 * ioredis's `Cluster`, over the native client.
 *
 * @example
 * import { Cluster } from "rediscluster/ioredis";
 * const cluster = new Cluster([{ host: "127.0.0.1", port: 7001 }]);
 * const queue = new Queue("mail", { connection: cluster, prefix: "{mail}" }); // BullMQ
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the command methods are installed on the prototype in the static block; the interface below types them.
export class Cluster extends EventEmitter {
  /** Libraries tell a cluster client from a single-node one by this. */
  readonly isCluster = true;
  /**
   * ioredis's connection state. A plain property, as in ioredis: some libraries (BullMQ)
   * set it to `"end"` themselves after `quit()`.
   */
  status: ClusterStatus = "wait";
  /** The options given, with ioredis's defaults where a library reads them. */
  readonly options: ClusterOptions & { redisOptions: IoredisRedisOptions };
  readonly startupNodes: readonly StartupNode[];
  #native: RedisCluster;
  #connecting: Promise<void> | undefined;
  readonly #scripts = new Map<string, Script>();
  readonly #channels: ChannelTable;

  constructor(startupNodes: readonly StartupNode[], options: ClusterOptions = {}) {
    super();
    this.startupNodes = [...startupNodes];
    this.options = { ...options, redisOptions: { ...options.redisOptions } };
    this.#channels = new ChannelTable((family, message, channel, pattern) =>
      this.#deliver(family, message, channel, pattern),
    );
    this.#native = this.#createNative();
    for (const [name, definition] of Object.entries(options.scripts ?? {}))
      this.defineCommand(name, definition);
    if (options.lazyConnect !== true) this.connect().catch(() => {}); // failure: the "error" event
  }

  /** What `console.log` shows: never the options, which may hold a password. */
  [inspect.custom](): string {
    return `Cluster { status: ${this.status}, startupNodes: ${inspect(this.startupNodes)} }`;
  }

  /** The native client underneath (for what the facade does not map). */
  get native(): RedisCluster {
    return this.#native;
  }

  /**
   * Reads the topology; resolves once commands can flow (`ready` is emitted). After
   * `quit()`/`disconnect()`, connects again with a new native client, defined commands
   * kept and channels subscribed again before `ready`.
   */
  connect(): Promise<void> {
    if (this.status === "connecting" || this.status === "connect" || this.status === "ready") {
      return this.#connecting ?? Promise.resolve();
    }
    let resubscribing: Promise<void> = Promise.resolve();
    if (this.status !== "wait") {
      // Ended, or closing (BullMQ calls disconnect() then connect() at once): a new native
      // client, with the channels placed again before `ready` (a channel it refuses is dropped).
      this.#native = this.#createNative();
      resubscribing = this.#channels.resubscribe(this.#native).catch(() => {});
    }
    const native = this.#native;
    this.status = "connecting";
    const connecting = Promise.all([native.connect(), resubscribing]).then(
      () => {
        if (this.#native !== native || this.status !== "connecting") return;
        this.status = "connect";
        this.emit("connect");
        this.status = "ready";
        this.emit("ready");
      },
      (error: Error) => {
        if (this.#native === native) {
          this.#emitError(error);
          this.#ended();
        }
        throw error;
      },
    );
    this.#connecting = connecting;
    return connecting;
  }

  /** Closes gracefully (replies in flight arrive first); resolves `"OK"` as QUIT does. */
  async quit(callback?: Callback<"OK">): Promise<"OK"> {
    const native = this.#native;
    this.status = "disconnecting";
    const done = native.close().then(() => {
      if (this.#native === native) this.#ended();
      return "OK" as const;
    });
    return withCallback(done, callback);
  }

  /** Closes at once (pending commands reject); `reconnect` connects again afterwards. */
  disconnect(reconnect = false): void {
    const native = this.#native;
    this.status = "disconnecting";
    native.disconnect();
    // ioredis reports the end a moment later; listeners added right after the call hear it.
    process.nextTick(() => {
      if (this.#native !== native) return;
      this.#ended();
      if (reconnect) this.connect().catch(() => {});
    });
  }

  /**
   * A new client with the same options (`options` merged over them); its own connections,
   * as ioredis's `duplicate()` has. Defined commands are not copied (neither are they in ioredis).
   */
  duplicate(startupNodes?: readonly StartupNode[], options: ClusterOptions = {}): Cluster {
    return new Cluster(startupNodes ?? this.startupNodes, {
      ...this.options,
      ...options,
      redisOptions: { ...this.options.redisOptions, ...options.redisOptions },
      scripts: undefined,
    });
  }

  /**
   * Defines a Lua script as method `name` (and `nameBuffer`) of this client and of the
   * pipelines and transactions it makes from now on: EVALSHA, or EVAL where a node lacks
   * it. Defining a name again replaces it, as in ioredis.
   */
  defineCommand(name: string, definition: CommandDefinition): void {
    const script = this.#native.defineScript({
      lua: definition.lua,
      numberOfKeys: definition.numberOfKeys,
      readOnly: definition.readOnly,
    });
    this.#scripts.set(name, script);
    const call =
      (buffers: boolean) =>
      (...given: unknown[]) => {
        const { args, callback } = ioredisArgs(name, given);
        this.#connectIfWaiting();
        const current = this.#scripts.get(name) ?? script;
        return withCallback(
          buffers ? this.#native.runScriptBuffer(current, ...args) : this.#native.runScript(current, ...args),
          callback,
        );
      };
    Object.defineProperty(this, name, { configurable: true, writable: true, value: call(false) });
    Object.defineProperty(this, `${name}Buffer`, { configurable: true, writable: true, value: call(true) });
  }

  /** A pipeline: commands queued, sent by `exec()` (split per node by the native client). */
  pipeline(calls?: readonly QueuedCall[]): IoredisBatch {
    this.#connectIfWaiting();
    return new IoredisBatch(this.#native.pipeline(), this.#scripts, calls);
  }

  /** A transaction (MULTI … EXEC): every key in one slot, as in ioredis. */
  multi(calls?: readonly QueuedCall[] | { pipeline?: boolean }): IoredisBatch {
    this.#connectIfWaiting();
    return new IoredisBatch(this.#native.multi(), this.#scripts, Array.isArray(calls) ? calls : undefined);
  }

  /** Sends any command by name (`call("JSON.GET", key)`), routed by its keys. */
  call(name: string, ...given: unknown[]): Promise<unknown> {
    return this.#send(name, given, false);
  }

  /** Like `call`, with bulk strings as Buffers. */
  callBuffer(name: string, ...given: unknown[]): Promise<unknown> {
    return this.#send(name, given, true);
  }

  /** ioredis's older spelling: the arguments as one array. */
  send_command(name: string, args: readonly unknown[] = [], callback?: Callback): Promise<unknown> {
    return this.#send(name, callback === undefined ? [...args] : [...args, callback], false);
  }

  /**
   * The nodes, as objects with the command methods, each sent to that node (INFO, CLIENT
   * LIST, SCAN, PUBSUB ...). Empty before the topology is known.
   */
  nodes(role: "all" | "master" | "slave" = "all"): ClusterNode[] {
    return this.#native.nodes(role).map((handle) => new ClusterNode(handle));
  }

  /**
   * Every key of the cluster (SCAN on every primary), as a readable stream of arrays of
   * keys, as ioredis's `scanStream()` gives for one node.
   */
  scanStream(options: { match?: string; count?: number; type?: string } = {}): Readable {
    this.#connectIfWaiting();
    return Readable.from(this.#native.scanBatches(options), { objectMode: true });
  }

  /** Subscribes channels; resolves with how many channels this client is subscribed to. */
  subscribe(...given: unknown[]): Promise<number> {
    return this.#subscribe("channel", given);
  }

  /** Subscribes shard channels (SSUBSCRIBE, each on its slot's node); events `smessage`/`smessageBuffer`. */
  ssubscribe(...given: unknown[]): Promise<number> {
    return this.#subscribe("shard", given);
  }

  /** Subscribes patterns; events `pmessage`/`pmessageBuffer`. */
  psubscribe(...given: unknown[]): Promise<number> {
    return this.#subscribe("pattern", given);
  }

  /** Unsubscribes channels (all of them when none is given). */
  unsubscribe(...given: unknown[]): Promise<number> {
    return this.#unsubscribe("channel", given);
  }

  sunsubscribe(...given: unknown[]): Promise<number> {
    return this.#unsubscribe("shard", given);
  }

  punsubscribe(...given: unknown[]): Promise<number> {
    return this.#unsubscribe("pattern", given);
  }

  #subscribe(family: Family, given: readonly unknown[]): Promise<number> {
    const { args, callback } = ioredisArgs("subscribe", given);
    this.#connectIfWaiting();
    const done = this.#channels
      .add(this.#native, family, args.map(toBuffer))
      .then(() => this.#channels.count(family));
    return withCallback(done, callback);
  }

  #unsubscribe(family: Family, given: readonly unknown[]): Promise<number> {
    const { args, callback } = ioredisArgs("unsubscribe", given);
    const done = this.#channels
      .remove(family, args.length === 0 ? undefined : args.map(toBuffer))
      .then(() => this.#channels.count(family));
    return withCallback(done, callback);
  }

  #deliver(family: Family, message: Buffer, channel: Buffer, pattern: Buffer | undefined): void {
    const [event, bufferEvent] = MESSAGE_EVENTS[family];
    const head = pattern === undefined ? [] : [pattern];
    if (this.listenerCount(bufferEvent) > 0) this.emit(bufferEvent, ...head, channel, message);
    if (this.listenerCount(event) > 0) {
      this.emit(event, ...head.map(String), channel.toString(), message.toString());
    }
  }

  #send(name: string, given: readonly unknown[], buffers: boolean): Promise<unknown> {
    const { args, callback } = ioredisArgs(name, given);
    this.#connectIfWaiting();
    let reply: Promise<unknown>;
    try {
      reply = Promise.resolve(invoke(this.#native, name, args as RedisArg[], buffers));
    } catch (error) {
      reply = Promise.reject(error);
    }
    return withCallback(reply.catch(asIoredisError), callback);
  }

  /** With `lazyConnect`, the first command connects (as in ioredis). */
  #connectIfWaiting(): void {
    if (this.status === "wait") this.connect().catch(() => {});
  }

  #createNative(): RedisCluster {
    const o = this.options;
    const r = o.redisOptions;
    const native = new RedisCluster({
      nodes: this.startupNodes.map(toSeed),
      ...definedOnly({
        username: r.username,
        password: r.password,
        tls: r.tls,
        clientName: r.connectionName,
        connectTimeout: r.connectTimeout,
        commandTimeout: r.commandTimeout,
        keyPrefix: o.keyPrefix,
        readFrom: o.scaleReads === undefined ? undefined : SCALE_READS[o.scaleReads],
        natMap: o.natMap,
        maxRedirections: o.maxRedirections,
        refreshInterval: o.slotsRefreshInterval,
        autoPipelining: o.enableAutoPipelining,
      }),
      ...o.rediscluster,
    });
    native.on("error", (error) => this.#emitError(error));
    native.on("nodeError", ({ address, error }) => {
      if (this.listenerCount("node error") > 0) this.emit("node error", error, address);
    });
    for (const [name, script] of this.#scripts) {
      this.#scripts.set(
        name,
        native.defineScript({
          lua: script.lua,
          numberOfKeys: script.numberOfKeys,
          readOnly: script.readOnly,
        }),
      );
    }
    return native;
  }

  /** ioredis emits errors only to listeners (an unheard "error" would throw). */
  #emitError(error: Error): void {
    if (this.listenerCount("error") > 0) this.emit("error", error);
  }

  #ended(): void {
    if (this.status === "end") return;
    this.status = "close";
    this.emit("close");
    this.status = "end";
    this.emit("end");
  }

  static {
    defineCommandMethods(Cluster.prototype, (self, name, given, buffers) => self.#send(name, given, buffers));
  }
}

type CommandName = (keyof CommandMethods<2> & string) | "mset";

/** The command methods, typed as loosely as ioredis takes them (the facade is for its libraries). */
export type ClusterCommands = {
  [K in Exclude<CommandName, keyof EventEmitter> | `${CommandName}Buffer`]: (
    ...args: unknown[]
  ) => Promise<unknown>;
};

export interface Cluster extends ClusterCommands {}

function toSeed(node: StartupNode): SeedNode {
  if (typeof node === "number") return { host: "127.0.0.1", port: node };
  if (typeof node === "string") return /^\d+$/.test(node) ? { host: "127.0.0.1", port: Number(node) } : node;
  return { host: node.host ?? "127.0.0.1", port: node.port ?? 6379 };
}

function toBuffer(value: RedisArg): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(String(value));
}

/** The entries whose value is defined (the native checks refuse an explicit `undefined` for some). */
function definedOnly<T extends Record<string, unknown>>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as Partial<T>;
}
