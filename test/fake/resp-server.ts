/**
 * A scripted RESP server over real TCP (127.0.0.1, port 0), for protocol edge cases that a
 * real redis-server will not produce on demand: garbage bytes, half a reply then a close,
 * a server that never answers, MOVED / ASK / TRYAGAIN / CLUSTERDOWN / LOADING, odd
 * `CLUSTER SHARDS` endpoints, nodes that disagree about the topology.
 *
 * What a fake does with each command it reads, in order of precedence:
 *
 * ```
 *   command ─► routing guard ─► scripted handler ─► default handler ─► "-ERR unknown command"
 *              (FakeCluster:     (fake.handle(...),  (PING, HELLO, AUTH, GET/SET/..., and
 *               MOVED for keys    set by the test)    CLUSTER SHARDS/SLOTS in a FakeCluster)
 *               of other nodes)
 * ```
 *
 * A handler returns an {@link Action}: a value to encode (see test/helpers/reply-encoder.ts;
 * encoded in the connection's protocol, RESP3 after `HELLO 3`), a `Buffer` sent as it is
 * (garbage, hand-made frames; {@link bulk} wraps a Buffer meant as a bulk string), or one
 * of {@link STALL} (never answer: this connection answers nothing more, as a paused
 * server), {@link close} (optionally after some bytes), {@link delayed}. {@link sequence}
 * makes a handler that answers differently on successive calls.
 *
 * Replies leave in command order, even when one is delayed (a later command's reply waits
 * behind it), because that is what a server does and what a client's FIFO relies on.
 *
 * Everything is recorded: each command (name, arguments, which connection, which TCP
 * chunk it arrived in, how many replies that connection had sent before it arrived), the
 * TCP chunks per connection (to check write coalescing), the most commands outstanding at
 * once (to check `maxInFlight`). `closeAllFakes()` ends every server and socket.
 */
import { EventEmitter, once } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import { keySlot, SLOT_COUNT } from "../../src/command/slot.js";
import { ReplyError } from "../../src/errors.js";
import { RespDecoder } from "../../src/resp/decoder.js";
import type { RespValue } from "../../src/resp/types.js";
import { type EncodableReply, encodeReply, RawFrame, SimpleString } from "../helpers/reply-encoder.js";

// ── actions ─────────────────────────────────────────────────────────────────────────────

/** Never answer; the connection answers nothing after this either (a stalled server). */
export const STALL = Symbol("stall");

/** Close the connection (FIN), after sending `bytes` if given; `reset` sends an RST instead. */
export class CloseAction {
  constructor(
    readonly bytes: Buffer | undefined,
    readonly reset: boolean,
  ) {}
}

/** Perform `action` `ms` after the command arrived (and after every earlier reply). */
export class DelayedAction {
  constructor(
    readonly ms: number,
    readonly action: Action,
  ) {}
}

/** A bulk string of these exact bytes (a bare top-level Buffer is sent raw instead). */
export class BulkAction {
  constructor(readonly bytes: Buffer) {}
}

/** What a fake does with one command. */
export type Action = EncodableReply | Buffer | BulkAction | CloseAction | DelayedAction | typeof STALL;

/** Computes the action for one command. */
export type Handler = (command: ReceivedCommand) => Action;

/** Close the connection, after `bytes` if given (e.g. half a reply). */
export const close = (bytes?: string | Buffer): CloseAction =>
  new CloseAction(typeof bytes === "string" ? Buffer.from(bytes, "latin1") : bytes, false);
/** Reset the connection (RST), as a crashed or firewalled node. */
export const resetConnection = (): CloseAction => new CloseAction(undefined, true);
export const delayed = (ms: number, action: Action): DelayedAction => new DelayedAction(ms, action);
export const bulk = (bytes: Buffer): BulkAction => new BulkAction(bytes);
/** An error reply, e.g. `error("MOVED 42 127.0.0.1:7001")`. */
export const error = (message: string): ReplyError => new ReplyError(message);
/** `+OK` */
export const OK = new SimpleString("OK");

