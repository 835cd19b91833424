/**
 * Node's `diagnostics_channel` channels this client publishes on, for tracers and metrics
 * (OpenTelemetry and the like) that need no code in this package.
 *
 * ```
 *   rediscluster:command   (TracingChannel)  one per command sent to a node
 *     start ─► [routed, handed to a connection, synchronously] ─► end
 *       … the command waits, is retried, redirected …
 *     [error] ─► asyncStart ─► asyncEnd       when it settles (error first when it failed)
 *
 *   rediscluster:batch     (TracingChannel)  one per pipeline exec() (its commands are traced
 *                                            on rediscluster:command too) and per transaction
 *   rediscluster:connect   (TracingChannel)  one per socket opened, until its handshake is done
 *   rediscluster:connection:ready | :closed | :error     (channels) a connection's life
 *   rediscluster:topology                                 (channel)  a new topology installed
 *   rediscluster:maintenance                              (channel)  a maintenance notification
 * ```
 *
 * The order of a tracing channel's events is the one `TracingChannel#tracePromise` gives,
 * which ioredis (`ioredis:command`, `ioredis:batch`) and node-redis (`node-redis:command`,
 * `node-redis:batch`) use, and the context objects carry the fields they carry (`command`,
 * `database`, `serverAddress`, `serverPort`, `batchMode`, `batchSize`, `error`), so a tracer
 * written for one consumes these the same way — except `args`: argument values (keys
 * included) are never published, and neither are replies (`result`). What is added: `slot`,
 * `attempts`, `redirections`, and `batch` (a pipeline command's batch context, to nest its
 * span under the batch's).
 *
 * Cost when nobody listens: one check of the five sub-channels' `hasSubscribers` per command
 * dispatched (and per pipeline) and one field test when it settles; no object is allocated.
 * The context of a command is made only when a subscriber exists at its first dispatch.
 */
import { channel, type TracingChannel, tracingChannel } from "node:diagnostics_channel";
import type { RoleChange } from "../cluster/topology.js";
import type { RedisClusterError } from "../errors.js";

/** The names of every channel this client publishes on. */
export const CHANNELS = Object.freeze({
  /** TracingChannel: each command sent to a node, from its first dispatch until it settles. */
  command: "rediscluster:command",
  /** TracingChannel: each pipeline `exec()` and each transaction (`multi().exec()`). */
  batch: "rediscluster:batch",
  /** TracingChannel: each socket opened, until its handshake succeeded or it failed. */
  connect: "rediscluster:connect",
  /** A connection finished its handshake and takes commands. */
  connectionReady: "rediscluster:connection:ready",
  /** A connection's socket closed (asked for, idle, or failed). */
  connectionClosed: "rediscluster:connection:closed",
  /** A connection failed to open or broke. */
  connectionError: "rediscluster:connection:error",
  /** A topology was installed (the first one, or a refresh that changed something). */
  topology: "rediscluster:topology",
  /** A maintenance notification arrived (RESP3 push from a managed service). */
  maintenance: "rediscluster:maintenance",
});

/**
 * The context object of `rediscluster:command`: the same object for each of the command's
 * events, filled in as it goes. Never holds an argument value or a reply.
 */
export interface CommandTraceContext {
  /**
   * The command as sent, upper case, with its subcommand: `"GET"`, `"CLUSTER SHARDS"`,
   * `"EVALSHA"` (a script sent as EVAL where the node lacked it says `"EVAL"`); a transaction
   * is `"MULTI"`.
   */
  command: string;
  /** Always 0: a cluster has one database (the field ioredis and node-redis publish). */
  database: number;
  /** Host of the node it was (last) sent to; undefined until it is sent (e.g. waiting for a topology). */
  serverAddress: string | undefined;
  /** Port of that node. */
  serverPort: number | undefined;
  /** The hash slot of its keys; undefined for a command without keys. */
  slot: number | undefined;
  /** Times it was handed to a connection (retries and redirections included). */
  attempts: number;
  /** MOVED and ASK redirections it followed. */
  redirections: number;
  /** `"PIPELINE"` for a command of a pipeline (node-redis's field); undefined otherwise. */
  batchMode: "PIPELINE" | undefined;
  /** For a command of a pipeline: how many commands the pipeline has. */
  batchSize: number | undefined;
  /** For a command of a pipeline: the pipeline's `rediscluster:batch` context (its parent). */
  batch: BatchTraceContext | undefined;
  /** The error it ended with; set before `error` is published. */
  error?: Error;
}

/**
 * The context object of `rediscluster:batch`: a pipeline (`batchMode: "PIPELINE"`, from its
 * `exec()` until every result is in; its commands go to their own nodes and are traced on
 * `rediscluster:command`, with this object as their `batch`) or a transaction (`"MULTI"`: one
 * unit on one node, not traced on `rediscluster:command`).
 */
