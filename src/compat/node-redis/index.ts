/**
 * `rediscluster/node-redis`: a node-redis-`createCluster`-shaped client over `RedisCluster`,
 * for libraries that take only node-redis's shape (connect-redis 8+, @keyv/redis 4+). It
 * maps names and shapes; routing stays the native client's.
 *
 * ```
 *   createCluster({ rootNodes })  ──► new RedisCluster({ nodes })
 *   cluster.mGet([a, b])          ──► native.mget(a, b)        (any camelCase name, arrays spread)
 *   cluster.set(k, v, { PX: 10 }) ──► native.set(k, v, "PX", 10)
 *   cluster.multi().get(k).exec() ──► native Transaction ──► [value, ...]
 *   cluster.masters / slots / nodeClient(master)             (what @keyv/redis and connect-redis read)
 * ```
 *
 * Covered: every command by its node-redis name (`hGetAll`, `pTTL`, `incrBy`, ...) or its
 * lower-case one, arrays spread one level, SET's and SCAN's option objects, `sendCommand`,
 * `multi()` (replies as values; EXEC with a failed command rejects, as node-redis does),
 * `scanIterator`, `connect`/`close`/`destroy`, `isOpen`/`isReady`, `masters`/`replicas`/
 * `slots`/`nodeClient`. Not covered: option objects of other commands (pass the words:
 * `zRange(key, 0, -1, "WITHSCORES")`), Pub/Sub (`sSubscribe` with a listener: use
 * `rediscluster/ioredis` or the native `ssubscribe`), RESP3 type mapping, `withTypeMapping`.
 */
import { EventEmitter } from "node:events";
import { inspect } from "node:util";
import { RedisCluster } from "../../client.js";
import type { NodeHandle } from "../../cluster/node-handle.js";
import type { Topology } from "../../cluster/topology.js";
import type { CommandMethods } from "../../command/methods.generated.js";
import { ArgumentError } from "../../errors.js";
import type { RedisClusterCommonOptions, SeedNode } from "../../options.js";
import type { RedisArg } from "../../resp/types.js";
import { type CommandSurface, invoke, isCommandMethod } from "../invoke.js";

/** A root node as node-redis takes it: `{ url }` or `{ socket: { host, port } }`. */
export interface RootNode {
  url?: string;
  socket?: { host?: string; port?: number; tls?: boolean };
}

/** Options of `createCluster()`, node-redis's names for what the native client has. */
export interface NodeRedisClusterOptions {
  rootNodes: readonly RootNode[];
  /** Per-node options: `username`, `password`, `name` (CLIENT SETNAME), `socket.tls`. */
  defaults?: {
    username?: string;
    password?: string;
    name?: string;
    socket?: { tls?: boolean; connectTimeout?: number };
  };
  /** Reads go to replicas (native `readFrom: "replica"`). */
  useReplicas?: boolean;
  maxCommandRedirections?: number;
  /** Native options node-redis has no name for; they win over the mapped ones. */
  rediscluster?: RedisClusterCommonOptions;
}

/** A node as `masters`/`replicas`/`slots` list it. */
export interface ShardNode {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly address: string;
}

/** A command method with node-redis's argument rules. */
type Method = (...args: unknown[]) => Promise<unknown>;

/** `slots` tables by the topology they were built from (@keyv/redis reads `slots` per key group). */
const SLOT_TABLES = new WeakMap<Topology, Array<{ master: ShardNode; replicas: ShardNode[] }>>();

/** Commands that concern one node: sent to it by `nodeClient(node)`, not routed by keys. */
const NODE_COMMANDS = new Set([
  "scan",
  "flushdb",
  "flushall",
  "dbsize",
  "info",
  "keys",
  "ping",
  "config",
  "client",
]);

/**
 * node-redis's cluster client, over the native client. Made by `createCluster()` (which
 * returns it behind a Proxy that answers node-redis's method names).
 */
export class NodeRedisCluster extends EventEmitter {
  readonly options: NodeRedisClusterOptions;
  #native: RedisCluster;
  #open = false;
  #ready = false;
  /** A closed native client cannot come back: `connect()` after a close makes a new one. */
  #closed = false;

  /** @internal Use `createCluster()`. */
  constructor(options: NodeRedisClusterOptions) {
    super();
    this.options = options;
    this.#native = this.#createNative();
  }

  /**
   * What `console.log` shows: never the options, which may hold a password. (Node calls it
   * on the Proxy, so it reads only public members.)
   */
  [inspect.custom](): string {
    return `NodeRedisCluster { isOpen: ${this.isOpen}, rootNodes: ${this.options.rootNodes.length} }`;
  }

  /** The native client underneath. */
  get native(): RedisCluster {
    return this.#native;
  }