/** Sends the first half of `value`'s encoding, then closes: a reply cut short. */
export function halfThenClose(value: EncodableReply): CloseAction {
  const bytes = encodeReply(value, 2);
  return close(bytes.subarray(0, Math.max(1, Math.floor(bytes.length / 2))));
}

/**
 * A handler answering `actions[0]` to the first call, `actions[1]` to the second, ... and
 * the last one to every call after that.
 *
 * @example
 * fake.handle("GET", sequence(error("TRYAGAIN"), error("TRYAGAIN"), "v"));
 */
export function sequence(...actions: Action[]): Handler {
  if (actions.length === 0) throw new Error("sequence() needs at least one action");
  let calls = 0;
  return () => actions[Math.min(calls++, actions.length - 1)]!;
}

// ── what was received ───────────────────────────────────────────────────────────────────

export class ReceivedCommand {
  /** First token, upper case: `"GET"`, `"CLUSTER"`. */
  readonly name: string;
  /** The arguments after the name, as sent. */
  readonly args: Buffer[];
  /** The arguments as UTF-8 text. */
  readonly argv: string[];
  /** Position among the commands of its connection (0 = first). */
  readonly index: number;
  /** Which TCP chunk of its connection it arrived in (1 = first). */
  readonly chunk: number;
  /** Replies the connection had written before this command arrived. */
  readonly repliesBefore: number;

  constructor(
    readonly connection: FakeConnection,
    parts: Buffer[],
  ) {
    this.name = (parts[0] ?? Buffer.alloc(0)).toString().toUpperCase();
    this.args = parts.slice(1);
    this.argv = this.args.map((arg) => arg.toString());
    this.index = connection.commands.length;
    this.chunk = connection.chunks;
    this.repliesBefore = connection.repliesWritten;
  }

  /** `"GET k"`, `"CLUSTER SHARDS"`: for assertions and failure messages. */
  toString(): string {
    return [this.name, ...this.argv].join(" ");
  }

  /** The command received just before this one on the same connection. */
  get previous(): ReceivedCommand | undefined {
    return this.connection.commands[this.index - 1];
  }
}

/** One client connection to a fake. */
export class FakeConnection {
  readonly id: number;
  readonly commands: ReceivedCommand[] = [];
  /** TCP chunks (`data` events) read so far. */
  chunks = 0;
  repliesWritten = 0;
  /** Most commands received and not yet answered, at any moment. */
  maxOutstanding = 0;
  /** RESP version in use: 3 after `HELLO 3`. */
  protocol: 2 | 3 = 2;
  /** True once the socket is gone (closed by either side). */
  closed = false;
  /** Resolves when the socket is gone. */
  readonly whenClosed: Promise<void>;
  /** True when the client ended the connection (rather than the fake or a reset). */
  endedByClient = false;

  readonly #server: FakeServer;
  readonly #socket: Socket;
  readonly #decoder: RespDecoder;
  /** Actions not performed yet, in command order; the head blocks the rest until ready. */
  readonly #pending: Array<{ action: Action; ready: boolean }> = [];
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Set once the fake decided to close: later bytes from the client are not commands. */
  #closing = false;

