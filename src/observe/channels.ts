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
 *   rediscluster:connect   (TracingChannel)  one per socket opened, until its handshake is done
 *   rediscluster:connection:ready | :closed | :error     (channels) a connection's life
 *   rediscluster:topology                                 (channel)  a new topology installed
 *   rediscluster:maintenance                              (channel)  a maintenance notification
 * ```
 *
 * The order of a tracing channel's events is the one `TracingChannel#tracePromise` gives,
 * which ioredis (`ioredis:command`) and node-redis (`node-redis:command`) use, and the
 * context objects carry the fields they carry (`command`, `database`, `serverAddress`,
 * `serverPort`, `error`), so a tracer written for one consumes these the same way — except
 * `args`: argument values (keys included) are never published, and neither are replies
 * (`result`). What is added: `slot`, `attempts`, `redirections`.
 *
 * Cost when nobody listens: one check of the five sub-channels' `hasSubscribers` per command
 * dispatched and one field test when it settles; no object is allocated. The context of a
 * command is made only when a subscriber exists at its first dispatch.
 */
import { channel, tracingChannel } from "node:diagnostics_channel";
import type { RedisClusterError } from "../errors.js";

/** The names of every channel this client publishes on. */
export const CHANNELS = Object.freeze({
  /** TracingChannel: each command sent to a node, from its first dispatch until it settles. */
  command: "rediscluster:command",
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
  /** For a transaction: how many commands ran between MULTI and EXEC. */
  batchSize: number | undefined;
  /** The error it ended with; set before `error` is published. */
  error?: Error;
}

/** The context object of `rediscluster:connect`. */
export interface ConnectTraceContext {
  /** Host connected to (after `natMap`). */
  serverAddress: string;
  serverPort: number;
  /** `host:port` (IPv6 in brackets), as events and errors name the node. */
  address: string;
  tls: boolean;
  /** Why the connection failed; set before `error` is published. */
  error?: RedisClusterError;
}

/** Message of `rediscluster:connection:ready`. */
export interface ConnectionReadyMessage {
  serverAddress: string;
  serverPort: number;
  address: string;
}

/** Message of `rediscluster:connection:closed`. */
export interface ConnectionClosedMessage {
  serverAddress: string;
  serverPort: number;
  address: string;
  /** `"closed"`: the client closed it; `"idle"`: `idleTimeout`; `"error"`: it failed (see `error`). */
  reason: "closed" | "idle" | "error";
  error: RedisClusterError | undefined;
}

/** Message of `rediscluster:connection:error`. */
export interface ConnectionErrorMessage {
  serverAddress: string;
  serverPort: number;
  address: string;
  error: RedisClusterError;
}

/** Message of `rediscluster:topology`. */
export interface TopologyMessage {
  /** True for the client's first topology (the `ready` event). */
  initial: boolean;
  shards: number;
  nodes: number;
  /** Slots whose primary changed (or became served / unserved). */
  slotsMoved: number;
  nodesAdded: readonly string[];
  nodesRemoved: readonly string[];
  rolesChanged: ReadonlyArray<{ address: string; from: string; to: string }>;
}

const commandTracing = tracingChannel<CommandTraceContext>(CHANNELS.command);
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

/** What a command trace reads from its command (command/command.ts's Command). */
export interface TracedCommand {
  readonly displayName: string;
  readonly slot: number;
  readonly attempts: number;
  readonly redirections: number;
  readonly unit: unknown;
  trace: CommandTrace | undefined;
}

/**
 * One command's trace: the context published on `rediscluster:command`. Its settle is held
 * back while its first dispatch runs, so that `end` always comes before `asyncStart` (a
 * command can fail synchronously, e.g. after `close()`).
 */
export class CommandTrace implements CommandTraceContext {
  command: string;
  database = 0;
  serverAddress: string | undefined = undefined;
  serverPort: number | undefined = undefined;
  slot: number | undefined;
  attempts = 0;
  redirections = 0;
  batchSize: number | undefined;
  error?: Error;
  #dispatching = true;
  #settledWhileDispatching = false;

  constructor(command: TracedCommand, batchSize: number | undefined) {
    this.command = batchSize === undefined ? command.displayName : "MULTI";
    this.slot = command.slot >= 0 ? command.slot : undefined;
    this.batchSize = batchSize;
  }

  /** A node got the command (each attempt). */
  sentTo(host: string, port: number): void {
    this.serverAddress = host;
    this.serverPort = port;
  }

  /** @internal The first dispatch returned. */
  dispatched(): void {
    commandEnd.publish(this);
    this.#dispatching = false;
    if (this.#settledWhileDispatching) this.#publishSettled();
  }

  /** @internal The command settled (`error` when it failed). */
  settled(command: TracedCommand, error: Error | undefined): void {
    this.attempts = command.attempts;
    this.redirections = command.redirections;
    if (this.batchSize === undefined) this.command = command.displayName;
    if (error !== undefined) this.error = error;
    if (this.#dispatching) this.#settledWhileDispatching = true;
    else this.#publishSettled();
  }

  #publishSettled(): void {
    if (this.error !== undefined) commandError.publish(this);
    commandAsyncStart.publish(this);
    commandAsyncEnd.publish(this);
  }
}

/**
 * Starts the trace of `command` and runs its first dispatch inside `start` (with the stores
 * bound to it: a tracer's AsyncLocalStorage sees the command's span during the dispatch, so
 * the parts of a fan-out dispatched there nest under it), then publishes `end`.
 *
 * @example
 * if (command.trace === undefined && tracingCommands()) traceDispatch(command, batchSize, route, this);
 */
export function traceDispatch<T extends TracedCommand, This>(
  command: T,
  batchSize: number | undefined,
  dispatch: (this: This, command: T) => void,
  thisArg: This,
): void {
  const trace = new CommandTrace(command, batchSize);
  command.trace = trace;
  try {
    commandStart.runStores(trace, dispatch, thisArg, command);
  } finally {
    trace.dispatched();
  }
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