  /** True between `connect()` and `close()`/`destroy()`. */
  get isOpen(): boolean {
    return this.#open;
  }

  /** True once the topology is known, until closed. */
  get isReady(): boolean {
    return this.#ready;
  }

  /** Reads the topology; resolves with the client, as node-redis does. Connects again after `close()`. */
  async connect(): Promise<this> {
    if (this.#open) return this;
    if (this.#closed) {
      this.#native = this.#createNative();
      this.#closed = false;
    }
    this.#open = true;
    this.emit("connect");
    try {
      await this.#native.connect();
    } catch (error) {
      this.#open = false;
      if (this.listenerCount("error") > 0) this.emit("error", error);
      throw error;
    }
    this.#ready = true;
    this.emit("ready");
    return this;
  }

  /** Graceful close (replies in flight arrive first). `quit()` and `disconnect()` are its old names. */
  async close(): Promise<void> {
    if (!this.#open) return;
    this.#markClosed();
    await this.#native.close();
    this.emit("end");
  }

  quit(): Promise<void> {
    return this.close();
  }

  disconnect(): Promise<void> {
    return this.close();
  }

  /** Immediate close: everything pending rejects. */
  destroy(): void {
    if (!this.#open) return;
    this.#markClosed();
    this.#native.disconnect();
    this.emit("end");
  }

  #markClosed(): void {
    this.#open = false;
    this.#ready = false;
    this.#closed = true;
  }

  /** Sends `[name, ...args]` as it is, routed by its keys. */
  sendCommand(args: readonly RedisArg[]): Promise<unknown>;
  sendCommand(firstKey: unknown, isReadonly: unknown, args: readonly RedisArg[]): Promise<unknown>;
  sendCommand(...given: unknown[]): Promise<unknown> {
    const args = (given.length >= 3 ? given[2] : given[0]) as readonly RedisArg[];
    const [name, ...rest] = args;
    return this.#native.call(String(name), ...rest);
  }

  /** A transaction (MULTI … EXEC, every key in one slot): `exec()` resolves with the replies. */
  multi(): NodeRedisMulti {
    return proxied(new NodeRedisMulti(this.#native.multi()));
  }

  /** A pipeline that resolves with the replies (`execAsPipeline()`), split per node. */
  pipeline(): NodeRedisMulti {
    return proxied(new NodeRedisMulti(this.#native.pipeline()));
  }

  /** Every key of the cluster, one array per SCAN reply: `{ MATCH, COUNT, TYPE }`. */
  scanIterator(options: ScanOptions = {}): AsyncIterableIterator<string[]> {
    return this.#native.scanBatches(scanOptions(options));
  }

  /** The primaries, as node-redis lists them. */
  get masters(): ShardNode[] {
    return this.#native.nodes("primary").map(shardNode);
  }

  get replicas(): ShardNode[] {
    return this.#native.nodes("replica").map(shardNode);
  }

  /**
   * Slot by slot, its primary and replicas (`slots[slot].master`), from the topology in use
   * (empty before it is known). Built once per topology (a refresh that changes it makes a new one).
   */
  get slots(): Array<{ master: ShardNode; replicas: ShardNode[] }> {
    const topology = this.#native.topology;
    if (topology === undefined) return [];
    const known = SLOT_TABLES.get(topology);
    if (known !== undefined) return known;
    const byShard = topology.shards.map((shard) => ({
      master: toShardNode(shard.primary),
      replicas: shard.replicas.map(toShardNode),
    }));
    const table = Array.from(topology.slotToShard, (index) => byShard[index]!);
    SLOT_TABLES.set(topology, table);
    return table;
  }

  /**
   * A client for one node: its commands that concern the node (SCAN, FLUSHDB, INFO, ...)
   * go to it; those with keys are routed by the native client as usual.
   */
  nodeClient(node: { address?: string; host?: string; port?: number }): NodeRedisNode {
    const address = node.address ?? `${node.host}:${node.port}`;
    const handle = this.#native.nodes("all").find((candidate) => candidate.address === address);
    if (handle === undefined) {
      throw new ArgumentError(
        `nodeClient(): ${address} is not a node of the topology in use; take one from masters or replicas`,
      );
    }
    return proxied(new NodeRedisNode(this, handle));
  }

  /** @internal Sends a command by any name, with node-redis's argument rules. */
  send(target: CommandSurface, name: string, given: readonly unknown[]): Promise<unknown> {
    try {
      return Promise.resolve(invoke(target, name, nodeRedisArgs(name, given), false));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #createNative(): RedisCluster {
    const o = this.options;
    const d = o.defaults ?? {};
    const native = new RedisCluster({
      nodes: o.rootNodes.map(toSeed),
      ...(d.username !== undefined && { username: d.username }),
      ...(d.password !== undefined && { password: d.password }),
      ...(d.name !== undefined && { clientName: d.name }),
      ...(d.socket?.tls !== undefined && { tls: d.socket.tls }),
      ...(d.socket?.connectTimeout !== undefined && { connectTimeout: d.socket.connectTimeout }),
      ...(o.useReplicas === true && { readFrom: "replica" as const }),
      ...(o.maxCommandRedirections !== undefined && { maxRedirections: o.maxCommandRedirections }),
      ...o.rediscluster,
    });
    native.on("error", (error) => {
      if (this.listenerCount("error") > 0) this.emit("error", error);
    });
    return native;
  }
}

/** One node of the cluster, as `nodeClient()` hands it out. */
export class NodeRedisNode {
  readonly #cluster: NodeRedisCluster;
  readonly #handle: NodeHandle;

  /** @internal Made by `nodeClient()`. */
  constructor(cluster: NodeRedisCluster, handle: NodeHandle) {
    this.#cluster = cluster;
    this.#handle = handle;
  }

  get isOpen(): boolean {
    return this.#cluster.isOpen;
  }

  /** SCAN of this node: resolves with `{ cursor, keys }`, as node-redis does. */
  async scan(
    cursor: string | number,
    options: ScanOptions = {},
  ): Promise<{ cursor: string; keys: string[] }> {
    const args: RedisArg[] = [String(cursor), ...scanWords(options)];
    const [next, keys] = (await this.#handle.call("SCAN", ...args)) as [string, string[]];
    return { cursor: next, keys };
  }

  /** This node's keys, one array per SCAN reply. */
  async *scanIterator(options: ScanOptions = {}): AsyncIterableIterator<string[]> {
    let cursor = "0";
    do {
      const reply = await this.scan(cursor, options);
      cursor = reply.cursor;
      if (reply.keys.length > 0) yield reply.keys;
    } while (cursor !== "0");
  }

  multi(): NodeRedisMulti {
    return this.#cluster.multi();
  }

  /** @internal A command by name: to this node if it concerns the node, else routed by keys. */
  send(name: string, given: readonly unknown[]): Promise<unknown> {
    const lower = name.toLowerCase();
    const target = NODE_COMMANDS.has(lower) ? this.#handle : this.#cluster.native;
    return this.#cluster.send(target, lower, given);
  }
}

/** A node-redis transaction or pipeline over the native one. */
export class NodeRedisMulti {
  readonly #native: CommandSurface & { exec(): Promise<unknown[] | null> };

  /** @internal Made by `multi()`/`pipeline()`. */
  constructor(native: CommandSurface & { exec(): Promise<unknown[] | null> }) {
    this.#native = native;
  }

  /** @internal Queues a command by any name, with node-redis's argument rules. */
  queue(name: string, given: readonly unknown[]): this {
    invoke(this.#native, name, nodeRedisArgs(name, given), false);
    return this;
  }

  addCommand(args: readonly RedisArg[]): this {
    const [name, ...rest] = args;
    this.#native.call(String(name), ...rest);
    return this;
  }

  /**
   * Sends the batch; resolves with the replies. As node-redis's, a transaction in which a
   * command failed rejects (with the first failure); `null` when a WATCH aborted it.
   */
  async exec(): Promise<unknown[] | null> {
    const replies = await this.#native.exec();
    const failed = replies?.find((reply) => reply instanceof Error);
    if (failed !== undefined) throw failed;
    return replies;
  }

  /** Sends the batch; resolves with the replies, failed ones as their errors. */
  async execAsPipeline(): Promise<unknown[]> {
    return (await this.#native.exec()) ?? [];
  }
}

/** node-redis's SCAN options. */
export interface ScanOptions {
  MATCH?: string;
  COUNT?: number;
  TYPE?: string;
}

/**
 * A node-redis cluster client over the native client.
 *
 * @example
 * import { createCluster } from "rediscluster/node-redis";
 * const cluster = await createCluster({ rootNodes: [{ url: "redis://127.0.0.1:7001" }] }).connect();
 * await cluster.set("a", "1", { PX: 1000 });
 */
export function createCluster(options: NodeRedisClusterOptions): NodeRedisCluster & NodeRedisCommands {
  return proxied(new NodeRedisCluster(options)) as NodeRedisCluster & NodeRedisCommands;
}

type CommandName = (keyof CommandMethods<2> & string) | "mset";

/**
 * The command methods by their lower-case names, typed loosely (the facade is for libraries
 * written against node-redis). The camelCase names (`mGet`, `hGetAll`) answer too, untyped.
 */
export type NodeRedisCommands = { [K in Exclude<CommandName, keyof NodeRedisCluster>]: Method };

/**
 * The object behind a Proxy whose unknown properties are command methods by their node-redis
 * name (`mGet`, `hGetAll`, `pTTL`) or lower-case one. Known members are the object's own,
 * called on the object (so its #private fields work).
 */
function proxied<T extends NodeRedisCluster | NodeRedisNode | NodeRedisMulti>(target: T): T {
  const methods = new Map<string, Method>();
  return new Proxy(target, {
    get(object, property, receiver) {
      if (typeof property !== "string" || property in object) {
        const value = Reflect.get(object, property, object);
        if (typeof value !== "function" || property === "constructor") return value;
        // Called on the object (its #private fields); a method handing the object back
        // (`connect()` resolves with the client) hands the Proxy back instead.
        return (...args: unknown[]) => {
          const result: unknown = value.apply(object, args);
          if (result === object) return receiver;
          if (result instanceof Promise)
            return result.then((settled) => (settled === object ? receiver : settled));
          return result;
        };
      }
      const lower = property.toLowerCase();
      if (!isCommandMethod(lower)) return undefined;
      let method = methods.get(property);
      if (method === undefined) {
        method =
          object instanceof NodeRedisCluster
            ? (...given) => object.send(object.native, lower, given)
            : object instanceof NodeRedisNode
              ? (...given) => object.send(lower, given)
              : (...given) => {
                  object.queue(lower, given);
                  return receiver as Promise<unknown>;
                };
        methods.set(property, method);
      }
      return method;
    },
    has(object, property) {
      return property in object || (typeof property === "string" && isCommandMethod(property.toLowerCase()));
    },
  });
}

/**
 * node-redis's arguments as words: arrays spread one level, numbers as they are, SET's and
 * SCAN's option objects as their words. Any other object is left for the native checks,
 * which refuse it with an ArgumentError.
 */
export function nodeRedisArgs(name: string, given: readonly unknown[]): RedisArg[] {
  const args: unknown[] = [];
  given.forEach((value, index) => {
    if (Array.isArray(value)) args.push(...value);
    else if (name === "set" && index === 2 && isOptions(value)) args.push(...setWords(value));
    else if (name === "scan" && index === 1 && isOptions(value))
      args.push(...scanWords(value as ScanOptions));
    else args.push(value);
  });
  return args as RedisArg[];
}

/** SET's options: `{ EX | PX | EXAT | PXAT: n }`, `KEEPTTL`, `NX`/`XX`, `GET`, or v5's `expiration`/`condition`. */
function setWords(options: Record<string, unknown>): RedisArg[] {
  const words: RedisArg[] = [];
  const expiration = options.expiration as { type?: string; value?: number } | string | undefined;
  if (typeof expiration === "string") words.push(expiration);
  else if (expiration?.type !== undefined) words.push(expiration.type, Number(expiration.value));
  for (const unit of ["EX", "PX", "EXAT", "PXAT"]) {
    if (options[unit] !== undefined) words.push(unit, Number(options[unit]));
  }
  if (options.KEEPTTL === true) words.push("KEEPTTL");
  if (typeof options.condition === "string") words.push(options.condition);
  if (options.NX === true) words.push("NX");
  if (options.XX === true) words.push("XX");
  if (options.GET === true) words.push("GET");
  return words;
}

function scanWords(options: ScanOptions): RedisArg[] {
  const words: RedisArg[] = [];
  if (options.MATCH !== undefined) words.push("MATCH", options.MATCH);
  if (options.COUNT !== undefined) words.push("COUNT", options.COUNT);
  if (options.TYPE !== undefined) words.push("TYPE", options.TYPE);
  return words;
}

function scanOptions(options: ScanOptions): { match?: string; count?: number; type?: string } {
  return {
    ...(options.MATCH !== undefined && { match: options.MATCH }),
    ...(options.COUNT !== undefined && { count: options.COUNT }),
    ...(options.TYPE !== undefined && { type: options.TYPE }),
  };
}

function isOptions(value: unknown): value is Record<string, unknown> {
  return (
    value !== null && typeof value === "object" && !Buffer.isBuffer(value) && !(value instanceof Uint8Array)
  );
}

function shardNode(handle: NodeHandle): ShardNode {
  const colon = handle.address.lastIndexOf(":");
  return {
    id: handle.address,
    host: handle.address.slice(0, colon).replace(/^\[|\]$/g, ""),
    port: Number(handle.address.slice(colon + 1)),
    address: handle.address,
  };
}

function toShardNode(node: { id: string; host: string; port: number; address: string }): ShardNode {
  return { id: node.id, host: node.host, port: node.port, address: node.address };
}

function toSeed(node: RootNode): SeedNode {
  if (node.url !== undefined) return node.url;
  return { host: node.socket?.host ?? "127.0.0.1", port: node.socket?.port ?? 6379 };
}