  constructor(server: FakeServer, socket: Socket, id: number) {
    this.#server = server;
    this.#socket = socket;
    this.id = id;
    // Not events.once(): it would reject on the socket's 'error' (a reset by the client),
    // an unhandled rejection when nobody awaits it.
    this.whenClosed = new Promise((resolve) => socket.once("close", () => resolve()));
    this.#decoder = new RespDecoder({
      wantsBuffers: () => true,
      onReply: (value) => this.#receive(value),
      onPush: () => {},
    });
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => {
      if (this.#closing) return;
      this.chunks++;
      socket.cork();
      try {
        this.#decoder.feed(chunk);
      } catch {
        this.#socket.destroy(); // a client that sends non-RESP gets what a server does
      } finally {
        if (!socket.destroyed) socket.uncork();
      }
    });
    socket.on("end", () => {
      if (!this.#closing) this.endedByClient = true;
    });
    socket.on("error", () => {}); // resets by the client are part of the tests
    socket.on("close", () => {
      this.closed = true;
      for (const timer of this.#timers) clearTimeout(timer);
      this.#timers.clear();
      this.#pending.length = 0;
    });
  }

  /** Port of the client's end of the socket (tells connections of one client apart). */
  get remotePort(): number | undefined {
    return this.#socket.remotePort;
  }

  /** Sends bytes or a value that no command asked for (a push frame, garbage). */
  send(value: EncodableReply | Buffer): void {
    if (this.closed) return;
    this.#socket.write(Buffer.isBuffer(value) ? value : encodeReply(value, this.protocol));
  }

  /** Closes from the server's side (FIN); `reset` sends an RST. */
  close(reset = false): void {
    this.#closing = true;
    this.#pending.length = 0;
    if (reset) this.#socket.resetAndDestroy();
    else this.#socket.end();
  }

  /** @internal FakeServer#close */
  destroy(): void {
    this.#closing = true;
    this.#socket.destroy();
  }

  #receive(value: RespValue): void {
    if (this.#closing) return;
    if (!Array.isArray(value) || value.length === 0 || !value.every((part) => Buffer.isBuffer(part))) {
      this.#enqueue(error("ERR Protocol error: expected an array of bulk strings"));
      return;
    }
    const command = new ReceivedCommand(this, value as Buffer[]);
    this.commands.push(command);
    const outstanding = this.commands.length - this.repliesWritten;
    if (outstanding > this.maxOutstanding) this.maxOutstanding = outstanding;
    this.#server.record(command);
    let action: Action;
    try {
      action = this.#server.actionFor(command);
    } catch (thrown) {
      action = error(`ERR fake handler threw: ${(thrown as Error).message}`);
    }
    this.#enqueue(action);
  }

  #enqueue(action: Action): void {
    if (action === STALL) {
      this.#pending.push({ action, ready: false });
      return;
    }
    if (action instanceof DelayedAction) {
      const entry = { action: action.action, ready: false };
      this.#pending.push(entry);
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        entry.ready = true;
        this.#pump();
      }, action.ms);
      this.#timers.add(timer);
      return;
    }
    this.#pending.push({ action, ready: true });
    this.#pump();
  }

  #pump(): void {
    while (this.#pending.length > 0 && this.#pending[0]!.ready && !this.#closing) {
      const { action } = this.#pending.shift()!;
      this.#perform(action);
    }
  }

  #perform(action: Action): void {
    if (action === STALL) return;
    if (action instanceof DelayedAction) {
      // A delay inside a delay (e.g. sequence(delayed(...)) wrapped again) counts from now.
      this.#pending.unshift({ action: action.action, ready: false });
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        this.#pending[0]!.ready = true;
        this.#pump();
      }, action.ms);
      this.#timers.add(timer);
      return;
    }
    if (action instanceof CloseAction) {
      this.#closing = true;
      this.#pending.length = 0;
      if (action.reset) {
        this.#socket.resetAndDestroy();
      } else if (action.bytes !== undefined) {
        this.#socket.end(action.bytes);
      } else {
        this.#socket.end();
      }
      return;
    }
    this.repliesWritten++;
    if (Buffer.isBuffer(action)) this.#socket.write(action);
    else if (action instanceof BulkAction) this.#socket.write(encodeReply(action.bytes, this.protocol));
    else if (action instanceof RawFrame) this.#socket.write(action.bytes);
    else this.#socket.write(encodeReply(action, this.protocol));
  }
}

// ── the server ──────────────────────────────────────────────────────────────────────────

const started = new Set<FakeServer>();