export interface BatchTraceContext {
  /** `"PIPELINE"` for `cluster.pipeline()`, `"MULTI"` for a transaction. */
  batchMode: "PIPELINE" | "MULTI";
  /** Commands in it (a transaction's, MULTI and EXEC not counted). */
  batchSize: number;
  /** Always 0 (a cluster has one database). */
  database: number;
  /** A transaction: the node it was (last) sent to. A pipeline: undefined (it spans nodes). */
  serverAddress: string | undefined;
  /** A transaction: the port of that node. A pipeline: undefined. */
  serverPort: number | undefined;
  /** A transaction: the slot of its keys. */
  slot: number | undefined;
  /** A transaction: times it was sent. */
  attempts: number;
  /** A transaction: MOVED/ASK redirections followed. */
  redirections: number;
  /**
   * A transaction: why it failed (`EXECABORT`, a `WatchConflictError`, a timeout...). A
   * pipeline never fails as a whole: each result is its command's reply or error.
   */
  error?: Error;
}

/** The context object of `rediscluster:connect`. */
export interface ConnectTraceContext {
  /** Host connected to (after `natMap`). */
  serverAddress: string;
  /** Port connected to (after `natMap`). */
  serverPort: number;
  /** `host:port` (IPv6 in brackets), as events and errors name the node. */
  address: string;
  /** Whether the connection uses TLS. */
  tls: boolean;
  /** Why the connection failed; set before `error` is published. */
  error?: RedisClusterError;
}

/** Message of `rediscluster:connection:ready`. */
export interface ConnectionReadyMessage {
  /** Host of the node (after `natMap`). */
  serverAddress: string;
  /** Port of the node (after `natMap`). */
  serverPort: number;
  /** `host:port` (IPv6 in brackets), as events and errors name the node. */
  address: string;
}

/** Message of `rediscluster:connection:closed`. */
export interface ConnectionClosedMessage {
  /** Host of the node (after `natMap`). */
  serverAddress: string;
  /** Port of the node (after `natMap`). */
  serverPort: number;
  /** `host:port` (IPv6 in brackets), as events and errors name the node. */
  address: string;
  /** `"closed"`: the client closed it; `"idle"`: `idleTimeout`; `"error"`: it failed (see `error`). */
  reason: "closed" | "idle" | "error";
  /** Why it failed (`reason: "error"`); undefined otherwise. */
  error: RedisClusterError | undefined;
}

/** Message of `rediscluster:connection:error`. */
export interface ConnectionErrorMessage {
  /** Host of the node (after `natMap`). */
  serverAddress: string;
  /** Port of the node (after `natMap`). */
  serverPort: number;
  /** `host:port` (IPv6 in brackets), as events and errors name the node. */
  address: string;
  /** What failed: the connection attempt, the handshake, or the socket. */
  error: RedisClusterError;
}

/** Message of `rediscluster:topology`. */
export interface TopologyMessage {
  /** True for the client's first topology (the `ready` event). */
  initial: boolean;
  /** Shards (primaries with their replicas) in the new topology. */
  shards: number;
  /** Nodes, primaries and replicas, in the new topology. */
  nodes: number;
  /** Slots whose primary changed (or became served / unserved). */
  slotsMoved: number;
  /** `host:port` of the nodes that joined. */
  nodesAdded: readonly string[];
  /** `host:port` of the nodes that left. */
  nodesRemoved: readonly string[];
  /** Nodes whose role changed (a failover: `"replica"` → `"primary"`, and back for the old one). */
  rolesChanged: readonly RoleChange[];
}

const commandTracing = tracingChannel<CommandTraceContext>(CHANNELS.command);
const batchTracing = tracingChannel<BatchTraceContext>(CHANNELS.batch);
const connectTracing = tracingChannel<ConnectTraceContext>(CHANNELS.connect);
// The sub-channels, held here: their `hasSubscribers` is the whole cost when nobody listens.
const commandStart = commandTracing.start;
const commandEnd = commandTracing.end;
const commandAsyncStart = commandTracing.asyncStart;
const commandAsyncEnd = commandTracing.asyncEnd;
const commandError = commandTracing.error;
const connectionReady = channel(CHANNELS.connectionReady);
const connectionClosed = channel(CHANNELS.connectionClosed);
const connectionError = channel(CHANNELS.connectionError);
const topology = channel(CHANNELS.topology);
const maintenance = channel(CHANNELS.maintenance);