/**
 * Guards a fake's commands before its handlers (a FakeCluster answers MOVED for keys of
 * other nodes); undefined lets the command through.
 */
export type Guard = (command: ReceivedCommand) => Action | undefined;

export interface FakeServerEvents {
  connection: [connection: FakeConnection];
  command: [command: ReceivedCommand];
}

/**
 * A fake Redis node. Starts with handlers for PING, ECHO, HELLO, AUTH, CLIENT, SELECT,
 * READONLY, READWRITE, ASKING, QUIT and a small key space (GET, SET, DEL, EXISTS, INCR);
 * `handle()` replaces any of them.
 *
 * @example
 * const fake = await startFakeServer();
 * fake.handle("GET", sequence(error("LOADING Redis is loading the dataset in memory"), "v"));
 * const connection = new Connection({ host: fake.host, port: fake.port });
 * await connection.command("GET", "k"); // "v" after a LOADING
 */
export class FakeServer extends EventEmitter<FakeServerEvents> {
  /** 127.0.0.1 unless started on another loopback address. */
  readonly host: string;
  readonly port: number;
  /** Every connection accepted, in order. */
  readonly connections: FakeConnection[] = [];
  /** Every command received, on any connection, in order. */
  readonly commands: ReceivedCommand[] = [];
  /** The key space of the default GET/SET/DEL/EXISTS/INCR handlers. */
  readonly store = new Map<string, Buffer>();
  /** Checked before the handlers (see {@link Guard}). */
  guard: Guard | undefined;

  readonly #server: Server;
  readonly #scripted = new Map<string, Handler>();
  readonly #defaults = new Map<string, Handler>();

  private constructor(server: Server, host: string, port: number) {
    super();
    this.#server = server;
    this.host = host;
    this.port = port;
    server.on("connection", (socket) => {
      const connection = new FakeConnection(this, socket, this.connections.length + 1);
      this.connections.push(connection);
      this.emit("connection", connection);
    });
    installBaseHandlers(this);
  }

  /**
   * Starts a fake on 127.0.0.1 (a free port unless one is given), or on another loopback
   * address such as 127.0.0.2 (a host outside what the client was given).
   */
  static async start(port = 0, host = "127.0.0.1"): Promise<FakeServer> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("the fake has no port");
    const fake = new FakeServer(server, host, address.port);
    started.add(fake);
    return fake;
  }

  /** `127.0.0.1:<port>` */
  get address(): string {
    return `${this.host}:${this.port}`;
  }

  /**
   * Scripts the answer to a command: `name` is `"GET"`, or `"CLUSTER SHARDS"` for one
   * subcommand. A value that is not a function is the answer to every call.
   */
  handle(name: string, handler: Handler | Action): this {
    this.#scripted.set(
      name.toUpperCase(),
      typeof handler === "function" ? (handler as Handler) : () => handler,
    );
    return this;
  }

  /** Removes a scripted answer (the default, if any, applies again). */
  unhandle(name: string): this {
    this.#scripted.delete(name.toUpperCase());
    return this;
  }

  /** Sets a default answer (what a FakeCluster installs; `handle()` still wins). */
  setDefault(name: string, handler: Handler): this {
    this.#defaults.set(name.toUpperCase(), handler);
    return this;
  }

  /** Commands received so far named `name` (`"GET"`, or `"CLUSTER SHARDS"`). */
  received(name: string): ReceivedCommand[] {
    const [head, sub] = name.toUpperCase().split(" ");
    return this.commands.filter(
      (command) => command.name === head && (sub === undefined || command.argv[0]?.toUpperCase() === sub),
    );
  }

  /** How many commands named `name` were received. */
  count(name: string): number {
    return this.received(name).length;
  }

  /** Forgets what was received (the connections stay open). */
  clearRecords(): void {
    this.commands.length = 0;
  }

  /** Resolves with the next connection accepted. */
  async nextConnection(): Promise<FakeConnection> {
    const [connection] = await once(this, "connection");
    return connection as FakeConnection;
  }

  /** Stops listening and destroys every connection. */
  async close(): Promise<void> {
    started.delete(this);
    for (const connection of this.connections) connection.destroy();
    if (!this.#server.listening) return;
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** @internal FakeConnection */
  record(command: ReceivedCommand): void {
    this.commands.push(command);
    this.emit("command", command);
  }

  /** @internal FakeConnection: guard, then scripted, then default handler. */
  actionFor(command: ReceivedCommand): Action {
    const guarded = this.guard?.(command);
    if (guarded !== undefined) return guarded;
    const sub = command.argv[0]?.toUpperCase();
    const key = sub === undefined ? undefined : `${command.name} ${sub}`;
    const handler =
      (key && this.#scripted.get(key)) ??
      this.#scripted.get(command.name) ??
      (key && this.#defaults.get(key)) ??
      this.#defaults.get(command.name);
    if (handler) return handler(command);
    return error(`ERR unknown command '${command.name}'`);
  }
}

/** Starts a fake server; see {@link FakeServer}. */
export function startFakeServer(port = 0, host = "127.0.0.1"): Promise<FakeServer> {
  return FakeServer.start(port, host);
}

/** Closes every fake started (and not closed yet): call it in afterEach. */
export async function closeAllFakes(): Promise<void> {
  await Promise.all([...started].map((fake) => fake.close()));
}

let nextClientId = 1;

function installBaseHandlers(fake: FakeServer): void {
  const ok = () => OK;
  fake.setDefault("PING", (command) => {
    const message = command.args[0];
    return message === undefined ? new SimpleString("PONG") : bulk(message);
  });
  fake.setDefault("ECHO", (command) => {
    const message = command.args[0];
    return message === undefined ? error("ERR wrong number of arguments for 'echo'") : bulk(message);
  });
  fake.setDefault("HELLO", (command) => {
    const version = command.argv[0];
    if (version === "3") command.connection.protocol = 3;
    else if (version === "2") command.connection.protocol = 2;
    return {
      server: "redis",
      version: "7.0.15",
      proto: command.connection.protocol,
      id: nextClientId++,
      mode: "cluster",
      role: "master",
      modules: [],
    };
  });
  for (const name of ["AUTH", "SELECT", "READONLY", "READWRITE", "ASKING", "CLIENT"])
    fake.setDefault(name, ok);
  fake.setDefault("QUIT", () => close("+OK\r\n"));
  fake.setDefault("GET", (command) => {
    const value = fake.store.get(command.argv[0] ?? "");
    return value === undefined ? null : bulk(value);
  });
  fake.setDefault("SET", (command) => {
    const [key, value] = command.args;
    if (key === undefined || value === undefined) return error("ERR wrong number of arguments for 'set'");
    fake.store.set(key.toString(), value);
    return OK;
  });
  fake.setDefault("DEL", (command) => command.argv.filter((key) => fake.store.delete(key)).length);
  fake.setDefault("EXISTS", (command) => command.argv.filter((key) => fake.store.has(key)).length);
  fake.setDefault("INCR", (command) => {
    const key = command.argv[0] ?? "";
    const next = Number(fake.store.get(key)?.toString() ?? "0") + 1;
    fake.store.set(key, Buffer.from(String(next)));
    return next;
  });
}

// ── a cluster of fakes ──────────────────────────────────────────────────────────────────

/** How a node appears in a `CLUSTER SHARDS` / `CLUSTER SLOTS` reply. */
export interface FakeNodeInfo {
  id: string;
  port: number;
  /** The `endpoint` field: `""`, `"?"` and `null` are the spec's unknown endpoints. */
  endpoint: string | null;
  ip: string;
  role: "master" | "replica";
  health?: "online" | "failed" | "loading";
  /** The `hostname` field (`cluster-announce-hostname`); left out when undefined. */
  hostname?: string;
  /** The `availability-zone` field (newer Valkey); left out when undefined. */
  availabilityZone?: string;
}

/** One shard as a topology reply describes it. */
export interface FakeShard {
  /** Inclusive slot ranges. */
  ranges: Array<[number, number]>;
  /** The primary first, then its replicas. */
  nodes: FakeNodeInfo[];
}

/**
 * A `CLUSTER SHARDS` reply describing `shards` (a map per shard and per node; RESP2 gets
 * flat field/value arrays, as Redis sends them).
 */
export function clusterShardsReply(shards: readonly FakeShard[]): EncodableReply {
  return shards.map((shard) => ({
    slots: shard.ranges.flat(),
    nodes: shard.nodes.map((node) => ({
      id: node.id,
      port: node.port,
      ip: node.ip,
      endpoint: node.endpoint,
      role: node.role,
      "replication-offset": 100,
      health: node.health ?? "online",
      ...(node.hostname === undefined ? {} : { hostname: node.hostname }),
      ...(node.availabilityZone === undefined ? {} : { "availability-zone": node.availabilityZone }),
    })),
  }));
}

/** A `CLUSTER SLOTS` reply describing `shards` (one entry per slot range). */
export function clusterSlotsReply(shards: readonly FakeShard[]): EncodableReply {
  const entries: EncodableReply[] = [];
  for (const shard of shards) {
    for (const [start, end] of shard.ranges) {
      entries.push([
        start,
        end,
        // Redis 7 adds a map of metadata (hostname) to each node that has any.
        ...shard.nodes.map((node) =>
          node.hostname === undefined
            ? [node.endpoint, node.port, node.id]
            : [node.endpoint, node.port, node.id, { hostname: node.hostname }],
        ),
      ]);
    }
  }
  return entries;
}

/** Commands whose first argument is their key (enough for the fakes' routing guard). */
const FIRST_ARG_IS_KEY = new Set([
  "GET",
  "SET",
  "DEL",
  "EXISTS",
  "INCR",
  "DECR",
  "GETSET",
  "APPEND",
  "STRLEN",
  "TYPE",
  "TTL",
  "EXPIRE",
  "HGET",
  "HSET",
  "HGETALL",
  "LPUSH",
  "RPUSH",
  "LRANGE",
  "SADD",
  "ZADD",
  "ZSCORE",
]);

/**
 * Several fakes acting as one cluster, sharing one mutable slot table (`owners`): each
 * answers `CLUSTER SHARDS`, `CLUSTER SLOTS`, `CLUSTER INFO` and `CLUSTER MYID` from it, and
 * `MOVED` for a key whose slot another node owns (`CLUSTERDOWN` for an unowned slot),
 * except right after `ASKING`. Change the table (`assign`) to move slots; script single
 * nodes with `handle()` for anything else.
 *
 * @example
 * const cluster = await FakeCluster.start(3); // slots split evenly
 * cluster.assign(0, 5460, 1);                 // node 1 now owns node 0's slots
 * new RedisCluster({ nodes: cluster.seeds }); // gets MOVED for them, then refreshes
 */
export class FakeCluster {
  readonly nodes: FakeServer[];
  /** Index into `nodes` of the owner of each slot; -1 when nobody serves it. */
  readonly owners: Int16Array;
  /**
   * How each node announces itself in topology replies and in MOVED (edit to test odd
   * endpoints, or an announced port that only a natMap turns into the real one).
   */
  readonly info: Map<FakeServer, FakeNodeInfo>;
  /** False turns the MOVED guard off on every node. */
  routing = true;

  private constructor(nodes: FakeServer[]) {
    this.nodes = nodes;
    this.owners = new Int16Array(SLOT_COUNT).fill(-1);
    this.info = new Map(
      nodes.map((node, index) => [
        node,
        {
          id: (index + 1).toString(16).padStart(40, "0"),
          port: node.port,
          endpoint: node.host,
          ip: node.host,
          role: "master",
        },
      ]),
    );
    const per = Math.ceil(SLOT_COUNT / nodes.length);
    for (let index = 0; index < nodes.length; index++) {
      this.assign(index * per, Math.min(SLOT_COUNT, (index + 1) * per) - 1, index);
    }
    for (const node of nodes) {
      node.guard = (command) => this.#route(node, command);
      node.setDefault("CLUSTER SHARDS", () => clusterShardsReply(this.shards()));
      node.setDefault("CLUSTER SLOTS", () => clusterSlotsReply(this.shards()));
      node.setDefault("CLUSTER MYID", () => this.info.get(node)!.id);
      node.setDefault("CLUSTER INFO", () => this.#clusterInfo());
    }
  }

  /** Starts `count` fakes, each owning an equal share of the slots. */
  static async start(count: number): Promise<FakeCluster> {
    const nodes = await Promise.all(Array.from({ length: count }, () => FakeServer.start()));
    return new FakeCluster(nodes);
  }

  /** `127.0.0.1:<port>` of every node: the client's seeds. */
  get seeds(): string[] {
    return this.nodes.map((node) => node.address);
  }

  /** Gives slots `start..end` (inclusive) to node `index` (-1: nobody). */
  assign(start: number, end: number, index: number): void {
    this.owners.fill(index, start, end + 1);
  }

  /** The node owning `slot`, if any. */
  ownerOf(slot: number): FakeServer | undefined {
    const index = this.owners[slot]!;
    return index < 0 ? undefined : this.nodes[index];
  }

  /** The node owning `key`'s slot. */
  ownerOfKey(key: string): FakeServer {
    const owner = this.ownerOf(keySlot(key));
    if (owner === undefined) throw new Error(`nobody owns the slot of ${key}`);
    return owner;
  }

  /** The topology as the table says: one shard per node that owns slots. */
  shards(): FakeShard[] {
    const ranges = this.nodes.map((): Array<[number, number]> => []);
    let start = 0;
    for (let slot = 1; slot <= SLOT_COUNT; slot++) {
      if (slot < SLOT_COUNT && this.owners[slot] === this.owners[start]) continue;
      const owner = this.owners[start]!;
      if (owner >= 0) ranges[owner]!.push([start, slot - 1]);
      start = slot;
    }
    return this.nodes.flatMap((node, index) =>
      ranges[index]!.length === 0 ? [] : [{ ranges: ranges[index]!, nodes: [this.info.get(node)!] }],
    );
  }

  /** Total commands named `name` received by every node. */
  count(name: string): number {
    return this.nodes.reduce((sum, node) => sum + node.count(name), 0);
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.close()));
  }

  #route(node: FakeServer, command: ReceivedCommand): Action | undefined {
    if (!this.routing || !FIRST_ARG_IS_KEY.has(command.name)) return undefined;
    const key = command.args[0];
    if (key === undefined || command.previous?.name === "ASKING") return undefined;
    const slot = keySlot(key);
    const owner = this.ownerOf(slot);
    if (owner === undefined) return error(`CLUSTERDOWN Hash slot not served`);
    if (owner === node) return undefined;
    // Redirections name the owner as it announces itself, as a real node does.
    const announced = this.info.get(owner)!;
    return error(`MOVED ${slot} ${announced.endpoint ?? ""}:${announced.port}`);
  }

  #clusterInfo(): string {
    const served = this.owners.reduce((count, owner) => count + (owner >= 0 ? 1 : 0), 0);
    return [
      `cluster_state:${served === SLOT_COUNT ? "ok" : "fail"}`,
      `cluster_slots_assigned:${served}`,
      `cluster_known_nodes:${this.nodes.length}`,
      `cluster_size:${this.shards().length}`,
      "cluster_current_epoch:1",
      "",
    ].join("\r\n");
  }
}