/** True when someone listens to `rediscluster:command` (any of its five events). */
export function tracingCommands(): boolean {
  return (
    commandStart.hasSubscribers ||
    commandEnd.hasSubscribers ||
    commandAsyncStart.hasSubscribers ||
    commandAsyncEnd.hasSubscribers ||
    commandError.hasSubscribers
  );
}

/** True when someone listens to `rediscluster:batch`. */
export function tracingBatches(): boolean {
  return (
    batchTracing.start.hasSubscribers ||
    batchTracing.end.hasSubscribers ||
    batchTracing.asyncStart.hasSubscribers ||
    batchTracing.asyncEnd.hasSubscribers ||
    batchTracing.error.hasSubscribers
  );
}

/** What a command trace reads from its command (command/command.ts's Command). */
export interface TracedCommand {
  readonly displayName: string;
  readonly slot: number;
  readonly attempts: number;
  readonly redirections: number;
  trace: CommandTrace | undefined;
}

/**
 * The tracing channel a trace publishes on: `rediscluster:command`, or `rediscluster:batch`
 * for a transaction (typed loosely: each publishes the context it documents).
 */
type TraceEvents = TracingChannel<unknown, object>;
const COMMAND_EVENTS = commandTracing as unknown as TraceEvents;
const BATCH_EVENTS = batchTracing as unknown as TraceEvents;

/**
 * One command's trace: the context published on `rediscluster:command` (a transaction's on
 * `rediscluster:batch`). Its settle is held back while its first dispatch runs, so that `end`
 * always comes before `asyncStart` (a command can fail synchronously, e.g. after `close()`).
 */
export class CommandTrace {
  command: string;
  database = 0;
  serverAddress: string | undefined = undefined;
  serverPort: number | undefined = undefined;
  slot: number | undefined;
  attempts = 0;
  redirections = 0;
  /** `"PIPELINE"` for a pipeline's command; `"MULTI"` for a transaction (on `rediscluster:batch`). */
  batchMode: "PIPELINE" | "MULTI" | undefined;
  batchSize: number | undefined;
  batch: BatchTraceContext | undefined;
  error?: Error;
  /** Its `start` was published (a pipeline makes traces before their first dispatch). */
  started = false;
  readonly #events: TraceEvents;
  #dispatching = true;
  #settledWhileDispatching = false;

  /**
   * `unitSize`: a transaction's command count (it is traced as a batch); `batch`: the
   * pipeline it belongs to.
   */
  constructor(command: TracedCommand, unitSize: number | undefined, batch: PipelineTrace | undefined) {
    this.command = unitSize === undefined ? command.displayName : "MULTI";
    this.slot = command.slot >= 0 ? command.slot : undefined;
    this.#events = unitSize === undefined ? COMMAND_EVENTS : BATCH_EVENTS;
    if (unitSize !== undefined) {
      this.batchMode = "MULTI";
      this.batchSize = unitSize;
    } else if (batch !== undefined) {
      this.batchMode = "PIPELINE";
      this.batchSize = batch.batchSize;
      this.batch = batch;
    }
  }

  /** A node got the command (each attempt). */
  sentTo(host: string, port: number): void {
    this.serverAddress = host;
    this.serverPort = port;
  }

  /** @internal Publishes `start` and runs the first dispatch in it (stores bound). */
  run<T, This>(dispatch: (this: This, command: T) => void, thisArg: This, command: T): void {
    this.started = true;
    try {
      this.#events.start.runStores(this, dispatch, thisArg, command);
    } finally {
      this.#events.end.publish(this);
      this.#dispatching = false;
      if (this.#settledWhileDispatching) this.#publishSettled();
    }
  }

  /** @internal The command settled (`error` when it failed). */
  settled(command: TracedCommand, error: Error | undefined): void {
    if (!this.started) return; // made by a pipeline, never dispatched as itself (a fan-out)
    this.attempts = command.attempts;
    this.redirections = command.redirections;
    if (this.#events === COMMAND_EVENTS) this.command = command.displayName;
    if (error !== undefined) this.error = error;
    if (this.#dispatching) this.#settledWhileDispatching = true;
    else this.#publishSettled();
  }

  #publishSettled(): void {
    if (this.error !== undefined) this.#events.error.publish(this);
    this.#events.asyncStart.publish(this);
    this.#events.asyncEnd.publish(this);
  }
}

/**
 * Starts the trace of `command` (unless it has one already started) and runs its first
 * dispatch inside `start`, with the stores bound to it: a tracer's AsyncLocalStorage sees the
 * command's span during the dispatch, so the parts of a fan-out dispatched there nest under
 * it. Then publishes `end`.
 *
 * @example
 * if (command.attempts === 0 && tracingCommands()) traceDispatch(command, command.unit?.size, route, this);
 */
export function traceDispatch<T extends TracedCommand, This>(
  command: T,
  unitSize: number | undefined,
  dispatch: (this: This, command: T) => void,
  thisArg: This,
): void {
  let trace = command.trace;
  if (trace === undefined) {
    trace = new CommandTrace(command, unitSize, undefined);
    command.trace = trace;
  }
  trace.run(dispatch, thisArg, command);
}

/** A pipeline's `rediscluster:batch` context. */
export class PipelineTrace implements BatchTraceContext {
  readonly batchMode = "PIPELINE" as const;
  readonly batchSize: number;
  readonly database = 0;
  readonly serverAddress = undefined;
  readonly serverPort = undefined;
  readonly slot = undefined;
  readonly attempts = 0;
  readonly redirections = 0;
  #batchTraced: boolean;
  /** Until `end` is published, settling waits (every command may fail as it is queued). */
  #ended = false;
  #settledEarly = false;

  constructor(batchSize: number, batchTraced: boolean) {
    this.batchSize = batchSize;
    this.#batchTraced = batchTraced;
  }

  /**
   * Publishes `start`, runs `send` in it (stores bound: the commands' spans nest under the
   * pipeline's), then `end`.
   */
  run(send: () => void): void {
    if (!this.#batchTraced) {
      send();
      return;
    }
    try {
      batchTracing.start.runStores(this, send);
    } finally {
      batchTracing.end.publish(this);
      this.#ended = true;
      if (this.#settledEarly) this.settled();
    }
  }

  /** Every result is in (each entry is its command's reply or error: the batch fails not). */
  settled(): void {
    if (!this.#batchTraced) return;
    if (!this.#ended) {
      this.#settledEarly = true;
      return;
    }
    batchTracing.asyncStart.publish(this);
    batchTracing.asyncEnd.publish(this);
  }

  /** A trace for one of its commands, published when that command is first dispatched. */
  commandTrace(command: TracedCommand): CommandTrace | undefined {
    return tracingCommands() ? new CommandTrace(command, undefined, this) : undefined;
  }
}

/**
 * The trace of a pipeline of `size` commands, or undefined when nobody listens to
 * `rediscluster:batch` nor `rediscluster:command`.
 */
export function startPipelineTrace(size: number): PipelineTrace | undefined {
  const batchTraced = tracingBatches();
  if (!batchTraced && !tracingCommands()) return undefined;
  return new PipelineTrace(size, batchTraced);
}

/**
 * A connection attempt's trace, or undefined when nobody listens to `rediscluster:connect`.
 * Publishes `start` and `end` (the socket is opening); `finishConnect` publishes the rest.
 */
export function startConnectTrace(
  host: string,
  port: number,
  address: string,
  tls: boolean,
): ConnectTraceContext | undefined {
  if (!connectTracing.hasSubscribers) return undefined;
  const context: ConnectTraceContext = { serverAddress: host, serverPort: port, address, tls };
  connectTracing.start.publish(context);
  connectTracing.end.publish(context);
  return context;
}

/** The connection attempt is over: ready (`error` undefined) or failed. */
export function finishConnect(context: ConnectTraceContext, error: RedisClusterError | undefined): void {
  if (error !== undefined) {
    context.error = error;
    connectTracing.error.publish(context);
  }
  connectTracing.asyncStart.publish(context);
  connectTracing.asyncEnd.publish(context);
}

/** Publishes `rediscluster:connection:ready` if anyone listens. */
export function publishConnectionReady(host: string, port: number, address: string): void {
  if (!connectionReady.hasSubscribers) return;
  connectionReady.publish({
    serverAddress: host,
    serverPort: port,
    address,
  } satisfies ConnectionReadyMessage);
}

/** Publishes `rediscluster:connection:closed` (and `:error` for a failure) if anyone listens. */
export function publishConnectionClosed(
  host: string,
  port: number,
  address: string,
  reason: ConnectionClosedMessage["reason"],
  error: RedisClusterError | undefined,
): void {
  if (error !== undefined && connectionError.hasSubscribers) {
    connectionError.publish({
      serverAddress: host,
      serverPort: port,
      address,
      error,
    } satisfies ConnectionErrorMessage);
  }
  if (!connectionClosed.hasSubscribers) return;
  connectionClosed.publish({
    serverAddress: host,
    serverPort: port,
    address,
    reason,
    error,
  } satisfies ConnectionClosedMessage);
}

/** Publishes `rediscluster:topology` if anyone listens (the message is made only then). */
export function publishTopology(message: () => TopologyMessage): void {
  if (topology.hasSubscribers) topology.publish(message());
}

/** Publishes `rediscluster:maintenance` if anyone listens. */
export function publishMaintenance(message: () => unknown): void {
  if (maintenance.hasSubscribers) maintenance.publish(message());
}
